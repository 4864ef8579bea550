"""The suite's own memory rules (tests/conftest.py): a test marked ``heavy_memory`` starts
with every compiled program released, one marked ``reuses_programs`` is exempt from the
resident rule, and the resident size that triggers a release is read from the process
itself."""

import jax
import jax.numpy as jnp
import pytest

from .conftest import RELEASE_ABOVE_BYTES, _release_before, _resident_bytes


@jax.jit
def _double(x):
    return 2.0 * x


def test_a_program_compiled_here_stays_cached_within_the_module():
    assert float(_double(jnp.float32(1.0))) == 2.0
    assert _double._cache_size() == 1


@pytest.mark.heavy_memory
def test_a_heavy_memory_test_starts_with_every_program_released():
    # the previous test of this module (same worker, --dist loadfile) compiled one program
    assert _double._cache_size() == 0


def test_the_resident_size_is_read_from_the_process():
    rss = _resident_bytes()
    assert 10 * 2**20 < rss  # an interpreter with JAX loaded holds more than 10 MiB
    assert RELEASE_ABOVE_BYTES == 2**30


@pytest.mark.parametrize(("heavy", "reuses", "resident", "released"), [
    (True, False, 0, True), (True, True, 2 * RELEASE_ABOVE_BYTES, True),
    (False, False, RELEASE_ABOVE_BYTES + 1, True), (False, False, RELEASE_ABOVE_BYTES, False),
    (False, True, 2 * RELEASE_ABOVE_BYTES, False), (False, True, 0, False)])
def test_which_tests_start_released(heavy, reuses, resident, released):
    """heavy_memory always releases; a negative control marked reuses_programs keeps the
    programs it reruns whatever the resident size; any other test releases above the bound."""
    assert _release_before(heavy, reuses, resident) is released
