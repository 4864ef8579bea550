"""paradigms.bottom_k: the one accumulate-subsample pool of every kernel."""

import jax.numpy as jnp
import numpy as np

from collapse_jax.core import paradigms


def test_bottom_k_keeps_the_smallest_priorities_of_everything_seen():
    rng = np.random.default_rng(0)
    k, d = 5, 3
    pool = paradigms.SubsamplePool(jnp.zeros((k, d)), jnp.full((k,), jnp.inf))
    xs, ps = [], []
    for _ in range(4):
        x = rng.normal(size=(7, d))
        p = rng.uniform(size=7)
        p[0] = np.inf  # a row never to keep (zero weight)
        pool = paradigms.bottom_k(pool, jnp.asarray(x), jnp.asarray(p))
        xs.append(x)
        ps.append(p)
    x_all, p_all = np.concatenate(xs), np.concatenate(ps)
    best = np.argsort(p_all)[:k]
    np.testing.assert_array_equal(np.sort(np.asarray(pool.priority)), np.sort(p_all[best]))
    order = np.argsort(np.asarray(pool.priority))
    np.testing.assert_array_equal(np.asarray(pool.points)[order], x_all[best])


def test_bottom_k_fills_empty_slots_before_dropping_rows():
    pool = paradigms.SubsamplePool(jnp.zeros((4, 1)), jnp.full((4,), jnp.inf))
    pool = paradigms.bottom_k(pool, jnp.arange(3.0)[:, None], jnp.array([0.9, 0.5, 0.7]))
    assert int(np.sum(np.isfinite(np.asarray(pool.priority)))) == 3
    assert sorted(np.asarray(pool.points)[np.isfinite(np.asarray(pool.priority)), 0]) == [0, 1, 2]
