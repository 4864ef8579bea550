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
    # Row weights (the refit pool's): unit weights change nothing, zero weights drop rows,
    # and integer weights count rows that many times.
    xs = x[:300]
    np.testing.assert_allclose(sample_metrics.mode_mass_ratio(xs, TRUTH, jnp.ones(300)),
                               sample_metrics.mode_mass_ratio(xs, TRUTH), rtol=1e-6)
    w = jnp.asarray(np.r_[np.ones(200), np.zeros(100)])
    np.testing.assert_allclose(sample_metrics.mode_mass_ratio(xs, TRUTH, w),
                               sample_metrics.mode_mass_ratio(xs[:200], TRUTH), rtol=1e-6)
    w2 = jnp.asarray(np.r_[2 * np.ones(100), np.ones(200)])
    np.testing.assert_allclose(sample_metrics.mode_mass_ratio(xs, TRUTH, w2),
                               sample_metrics.mode_mass_ratio(
                                   jnp.concatenate([xs[:100], xs]), TRUTH), rtol=1e-6)


def test_em_step_equals_the_textbook_step_in_numpy():
    """One em_step equals scikit-learn's formulas written directly in numpy (float64,
    weighted points, a far-off tight component, a dead component that keeps its parameters):
    responsibilities from the log densities, weights N_c / sum w, means and fully centred
    covariances plus reg I, and the old mixture's mean log-likelihood."""
    from scipy.stats import multivariate_normal

    rng = np.random.default_rng(3)
    n, d, reg = 500, 4, 1e-6
    x = np.concatenate([rng.normal(0, 1, (300, d)), rng.normal(50, 1e-3, (200, d))])
    w = rng.uniform(0.2, 1.0, n)
    a = rng.normal(size=(3, d, d))
    covs = np.einsum("kij,klj->kil", a, a) + 0.5 * np.eye(d)
    covs[1] = 1e-6 * np.eye(d)
    means = np.stack([np.zeros(d), np.full(d, 50.0), np.full(d, -1e3)])
    weights = np.array([0.5, 0.3, 0.2])
    with jax.enable_x64(True):
        mix, ll = mixture.em_step(jnp.asarray(x), jnp.asarray(w),
                                  mixture.Mixture(*map(jnp.asarray, (weights, means, covs))), reg)
    lp = np.stack([multivariate_normal(means[c], covs[c]).logpdf(x) + np.log(weights[c])
                   for c in range(3)], axis=1)
    norm = np.logaddexp.reduce(lp, axis=1)
    r = np.exp(lp - norm[:, None]) * w[:, None]
    nc = r.sum(0)
    assert nc[2] < 1e-6  # the third component is dead and keeps its parameters
    np.testing.assert_allclose(np.asarray(mix.weights), nc / w.sum(), rtol=1e-10, atol=1e-300)
    np.testing.assert_allclose(float(ll), np.sum(w * norm) / w.sum(), rtol=1e-12)
    for c in range(2):
        mu = r[:, c] @ x / nc[c]
        diff = x - mu
        cov = (r[:, c, None] * diff).T @ diff / nc[c] + reg * np.eye(d)
        np.testing.assert_allclose(np.asarray(mix.means[c]), mu, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(np.asarray(mix.covs[c]), cov, rtol=1e-8, atol=1e-12)
    np.testing.assert_array_equal(np.asarray(mix.means[2]), means[2])
    np.testing.assert_array_equal(np.asarray(mix.covs[2]), covs[2])
