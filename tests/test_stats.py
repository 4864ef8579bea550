import numpy as np
import pytest

from collapse_jax import stats


def test_loglog_slope_of_power_law_curves():
    rng = np.random.default_rng(0)
    t = np.arange(1, 201)
    c = np.exp(rng.normal(size=(400, 1)) * 0.3)
    curves = c * t[None, :] ** -0.7
    s, (lo, hi) = stats.loglog_slope_ci(t, curves, (20, 200), rng=rng, resamples=300)
    assert s == pytest.approx(-0.7, abs=1e-12)
    assert lo <= -0.7 <= hi


def test_mean_ci_coverage():
    rng = np.random.default_rng(1)
    hits = sum(lo <= 0.0 <= hi for lo, hi in
               (stats.mean_ci(rng.normal(size=50))[1] for _ in range(2000)))
    # Coverage 95%: binomial SE over 2000 trials is 0.0049; allow 4 SE.
    assert abs(hits / 2000 - 0.95) < 4 * 0.0049


def test_bootstrap_is_reproducible():
    data = np.random.default_rng(2).normal(size=(100, 5))
    f = lambda w: (w @ data).mean(axis=1)  # noqa: E731
    a = stats.bootstrap(f, data, rng=np.random.default_rng(3), resamples=200)
    b = stats.bootstrap(f, data, rng=np.random.default_rng(3), resamples=200)
    assert a == b


def test_dissipation_gap_uses_window_mean():
    psi = np.zeros((3, 10, 2, 2))
    psi[..., 0, 0], psi[..., 1, 1] = 0.9, 0.4
    np.testing.assert_allclose(stats.dissipation_gap(psi, np.arange(10), (2, 9)), 0.4)
