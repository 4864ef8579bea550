import numpy as np
import pytest
from scipy import stats

from collapse_jax.knowledge_center import theory as vt

MAIN = vt.Setting(p=5, n0=20, n=2000, sigma=1.0, sigma_c=0.5, r=0.2, delta=0.5)


@pytest.mark.parametrize("w", [0.25, 0.7, 1.5, 3.0])
@pytest.mark.parametrize("u", [0.0, 0.4, -1.3, 2.5, 6.0, -15.0])
def test_truncated_moments_match_scipy(u, w):
    p, g, v = vt.truncated_moments(np.array([u]), w)
    a, b = -w - u, w - u
    m, var = stats.truncnorm.stats(a, b, moments="mv")
    exact = (stats.norm.sf(a) - stats.norm.sf(b)) if a > 0 else (stats.norm.cdf(b)
                                                                   - stats.norm.cdf(a))
    np.testing.assert_allclose(p[0], exact, rtol=1e-9, atol=1e-300)
    np.testing.assert_allclose(g[0], u + m, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(v[0], var, rtol=1e-6, atol=1e-12)


def test_far_tail_is_finite_and_saturates():
    p, g, v = vt.truncated_moments(np.array([-300.0, 300.0]), 0.7)
    assert np.all(np.isfinite(g)) and np.all(np.isfinite(v))
    np.testing.assert_allclose(g, [-0.7 + 1 / 300.7, 0.7 - 1 / 300.7], rtol=1e-3)
    assert np.all(p == 0.0)


def test_rho_table_of_theory_md():
    w = np.array([0.25, 0.5, 0.7, 1.0, 1.5, 2.0, 3.0])
    np.testing.assert_allclose(vt.rho(w), [0.0207, 0.0806, 0.1529, 0.2911, 0.5515, 0.7737,
                                           0.9733], atol=6e-5)
    np.testing.assert_allclose(vt.acceptance_at_center(w),
                               [0.197, 0.383, 0.516, 0.683, 0.866, 0.955, 0.997], atol=6e-4)


def test_g_prime_is_v_and_v_peaks_at_zero():
    w = 0.9
    u = np.linspace(-4, 4, 801)
    h = 1e-5
    dg = (vt.mean_map(u + h, w) - vt.mean_map(u - h, w)) / (2 * h)
    np.testing.assert_allclose(dg, vt.variance_map(u, w), atol=1e-7)
    assert np.argmax(vt.variance_map(u, w)) == 400
    np.testing.assert_allclose(vt.variance_map(np.zeros(1), w), vt.rho(w), rtol=1e-12)


def test_map_has_the_centre_as_only_fixed_point():
    w = float(vt.window(0.2, 0.5, 1.0))
    assert vt.direction_fixed_point(0.5, w, 1.0) == pytest.approx(0.5, abs=1e-12)
    a = np.array([-3.0, 0.0, 0.49, 2.0])
    t = vt.direction_map(a, 0.5, w, 1.0)
    assert np.all(np.abs(t - 0.5) <= vt.rho(w) * np.abs(a - 0.5) + 1e-15)


@pytest.mark.parametrize(("n", "prob"), [(2000, 0.516), (2000, 0.01), (50, 0.3), (10, 0.05),
                                         (2000, 1e-7), (300, 1.0)])
def test_inverse_count_moment_matches_the_sum(n, prob):
    m = np.arange(1, n + 1)
    exact = np.sum(stats.binom.pmf(m, n, prob) / m)
    np.testing.assert_allclose(vt.inverse_count_moment(n, np.array([prob]))[0], exact,
                               rtol=1e-10)


def test_one_round_of_the_map_by_monte_carlo(z):
    # The accepted mean of n draws N(u, 1) kept in [-w, w] has mean G(u) (given m >= 1) and
    # variance V(u) E[1/m | m >= 1]: the two moments propagate() relies on.
    rng = np.random.default_rng(0)
    n, w, u, reps = 40, 0.7, 0.6, 20000
    x = u + rng.standard_normal((reps, n))
    keep = np.abs(x) <= w
    m = keep.sum(1)
    ok = m > 0
    means = (x * keep).sum(1)[ok] / m[ok]
    p, g, v = vt.truncated_moments(np.array([u]), w)
    q0 = (1 - p[0]) ** n
    assert abs(means.mean() - g[0]) <= z * means.std(ddof=1) / np.sqrt(ok.sum())
    var_pred = v[0] * vt.inverse_count_moment(n, p)[0] / (1 - q0)
    se_var = means.var(ddof=1) * np.sqrt(2.0 / ok.sum())
    assert abs(means.var(ddof=1) - var_pred) <= z * se_var
    assert abs(1 - ok.mean() - q0) <= z * np.sqrt(q0 * (1 - q0) / reps) + 1e-12


def test_ols_coordinate_is_scaled_student_t(z):
    rng = np.random.default_rng(1)
    p, n0, reps = 5, 20, 20000
    x = rng.standard_normal((reps, n0, p))
    y = rng.standard_normal((reps, n0))
    e = np.linalg.solve(np.einsum("rni,rnj->rij", x, x),
                        np.einsum("rni,rn->ri", x, y)[..., None])[..., 0]
    nu = vt.ols_coordinate_dof(n0, p)
    assert stats.kstest(e[:, 0] * np.sqrt(nu), stats.t(nu).cdf).pvalue > 1e-4
    err = np.sum(e**2, axis=1)
    assert abs(err.mean() - vt.ols_error(p, n0, 1.0)) <= z * err.std(ddof=1) / np.sqrt(reps)


def test_predict_round_zero_and_theory_md_numbers():
    pr = vt.predict(MAIN, 3)
    e0 = vt.ols_error(5, 20, 1.0)
    np.testing.assert_allclose(pr.err_star[0], e0, rtol=1e-6)
    np.testing.assert_allclose(pr.err_center[0], e0 + 0.25, rtol=1e-6)
    np.testing.assert_allclose(pr.offset[0], -0.5, rtol=1e-9)
    # theory.md 2.4 [SIM]: 0.356 -> 0.188 (k = 1); first-step ratio 0.024.
    assert pr.err_star[1] == pytest.approx(0.189, abs=0.002)
    assert pr.err_center[1] / pr.err_center[0] == pytest.approx(0.024, abs=0.0005)
    assert np.all(pr.fail < 1e-8)


def test_stationary_error_and_the_linearised_formula():
    err, lag = vt.stationary_error(MAIN)
    w = float(vt.window(0.2, 0.5, 1.0))
    lin = vt.linear_stationary_error(5, 1.0, 2000, w)
    assert lin == pytest.approx(7.59e-4, abs=5e-7)            # theory.md claim 14
    assert err == pytest.approx(lin, rel=2e-3) and err > lin   # E[1/m] > 1/E[m]
    assert lag == pytest.approx(vt.rho(w), rel=1e-4)
    pr = vt.predict(MAIN, 12)
    assert pr.err_center[-1] == pytest.approx(err, rel=1e-6)
    assert pr.err_star[-1] == pytest.approx(0.25 + err, rel=1e-6)


def test_one_step_improvement_agrees_with_predict():
    grid = vt.one_step_improvement(5, 20, 2000, 1.0, 0.5, [0.2, 1.0], [0.0, 0.5, 1.5])
    for i, d in enumerate([0.0, 0.5, 1.5]):
        for j, r in enumerate([0.2, 1.0]):
            pr = vt.predict(vt.Setting(5, 20, 2000, 1.0, 0.5, r, d), 1)
            assert grid[i, j] == pytest.approx(pr.err_star[1] - pr.err_star[0], rel=1e-6)
    assert grid[1, 0] < 0 < grid[2, 0]   # improvement at small bias, degradation at large


def test_theorem41_bound_tends_to_the_linearised_error():
    w = float(vt.window(0.2, 0.5, 1.0))
    b = vt.theorem41_bound(60, 0.607, 5, 1.0, w, 2000)
    assert b[0] == 0.607
    assert b[-1] == pytest.approx(vt.linear_stationary_error(5, 1.0, 2000, w), rel=1e-12)
    assert np.all(np.diff(b) <= 0)


def test_isotropic_contraction():
    # r = 0: the window does not depend on |x|, the block theory holds exactly.
    rho_iso, rho_bar, w_bar = vt.isotropic_contraction(5, 0.0, 0.7, 1.0)
    assert rho_iso == pytest.approx(vt.rho(0.7), rel=1e-9) == rho_bar and w_bar == 0.7
    rho_iso, rho_bar, _ = vt.isotropic_contraction(5, 1.0, 0.5, 1.0)
    assert rho_iso > rho_bar


def test_no_verifier_slopes():
    assert vt.no_verifier_slope(5, 2000, 1.0) == pytest.approx(5 / 2000)
    assert vt.no_verifier_slope(5, 2000, 2.0, 2.0, "isotropic") == pytest.approx(
        25 / (10000 - 6))
    with pytest.raises(ValueError, match="design='grid'"):
        vt.no_verifier_slope(5, 2000, 1.0, design="grid")


def test_bad_settings_raise_clear_errors():
    with pytest.raises(ValueError, match="predict: n0=6"):
        vt.predict(vt.Setting(5, 6, 100, 1.0, 0.5, 0.2, 0.5), 2)
    with pytest.raises(ValueError, match="stationary_error: r=0.0 with sigma_c=0.0"):
        vt.stationary_error(vt.Setting(5, 20, 100, 1.0, 0.0, 0.0, 0.5))
    with pytest.raises(ValueError, match="predict: sigma=-1"):
        vt.predict(vt.Setting(5, 20, 100, -1.0, 0.5, 0.2, 0.5), 2)
