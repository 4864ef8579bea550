"""The blocked prefix count and the nonzero it serves equal jnp.cumsum and jnp.nonzero."""

import jax.numpy as jnp
import numpy as np
import pytest

from collapse_jax.core import prefix


@pytest.mark.parametrize("size", [1, 31, 32, 33, 1024, 1057, 5000])
def test_prefix_count_equals_cumsum(size):
    """The blocked prefix count equals jnp.cumsum exactly, for lengths below, at and past one
    block and one block of blocks, and at densities from sparse to full."""
    rng = np.random.default_rng(size)
    for density in (0.01, 0.5, 1.0):
        flags = (rng.random(size) < density).astype(np.int32)
        got = np.asarray(prefix.prefix_count(jnp.asarray(flags)))
        np.testing.assert_array_equal(got, np.cumsum(flags))


def test_prefix_count_past_float32_exactness_counts_with_cumsum(monkeypatch):
    """A vector longer than ``EXACT_COUNT`` (where a float32 count stops being exact) takes
    the cumsum branch, with the same counts (the limit lowered so that a short vector does)."""
    monkeypatch.setattr(prefix, "EXACT_COUNT", 8)
    flags = np.random.default_rng(1).random(100) < 0.5
    np.testing.assert_array_equal(np.asarray(prefix.prefix_count(jnp.asarray(flags))),
                                  np.cumsum(flags))


@pytest.mark.parametrize("size,slots", [(1, 1), (40, 8), (2000, 100), (300, 400)])
def test_first_true_equals_nonzero_with_a_size(size, slots):
    """Increasing indices of the first ``slots`` true entries, 0 past the last one: with
    fewer, as many and more true entries than slots, and none."""
    rng = np.random.default_rng(size)
    for density in (0.0, 0.02, 0.5, 1.0):
        flags = jnp.asarray(rng.random(size) < density)
        want = jnp.nonzero(flags, size=slots, fill_value=0)[0]
        np.testing.assert_array_equal(np.asarray(prefix.first_true(flags, slots)),
                                      np.asarray(want))
