"""The bitonic network sorts as jnp.sort does, and its column helpers are jnp's."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from collapse_jax.core import sorting


@pytest.mark.parametrize("m", [1, 2, 7, 64, 100, 129])
def test_sort_last_equals_jnp_sort(m):
    """Lengths of one, powers of two and between them, with ties, infinities and signed
    zeros among random values, in float64 and float32, with two leading axes."""
    rng = np.random.default_rng(m)
    for dtype in (np.float64, np.float32):
        x = rng.normal(size=(3, 4, m)).astype(dtype)
        x[0, 0, : m // 2] = 1.5  # ties
        x[1, 1, ::3] = np.inf
        x[2, 2, ::4] = -np.inf
        x[0, 1, ::2] = -0.0
        got = np.asarray(jax.jit(sorting.sort_last)(jnp.asarray(x)))
        np.testing.assert_array_equal(got, np.sort(x, axis=-1))


def test_past_the_network_limit_sorts_with_jnp(monkeypatch):
    monkeypatch.setattr(sorting, "NETWORK_MAX", 8)
    x = np.random.default_rng(0).normal(size=(2, 20))
    np.testing.assert_array_equal(np.asarray(sorting.sort_last(jnp.asarray(x))),
                                  np.sort(x, axis=-1))


@pytest.mark.parametrize("rows", [1, 2, 99, 100])
def test_columns_sort_and_median_are_numpys(rows):
    """``sort_columns`` is the transposed column sort, ``median_columns`` numpy's median (the
    mean of the two middle values for an even count), also under jit and vmap."""
    x = np.random.default_rng(rows).laplace(size=(5, rows, 10))
    got_sort = jax.jit(jax.vmap(sorting.sort_columns))(jnp.asarray(x))
    np.testing.assert_array_equal(np.asarray(got_sort), np.swapaxes(np.sort(x, axis=1), 1, 2))
    got_median = jax.jit(jax.vmap(sorting.median_columns))(jnp.asarray(x))
    np.testing.assert_allclose(np.asarray(got_median), np.median(x, axis=1), rtol=0,
                               atol=4 * np.finfo(np.float64).eps * np.abs(x).max())
