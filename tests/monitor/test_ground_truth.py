"""The monitor against simulated Gaussian loops whose law is known (collapse_jax.monitor.
simulate runs the real loops: refit, sample, top-alpha select, accumulate or replace).

Truths: accumulate without selection is bounded; accumulate + top-alpha decays as a power law
with exponent psi(alpha, d) (theory.md 1.3); replace + centred top-alpha shrinks the variance
by b (n - 1) / n per generation. Keys are fixed, so every case is deterministic.
"""

import numpy as np
import pytest
from scipy import stats

from collapse_jax.monitor import analyse
from collapse_jax.monitor.calibrate import measure
from collapse_jax.monitor.detect import detect, innovations, level_drift
from collapse_jax.monitor.simulate import gaussian_loop
from collapse_jax.power_law.theory import psi_closed_form, replace_select_factor

QUICK = dict(kernel_metrics=False, resamples=40)


def _inside(ci, value):
    return ci[0] <= value <= ci[1]


@pytest.mark.parametrize("dim,n,gens", [(2, 500, 20), (64, 300, 10)])
def test_accumulate_without_selection_is_bounded(dim, n, gens):
    g = gaussian_loop("accumulate", n=n, dim=dim, generations=gens, seed=100 + dim)
    r = analyse(g, **QUICK)
    assert r["law"] == "bounded"
    assert r["detected_at"] is None
    assert r["exponent"] is None


@pytest.mark.parametrize("alpha,dim,n,gens", [(0.5, 2, 500, 20), (0.25, 16, 1000, 12),
                                              (0.5, 64, 1000, 10)])
def test_accumulate_with_selection_is_power_law(alpha, dim, n, gens):
    g = gaussian_loop("accumulate", n=n, dim=dim, generations=gens, alpha=alpha, seed=200 + dim)
    r = analyse(g, alpha=alpha, **QUICK)
    psi = float(psi_closed_form(alpha, dim))
    assert r["law"] == "power"
    assert r["detected_at"] is not None and r["detected_at"] <= 3
    assert r["effective_dimension"]["used"] == dim
    assert _inside(r["exponent"]["ci"], psi), (r["exponent"], psi)
    assert r["theory"]["consistent"] is True
    # negative control: the exponent of a neighbouring selection ratio is rejected
    wrong = float(psi_closed_form(min(alpha + 0.25, 0.95), dim))
    assert not _inside(r["exponent"]["ci"], wrong), (r["exponent"], wrong)


@pytest.mark.parametrize("alpha,dim", [(0.9, 2), (0.8, 16)])
def test_replace_with_selection_is_geometric(alpha, dim):
    n = 500
    g = gaussian_loop("replace", n=n, dim=dim, generations=15, alpha=alpha, seed=300 + dim,
                      centre="fit")
    r = analyse(g, alpha=alpha, **QUICK)
    rho = float(replace_select_factor(alpha, dim, n))
    assert r["law"] == "geometric"
    assert r["detected_at"] is not None
    assert _inside(r["exponent"]["ci"], rho), (r["exponent"], rho)
    assert not _inside(r["exponent"]["ci"], rho ** 1.5)


def test_healthy_iid_pipeline_not_collapsed():
    g = gaussian_loop("iid", n=400, dim=8, generations=15, seed=7)
    r = analyse(g, **QUICK)
    assert r["law"] == "bounded" and r["detected_at"] is None


def test_detector_false_alarm_rate_scalar(z):
    """The calibrated CUSUM on i.i.d. null series (unequal SEs) alarms at the nominal rate."""
    rng = np.random.default_rng(2024)
    reps, fa, T = 3000, 0.05, 15
    alarms = 0
    for _ in range(reps):
        se = rng.uniform(0.02, 0.08, T)
        y = 1.0 + se * rng.standard_normal(T)
        alarms += detect(y, se, fa, key=1, null="iid")["detected_at"] is not None
    rate = alarms / reps
    assert abs(rate - fa) <= z * np.sqrt(fa * (1 - fa) / reps), rate


def test_detector_false_alarm_rate_accumulate_null(z):
    """The CUSUM calibrated on the accumulate null alarms at the nominal rate on series of
    that null (from generation 1, a level wandering by steps s_t / (t + 1), unequal SEs),
    where the i.i.d.
    calibration alarms too often (the negative control: above nominal by more than Z SEs).
    The SEs cycle through 8 unequal patterns: the accumulate null's threshold depends on
    them (20,000 simulated paths each), so 8 patterns compute 8 thresholds where a fresh
    pattern per series computed 3000 (57 s of the default suite)."""
    rng = np.random.default_rng(2025)
    reps, fa, T = 3000, 0.05, 15
    alarms = {"accumulate": 0, "iid": 0}
    t = np.arange(T)
    patterns = rng.uniform(0.02, 0.08, (8, T))
    for i in range(reps):
        se = patterns[i % len(patterns)]
        step = rng.standard_normal(T) * se / (t + 1.0)
        step[:2] = 0.0  # generation 0 is left out; the level of generation 1 is free
        y = 1.0 + np.cumsum(step) + se * rng.standard_normal(T)
        for null in alarms:
            alarms[null] += detect(y, se, fa, key=1, null=null)["detected_at"] is not None
    band = z * np.sqrt(fa * (1 - fa) / reps)
    assert abs(alarms["accumulate"] / reps - fa) <= band, alarms
    assert alarms["iid"] / reps > fa + band, alarms


def test_detector_false_alarm_rate_with_estimated_ses(z):
    """Estimated SEs (here ``s sqrt(chi2(9) / 9)``, as a 10-resample bootstrap's) make the
    standardised drops heavy-tailed: calibrated with their degrees of freedom the CUSUM alarms
    at the nominal rate; calibrated as if they were exact it alarms too often (the negative
    control: above nominal by more than Z binomial SEs)."""
    rng = np.random.default_rng(2026)
    reps, fa, T, nu = 3000, 0.05, 12, 9
    s = 0.07
    alarms = {"with dof": 0, "as exact": 0}
    for _ in range(reps):
        y = 1.0 + s * rng.standard_normal(T)
        se = s * np.sqrt(rng.chisquare(nu, T) / nu)
        alarms["with dof"] += detect(y, se, fa, key=1, null="iid",
                                     se_dof=np.full(T, nu))["detected_at"] is not None
        alarms["as exact"] += detect(y, se, fa, key=1, null="iid")["detected_at"] is not None
    band = z * np.sqrt(fa * (1 - fa) / reps)
    assert abs(alarms["with dof"] / reps - fa) <= band, alarms
    assert alarms["as exact"] / reps > fa + band, alarms


def test_se_dof_validated():
    with pytest.raises(ValueError, match="se_dof"):
        detect(np.zeros(5), np.ones(5), 0.05, se_dof=np.ones(4))
    with pytest.raises(ValueError, match="se_dof"):
        detect(np.zeros(5), np.ones(5), 0.05, se_dof=np.zeros(5))


def test_innovations_match_their_definition():
    rng = np.random.default_rng(3)
    y, se = rng.normal(size=9), rng.uniform(0.1, 1.0, 9)
    w = 1.0 / se**2
    loop = [-(y[t] - np.sum(w[:t] * y[:t]) / w[:t].sum()) / np.sqrt(1 / w[t] + 1 / w[:t].sum())
            for t in range(1, 9)]
    np.testing.assert_allclose(innovations(y, se), loop, rtol=1e-12)
    np.testing.assert_allclose(innovations(np.stack([y, y]), se)[1], loop, rtol=1e-12)


def test_bootstrap_se_of_log_total_variance(z):
    """Bootstrap SE of log Tr S for Gaussian data vs the exact sd over independent draws."""
    rng = np.random.default_rng(5)
    vals, ses = [], []
    for _ in range(60):
        x = rng.standard_normal((300, 4)) * np.array([1.0, 2.0, 0.5, 1.0])
        r = analyse([x, x], **QUICK)["generations"][0]
        vals.append(r["log_total_variance"])
        ses.append(r["log_total_variance_se"])
    sd = np.std(vals, ddof=1)
    # the sd of 60 draws has relative SE about 1 / sqrt(2 * 59)
    assert abs(np.mean(ses) - sd) <= z * sd / np.sqrt(2 * 59), (np.mean(ses), sd)


# ---- slow calibration runs (pytest -m slow) ----

@pytest.mark.slow
def test_false_alarm_rate_full_pipeline(z):
    """Alarm rate over whole bounded pipelines, through the monitor as the command line runs
    it (bootstrap SEs with 30 resamples; ``collapse_jax.monitor.calibrate``), against the
    nominal rate, both ways: accumulating pipelines without selection under the accumulate
    null, independent generations under the i.i.d. null. Negative control: the same alarm
    counts reject a nominal rate twice the true one (the test discriminates)."""
    fa = 0.05
    for mode, reps in (("accumulate", 1500), ("iid", 600)):
        r = measure(features=2, samples=200, generations=10, pipelines=reps, pipeline=mode,
                    null=mode, false_alarm=fa, resamples=30, seed=10_000)
        rate = r["rate"]
        print(f"{mode} pipelines, {mode} null: false-alarm rate {rate:.4f} +- {r['se']:.4f} "
              f"(nominal {fa}; {reps} pipelines; first alarms {r['alarm_generations']})")
        assert abs(rate - fa) <= z * np.sqrt(fa * (1 - fa) / reps), rate
        assert abs(rate - 2 * fa) > z * np.sqrt(2 * fa * (1 - 2 * fa) / reps), rate


@pytest.mark.slow
def test_classification_accuracy_and_exponent_coverage(z):
    reps = 40
    cases = {"bounded": dict(mode="accumulate", alpha=None),
             "power": dict(mode="accumulate", alpha=0.5),
             "geometric": dict(mode="replace", alpha=0.9)}
    covered, n_power = 0, 0
    for law, case in cases.items():
        right = 0
        for i in range(reps):
            g = gaussian_loop(case["mode"], n=400, dim=3, generations=15, alpha=case["alpha"],
                              seed=20_000 + 100 * len(law) + i, centre="fit")
            r = analyse(g, alpha=case["alpha"], kernel_metrics=False, resamples=30)
            right += r["law"] == law
            if law == "power" and r["law"] == "power":
                n_power += 1
                covered += _inside(r["exponent"]["ci"], float(psi_closed_form(0.5, 3)))
        print(f"{law}: {right}/{reps} classified correctly")
        assert right >= 0.9 * reps
    cov = covered / n_power
    print(f"power exponent 95% CI coverage: {covered}/{n_power}")
    # coverage of a nominal 95% interval, one-sided binomial check
    assert cov >= 0.95 - z * np.sqrt(0.95 * 0.05 / n_power)
    assert stats.binom.sf(covered - 1, n_power, 0.95) > 1e-4


def test_level_drift_predicts_the_mean_step_of_accumulating_fits(z):
    """The accumulate null's deterministic drift (``detect.level_drift``) against the mean
    step of ``log Tr Sigma_t`` of simulated accumulating MLE refits (4000 pipelines of 50
    samples in 2 features, vectorised over pipelines): equal within Z SEs at every step;
    negative control: no drift (the null before) is rejected at the first step."""
    rng = np.random.default_rng(77)
    reps, n, d, T = 4000, 50, 2, 6
    real = rng.standard_normal((reps, n, d))
    pn, ps, pss = n, real.sum(1), np.einsum("rni,rnj->rij", real, real)
    levels = []
    for _ in range(T):
        mu = ps / pn
        cov = pss / pn - mu[:, :, None] * mu[:, None, :]
        levels.append(np.log(np.trace(cov, axis1=1, axis2=2)))
        keep = mu[:, None, :] + np.einsum("rij,rnj->rni", np.linalg.cholesky(cov),
                                          rng.standard_normal((reps, n, d)))
        pn, ps, pss = pn + n, ps + keep.sum(1), pss + np.einsum("rni,rnj->rij", keep, keep)
    steps = np.diff(np.array(levels), axis=0)  # step t = 1 .. T-1 into the fit of t + 1 batches
    mean, se = steps.mean(1), steps.std(1, ddof=1) / np.sqrt(reps)
    s_batch = np.sqrt(2.0 / (d * (n - 1)))  # SE of one batch's log total variance
    # level_drift's position j is the step into the fit of j + 2 batches
    pred = level_drift(np.full(T, s_batch), np.full(T, n))[:T - 1]
    print("mean step", mean, "predicted", pred, "SE", se)
    assert np.all(np.abs(mean - pred) <= z * se), (mean, pred, se)
    assert abs(mean[0]) > z * se[0]  # the drift is there: a driftless null is rejected


def test_sample_counts_validated():
    with pytest.raises(ValueError, match="samples"):
        detect(np.zeros(5), np.ones(5), 0.05, samples=[200] * 4)
    with pytest.raises(ValueError, match="samples"):
        detect(np.zeros(5), np.ones(5), 0.05, samples=[200, 200, 1, 200, 200])
