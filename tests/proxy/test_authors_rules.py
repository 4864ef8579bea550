"""The authors' baselines (selection/image_selection.py): greedy CovMatch and K-means of the
candidate pool, against numpy ports of their loops."""

import jax
import jax.numpy as jnp
import numpy as np

from collapse_jax.core import mixture
from collapse_jax.proxy import references, silo_data


def _their_cov_match(feats, ref_cov, keep):
    """Their CovarianceMatchingFilter.select in numpy, the first pick fixed at index 0."""
    used = np.zeros(len(feats), bool)
    picks = [0]
    used[0] = True
    s1, s2 = feats[0].copy(), np.outer(feats[0], feats[0])
    for k in range(1, keep):
        avail = np.nonzero(~used)[0]
        c = feats[avail]
        m = k + 1
        mean = (s1 + c) / m
        cov = (s2 + c[:, :, None] * c[:, None, :]) / m - mean[:, :, None] * mean[:, None, :]
        cov = cov * m / (m - 1)
        best = avail[np.argmin(np.linalg.norm(cov - ref_cov, axis=(1, 2)))]
        picks.append(best)
        used[best] = True
        s1 += feats[best]
        s2 += np.outer(feats[best], feats[best])
    return picks


def test_greedy_cov_match_equals_their_loop():
    rng = np.random.default_rng(0)
    feats = rng.normal(size=(120, 3)) * [1.0, 2.0, 0.5]
    ref = np.cov(rng.normal(size=(50, 3)).T)
    rank = np.asarray(silo_data.greedy_covariance_rank(jnp.asarray(feats), jnp.asarray(ref), 30))
    picks = _their_cov_match(feats, ref, 30)
    np.testing.assert_array_equal(np.argsort(rank)[:30], picks)
    assert np.all(rank[np.setdiff1d(np.arange(120), picks)] == 30)
    kept = feats[picks]
    rand = feats[:30]
    # the greedy set's covariance is closer to the reference than the first 30 candidates'
    assert np.linalg.norm(np.cov(kept.T) - ref) < np.linalg.norm(np.cov(rand.T) - ref)


def test_kmeans_pool_keeps_the_member_closest_to_each_centroid():
    rng = np.random.default_rng(1)
    cand = jnp.asarray(rng.normal(size=(200, 2)))
    n = 25
    idx = np.asarray(jax.jit(references.kmeans_pool_select, static_argnums=1)(cand, n))
    assert len(set(idx.tolist())) == n
    c = np.asarray(mixture.kmeans(cand, jnp.ones(200), n, 20))
    x = np.asarray(cand)
    d2 = ((x[:, None] - c[None]) ** 2).sum(-1)
    label = d2.argmin(1)
    used = np.zeros(200, bool)
    for j in range(n):  # their loop, in numpy
        members = np.nonzero((label == j) & ~used)[0]
        pool = members if members.size else np.nonzero(~used)[0]
        best = pool[np.argmin(d2[pool, j])]
        assert idx[j] == best
        used[best] = True
