"""The suite's own memory rules (tests/conftest.py): a test marked ``heavy_memory`` starts
with every compiled program released, and the resident size that triggers a release is
read from the process itself."""

import jax
import jax.numpy as jnp
import pytest

from .conftest import RELEASE_ABOVE_BYTES, _resident_bytes


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
