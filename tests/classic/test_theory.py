import math

import numpy as np
import pytest
from scipy import stats

from collapse_jax.classic import theory as tc
from collapse_jax.core import accumulation

from ..conftest import Z


# theory.md 3.1 / section 4 rows 1-2: log-variance drifts.
@pytest.mark.parametrize(("n", "est", "value"), [
    (10, "unbiased", -0.11521), (10, "mle", -0.22057), (100, "unbiased", -0.01014),
    (100, "mle", -0.02019)])
def test_log_drift_table(n, est, value):
    assert tc.refit_log_drift(n, est) == pytest.approx(value, abs=6e-6)


def test_log_drift_in_d_dimensions_is_bartlett_sum_and_matches_wishart():
    n, d, seeds = 8, 3, 40000
    rng = np.random.default_rng(0)
    z = rng.standard_normal((seeds, n - 1, d))
    logdet = np.linalg.slogdet(np.einsum("sai,saj->sij", z, z))[1] - d * math.log(n)
    est, se = logdet.mean(), logdet.std(ddof=1) / math.sqrt(seeds)
    assert abs(est - tc.refit_log_drift(n, "mle", d)) <= Z * se
    assert np.var(logdet) == pytest.approx(tc.refit_log_step_variance(n, d), rel=0.05)


def test_refit_moments_closed_forms():
    n = 10
    assert tc.refit_variance_factor(n, "unbiased") == 1.0
    assert tc.refit_trace_ratio(n, 3, "mle") == pytest.approx(0.9**3)
    assert tc.refit_mean_walk(n, 30, "unbiased") == pytest.approx(3.0)
    assert tc.refit_mean_walk(n, 30, "mle") == pytest.approx(1 - 0.9**30)
    assert float(tc.refit_w2(n, 10**4, "mle")) == pytest.approx(2.0, abs=1e-9)
    k = n - 1
    g = math.sqrt(2 / k) * math.gamma((k + 1) / 2) / math.gamma(k / 2)
    assert tc.refit_sd_factor(n, "unbiased") == pytest.approx(g, rel=1e-12)
    assert float(tc.refit_w2(n, 5, "unbiased")) == pytest.approx(0.5 + 2 - 2 * g**5, rel=1e-12)


def test_refit_moments_match_direct_monte_carlo():
    n, t, seeds = 10, 6, 200000
    rng = np.random.default_rng(1)
    for est, c in (("mle", n), ("unbiased", n - 1)):
        x = rng.chisquare(n - 1, (seeds, t)) / c
        s2 = np.cumprod(x, axis=1)
        prev = np.concatenate([np.ones((seeds, 1)), s2[:, :-1]], axis=1)
        mu = np.sum(np.sqrt(prev / n) * rng.standard_normal((seeds, t)), axis=1)
        w2 = mu**2 + (np.sqrt(s2[:, -1]) - 1) ** 2
        for sample, pred in ((mu**2, tc.refit_mean_walk(n, t, est)),
                             (w2, tc.refit_w2(n, t, est))):
            assert abs(sample.mean() - pred) <= Z * sample.std(ddof=1) / math.sqrt(seeds)


def test_collapse_probability_exact_at_one_generation_and_monotone():
    for est, c in (("mle", 10), ("unbiased", 9)):
        for level in (0.3, 1.0, 2.0):
            exact = stats.chi2.cdf(level * c, 9)
            assert tc.refit_collapse_probability(10, 1, level, est) == pytest.approx(exact,
                                                                                    abs=1e-7)
    ps = [tc.refit_collapse_probability(10, t, 0.1, "unbiased") for t in (5, 20, 80, 320)]
    assert all(a < b for a, b in zip(ps, ps[1:])) and ps[-1] > 0.99


def test_collapse_probability_matches_monte_carlo_in_two_dimensions():
    n, d, t, seeds, level = 6, 2, 4, 40000, 0.4
    rng = np.random.default_rng(2)
    s = np.zeros(seeds)
    for _ in range(t):
        z = rng.standard_normal((seeds, n - 1, d))
        s += np.linalg.slogdet(np.einsum("sai,saj->sij", z, z))[1] - d * math.log(n - 1)
    frac = np.mean(s < d * math.log(level))
    p = tc.refit_collapse_probability(n, t, level, "unbiased", d)
    assert abs(frac - p) <= Z * math.sqrt(p * (1 - p) / seeds)


def test_tail_mass_start_and_monte_carlo():
    out = tc.refit_tail_mass(10, [0, 3], [2.0, 3.0], "unbiased")
    np.testing.assert_allclose(out[0], 2 * stats.norm.sf([2.0, 3.0]), rtol=1e-12)
    n, t, seeds = 10, 3, 400000
    rng = np.random.default_rng(3)
    x = rng.chisquare(n - 1, (seeds, t)) / (n - 1)
    p = np.cumprod(x, axis=1)
    v = (1 + p[:, :-1].sum(axis=1)) / n + p[:, -1]  # V_t of the docstring
    for j, c in enumerate((2.0, 3.0)):
        sample = 2 * stats.norm.sf(c / np.sqrt(v))
        assert abs(sample.mean() - out[1, j]) <= Z * sample.std(ddof=1) / math.sqrt(seeds)


def test_plain_mean_horizon():
    # rho = (k+4)(k+6)/(k(k+2)) = 1.9697 for n = 10: 0.5 sqrt(rho^t / S) <= 0.1.
    assert tc.plain_mean_horizon(10, 10000) == 8
    assert tc.plain_mean_horizon(10, 20000) == 9
    assert tc.plain_mean_horizon(10, 10) == 1


# theory.md 3.2-3.3 / section 4 rows 4, 5, 20.
def test_regression_closed_forms():
    assert tc.ols_variance_factor(40, 10) == pytest.approx(0.3448276, abs=1e-7)
    assert tc.regression_replace_error(3, 40, 10) == pytest.approx(3 * 10 / 29)
    acc = tc.regression_accumulate_error([1, 2, 3], 40, 10)
    np.testing.assert_allclose(acc, [0.3448276, 0.4310345, 0.4693487], atol=1e-7)
    assert tc.regression_accumulate_limit(40, 10) == pytest.approx(0.5672, abs=1e-4)
    assert tc.dohmatob_error(2, 40, 10, 1.0, 40, 1.0) == pytest.approx(3 * 10 / 29)
    with pytest.raises(ValueError, match="T=11"):
        tc.ols_variance_factor(11, 10)


def test_inverse_wishart_mean_matches_monte_carlo():
    T, d, seeds = 20, 4, 20000
    rng = np.random.default_rng(4)
    x = rng.standard_normal((seeds, T, d))
    tr = np.trace(np.linalg.inv(np.einsum("sti,stj->sij", x, x)), axis1=1, axis2=2)
    assert abs(tr.mean() - tc.ols_variance_factor(T, d)) <= Z * tr.std(ddof=1) / math.sqrt(seeds)


# Real-data mixing (derived in theory_classic.mixing_matrix).
@pytest.mark.parametrize("lam", [0.0, 0.5, 3.0, 40.0])
def test_mixing_recursion_invariants(lam):
    m = 12
    a = tc.mixing_matrix(lam, m)
    w = tc.mixing_weight(lam)
    np.testing.assert_allclose(sorted(np.linalg.eigvals(a).real),
                               sorted([w, w * w * (1 - 1 / m)]), atol=1e-12)
    traj = tc.mixing_moments(lam, m, np.arange(400))
    np.testing.assert_allclose(traj.sum(axis=1), 1.0, atol=1e-12)
    np.testing.assert_allclose(traj[-1], tc.mixing_stationary(lam, m), atol=1e-9)


def test_mixing_limits():
    m, n = 20, 20
    assert tc.mixing_stationary(math.inf, m) == (1.0, 0.0)
    errs = [tc.mixing_stationary(x, m)[0] for x in (0.1, 1, 10, 100, 1e4)]
    assert all(a < b for a, b in zip(errs, errs[1:])) and errs[-1] > 0.99
    # Count scaling m = lam n: the variance stays near Tr S / (1 + 1/(2n)).
    assert tc.mixing_stationary(1e5, int(1e5 * n))[1] == pytest.approx(1 / (1 + 1 / (2 * n)),
                                                                       rel=1e-4)
    assert tc.mixing_weight(math.inf) == 1.0
    with pytest.raises(ValueError, match="lam=-1"):
        tc.mixing_weight(-1)


def test_accumulate_limit_is_the_existing_theory():
    # theory.md 3.8: the accumulate claim of real_mixing uses accumulation.accumulate_trace_ratio.
    assert accumulation.accumulate_variance_limit(10) == pytest.approx(0.8434, abs=1e-4)


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="estimator='median'"):
        tc.refit_log_drift(10, "median")
    with pytest.raises(ValueError, match="n=3"):
        tc.refit_log_drift(3, "mle", dim=3)
    with pytest.raises(ValueError, match="level=0"):
        tc.refit_collapse_probability(10, 2, 0.0)
    with pytest.raises(ValueError, match="t=-1"):
        tc.refit_tail_mass(10, -1, 2.0)


def test_replace_trace_ratio_is_the_ridge_recursion():
    """replace_trace_ratio solves E Tr_{t+1} = (n - 1)/n E Tr_t + ridge d, Tr_0 = 1."""
    n, d, ridge = 40, 3, 0.01
    tr, share = 1.0, ridge * d
    for t in range(1, 26):
        tr = (n - 1) / n * tr + ridge * d
        assert accumulation.replace_trace_ratio(n, t, share) == pytest.approx(tr, rel=1e-12)
    assert accumulation.replace_trace_ratio(n, 25) == pytest.approx(((n - 1) / n) ** 25)
