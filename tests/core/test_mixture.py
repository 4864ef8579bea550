import jax
import jax.numpy as jnp
import numpy as np
import pytest

from collapse_jax.core import mixture
from collapse_jax.proxy import sample_metrics

TRUTH = mixture.truth_mixture(2, 6, skew=0.7)


@pytest.fixture(scope="module")
def big_sample():
    return jax.jit(lambda: mixture.sample(jax.random.key(0), TRUTH, 6000))()


def test_truth_layout():
    assert TRUTH.weights.shape == (6,)
    np.testing.assert_allclose(float(jnp.sum(TRUTH.weights)), 1.0)
    assert bool(jnp.all(jnp.diff(TRUTH.weights) < 0))  # skewed: strictly decreasing
    d8 = mixture.truth_mixture(8, 12)
    dist = jnp.sqrt(jnp.sum((d8.means[:, None] - d8.means[None]) ** 2, -1))
    assert float(jnp.min(dist + 1e9 * jnp.eye(12))) == pytest.approx(4.0 * np.sqrt(2))
    with pytest.raises(ValueError, match="modes=20"):
        mixture.truth_mixture(8, 20)


def test_sample_moments(big_sample, z):
    x, labels = big_sample
    frac = np.bincount(np.asarray(labels), minlength=6) / x.shape[0]
    w = np.asarray(TRUTH.weights)
    assert np.all(np.abs(frac - w) <= z * np.sqrt(w * (1 - w) / x.shape[0]))
    mean, cov = mixture.moments_of(TRUTH)
    xs = np.asarray(x)
    se = xs.std(0, ddof=1) / np.sqrt(xs.shape[0])
    assert np.all(np.abs(xs.mean(0) - np.asarray(mean)) <= z * se)
    np.testing.assert_allclose(np.cov(xs.T), cov, rtol=0.05)


def test_em_recovers_truth_and_loglik_increases(big_sample):
    x, _ = big_sample
    w = jnp.ones(x.shape[0])

    @jax.jit
    def fit(x, w):
        init = mixture.farthest_point_init(x, w, 6, 1e-3)
        return mixture.em_fit(x, w, init, 40)

    mix, ll = fit(x, w)
    assert bool(jnp.all(jnp.diff(ll) >= -1e-6))  # EM is monotone
    order = np.argsort(np.asarray(mix.means[:, 0] * 10 + mix.means[:, 1]))
    ref = np.argsort(np.asarray(TRUTH.means[:, 0] * 10 + TRUTH.means[:, 1]))
    np.testing.assert_allclose(mix.means[order], TRUTH.means[ref], atol=0.1)
    np.testing.assert_allclose(mix.weights[order], TRUTH.weights[ref], atol=0.03)
    # Dead components (no data) keep finite parameters.
    w_half = (x[:, 0] > 0).astype(x.dtype)
    mix2, _ = fit(x, w_half)
    assert bool(jnp.all(jnp.isfinite(mix2.means))) and bool(jnp.all(jnp.isfinite(mix2.covs)))


def test_uniform_stream_sizes_and_exhaustion():
    need = mixture.uniforms_needed(lambda s: mixture.sample_from(s, TRUTH, 7))
    assert need == 7 + 2 * 7  # one categorical uniform + 2 normals per point
    stream = mixture.Uniforms(jnp.full((need,), 0.5))
    mixture.sample_from(stream, TRUTH, 7)
    assert stream.used == need
    with pytest.raises(ValueError, match="exhausted"):
        stream.take((1,))


def test_kde_and_kmeans():
    x = jnp.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [99.0, 99.0]])
    w = jnp.array([1.0, 1.0, 1.0, 0.0])
    s = mixture.Uniforms(jax.random.uniform(jax.random.key(1), (3000,), minval=1e-6))
    draws = mixture.kde_sample_from(s, x, w, 0.1, 1000)
    assert float(jnp.max(draws)) < 20.0  # the zero-weight row is never used
    c = mixture.kmeans(x, w, 3)
    assert sorted(map(tuple, np.round(np.asarray(c)).tolist())) == [(0, 0), (0, 10), (10, 0)]


def test_sample_metrics_on_the_truth(big_sample):
    x, _ = big_sample
    real = jax.jit(lambda: mixture.sample(jax.random.key(1), TRUTH, 400))()[0]
    ratio = sample_metrics.mode_mass_ratio(x, TRUTH)
    np.testing.assert_allclose(ratio, 1.0, atol=0.1)
    p, r = jax.jit(lambda a, b: sample_metrics.precision_recall(a, b, 3))(x[:400], real)
    assert float(p) > 0.9 and float(r) > 0.9
    d2 = np.sum((np.asarray(real)[:, None] - np.asarray(real)[None]) ** 2, -1)
    np.fill_diagonal(d2, np.inf)
    np.testing.assert_allclose(sample_metrics.knn_radii(real, 3), np.sort(d2, 1)[:, 2],
                               rtol=1e-5)
    # A sample missing the two tail modes: coverage and recall drop.
    head = x[:2000][np.isin(np.asarray(big_sample[1][:2000]), [0, 1, 2, 3])][:400]
    _, r_head = sample_metrics.precision_recall(head, real, 3)
    assert float(r_head) < float(r)
    cov_head = float(jnp.mean(sample_metrics.mode_mass_ratio(head, TRUTH) >= 0.25))
    assert cov_head == pytest.approx(4 / 6)
