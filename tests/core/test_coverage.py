"""Coverage of every interval procedure the checks use, on problems with a known answer.

For each procedure of :mod:`collapse_jax.core.stats` (Student mean, ratio of sums, Clopper-Pearson
proportion, order-statistic median, BCa bootstrap of a mean, of a ratio of means and of a
log-log slope) the tests draw ``R`` independent data sets of the seed counts the checks use
(their defaults, ``--quick``, and the minimum each check derives with
:func:`stats.min_seeds`), build the interval at the check's per-claim (Bonferroni) level and
count how often it contains the known answer.

Rule: with ``R`` replications the measured coverage ``c`` must satisfy ``c >= level - 3 SE``,
``SE = sqrt(level (1 - level) / R)`` (one-sided: an interval that covers more than asked is
conservative, not wrong; a correct procedure fails this with probability about 0.13% per
case). The bootstrap cases use ``R = 1500`` (1000 for slopes): they detect an error rate of
twice the nominal one (coverage 98.75% at a nominal 99.375%) with probability one half, and
the percentile bootstrap they replace (97.4% at 12 seeds, 97.7% at 16) with certainty.
Measured with 6000 replications, the BCa error rate left at the minimum seed counts is 1 to
1.8 times the nominal one (see :func:`stats.min_seeds`), below what these cases resolve.
Where the procedure is exact (Student on normal data) the check is two-sided,
``|c - level| <= 3 SE``. The Clopper-Pearson interval is checked exactly (its coverage is a
finite sum over the binomial law), not by simulation. Every random stream is seeded: a run is
deterministic.

The bootstrap cases evaluate blocks of ``K = 50`` independent data sets at once on shared
resample weights (``stat`` returns ``(B, K)``): given the weights the data sets, hence their
coverage indicators, are independent, and each case draws fresh weights for each of its 20
or more blocks, so the weights' own Monte Carlo variation averages out. They draw
``TAIL_COUNT / p`` resamples (``p`` the nominal tail probability of the Student-expanded
quantile), about the count :func:`stats.bootstrap` itself draws for a typical data set;
``test_bootstrap_is_the_composition`` checks that :func:`stats.bootstrap` is exactly this
composition for one data set.
"""

import math

import numpy as np
import pytest
from scipy import stats as st

from collapse_jax.classic import (
    check_gaussian_refit as gaussian_refit,
)
from collapse_jax.classic import (
    check_real_mixing as real_mixing,
)
from collapse_jax.classic import (
    check_regression as regression_paradigms,
)
from collapse_jax.core import stats
from collapse_jax.knowledge_center import check as knowledge_center
from collapse_jax.power_law import check as power_law
from collapse_jax.power_law import theory
from collapse_jax.proxy import check as proxy_references
from collapse_jax.vae import check as vae_verification
from collapse_jax.verdict.family import simultaneous_level

# Per-claim levels of the checks (their Bonferroni families).
L_POWER = simultaneous_level(len(power_law.CLAIMS))
L_VAE = simultaneous_level(len(vae_verification.CLAIMS))
L_PROXY = simultaneous_level(len(proxy_references.planned_claims(
    proxy_references.STRATEGIES, "accumulate-subsample")))
L_REFIT = simultaneous_level(len(gaussian_refit.claim_ids(["mle", "unbiased"])))
L_MIXING = 1.0 - 0.05 / (2 * 3 + 6)  # default --lam: three finite values
L_REGRESSION = simultaneous_level(len(regression_paradigms.CLAIMS))
L_KC = simultaneous_level(len(knowledge_center.CLAIMS))
L_KC_ROUND = 1.0 - 0.05 / len(knowledge_center.CLAIMS) / knowledge_center.DEFAULTS["generations"]


def assert_covers(hits, reps, level, exact=False):
    c = float(np.sum(hits)) / reps
    se = math.sqrt(level * (1 - level) / reps)
    msg = f"coverage {c:.5f} over {reps} replications, nominal {level:.5f}, SE {se:.5f}"
    assert c >= level - 3 * se, msg
    if exact:
        assert c <= level + 3 * se, msg


# ---- Student intervals of a mean -------------------------------------------------------


@pytest.mark.parametrize(("n", "level"), [
    (stats.min_seeds(L_REFIT), L_REFIT),          # gaussian_refit minimum
    (stats.min_seeds(L_KC_ROUND), L_KC_ROUND),    # knowledge_center minimum (per round)
    (proxy_references.DEFAULTS["seeds"], L_PROXY),
    (power_law.MIN_GROUPS, L_POWER),              # batch means of a streamed sweep
    (knowledge_center.DEFAULTS["seeds"], L_KC),
])
def test_student_mean_ci_is_exact_for_normal_seeds(n, level):
    rng = np.random.default_rng(n)
    reps = 20000
    x = rng.normal(3.0, 2.0, size=(reps, n))
    hits = [lo <= 3.0 <= hi for lo, hi in (stats.mean_ci(row, level)[1] for row in x)]
    assert_covers(hits, reps, level, exact=True)


@pytest.mark.parametrize(("n", "level"), [
    (power_law.QUICK["seeds"], L_POWER), (power_law.DEFAULTS["seeds"], L_POWER),
    (real_mixing.QUICK["seeds"], L_MIXING), (real_mixing.DEFAULTS["seeds"], L_MIXING),
    (regression_paradigms.QUICK["seeds"], L_REGRESSION),
    (regression_paradigms.DEFAULTS["seeds"], L_REGRESSION),
    (gaussian_refit.QUICK["seeds"], L_REFIT), (gaussian_refit.DEFAULTS["seeds"], L_REFIT),
])
@pytest.mark.parametrize("dist", ["normal", "gamma4", "exponential"])
def test_student_mean_ci_at_the_checks_seed_counts(n, level, dist):
    # Skewed seeds: gamma(4) (skewness 1) at every count; the exponential law (skewness 2)
    # from 1000 seeds on. Below that the Student interval's O(1/n) error (skewness^2 and
    # kurtosis) is visible at these levels: 99.19% at 300 seeds for a nominal 99.44%.
    if dist == "exponential" and n < 1000:
        pytest.skip("exponential seeds: Student intervals at 99.4% need >= 1000 seeds")
    rng = np.random.default_rng(n + (dist == "normal"))
    reps = max(1000, min(20000, 20_000_000 // n))
    hits = 0
    for r0 in range(0, reps, 500):
        m = min(500, reps - r0)
        if dist == "normal":
            x = rng.normal(size=(m, n))
        elif dist == "gamma4":
            x = rng.gamma(4.0, 0.25, size=(m, n))
        else:
            x = rng.exponential(size=(m, n))
        truth = 0.0 if dist == "normal" else 1.0
        hits += sum(lo <= truth <= hi for lo, hi in (stats.mean_ci(row, level)[1] for row in x))
    assert_covers(hits, reps, level)


# ---- ratio of sums (delta method, Student) -----------------------------------------------


@pytest.mark.parametrize(("n", "level"), [
    (knowledge_center.DEFAULTS["seeds"], L_KC), (knowledge_center.QUICK["seeds"], L_KC),
    (knowledge_center.DEFAULTS["seeds"], L_KC_ROUND),
])
def test_ratio_ci(n, level):
    # A lag-1 style ratio: sum(num) / sum(den) with den > 0 skewed and num = rho den + noise;
    # the answer is E num / E den = rho.
    rng = np.random.default_rng(7)
    reps, rho = 20000, 0.6
    den = rng.gamma(4.0, 0.25, size=(reps, n))
    num = rho * den + 0.3 * rng.normal(size=(reps, n)) * np.sqrt(den)
    hits = [lo <= rho <= hi for lo, hi in
            (stats.ratio_ci(a, b, level)[1] for a, b in zip(num, den))]
    assert_covers(hits, reps, level)


# ---- proportions: exact coverage -------------------------------------------------------


@pytest.mark.parametrize(("n", "level"), [
    (stats.min_seeds(L_REFIT), L_REFIT),
    (real_mixing.QUICK["seeds"], L_MIXING), (real_mixing.DEFAULTS["seeds"], L_MIXING),
    (gaussian_refit.QUICK["seeds"], L_REFIT), (gaussian_refit.DEFAULTS["seeds"], L_REFIT),
])
def test_proportion_ci_exact_coverage(n, level):
    k = np.arange(n + 1)
    lo, hi = stats.proportion_ci(k, n, level)
    ps = np.concatenate([np.linspace(0.002, 0.998, 100), np.logspace(-6, -1, 40),
                         1 - np.logspace(-6, -1, 40)])
    cover = np.array([np.sum(st.binom.pmf(k, n, p) * ((lo <= p) & (p <= hi))) for p in ps])
    assert cover.min() >= level - 1e-12, (cover.min(), ps[np.argmin(cover)])


def test_wilson_interval_it_replaces_undercovers():
    # Why Clopper-Pearson: Wilson's coverage near 0 and 1 falls far below the nominal level.
    n, level = real_mixing.QUICK["seeds"], L_MIXING
    z = st.norm.ppf(0.5 + level / 2)
    k = np.arange(n + 1)
    p_hat = k / n
    c = (p_hat + z * z / (2 * n)) / (1 + z * z / n)
    h = z * np.sqrt(p_hat * (1 - p_hat) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    ps = np.logspace(-6, -2, 200)
    cover = [np.sum(st.binom.pmf(k, n, p) * ((c - h <= p) & (p <= c + h))) for p in ps]
    assert min(cover) < level - 0.02


# ---- median: order statistics ----------------------------------------------------------


@pytest.mark.parametrize(("n", "reps"), [
    (stats.min_seeds(L_REFIT), 20000), (gaussian_refit.QUICK["seeds"], 2000),
    (gaussian_refit.DEFAULTS["seeds"], 1000),
])
def test_median_ci(n, reps):
    level = L_REFIT
    rng = np.random.default_rng(n)
    truth = math.log(2.0)  # median of the exponential law: skewed, distribution-free anyway
    hits = 0
    for r0 in range(0, reps, 500):
        x = rng.exponential(size=(min(500, reps - r0), n))
        hits += sum(lo <= truth <= hi for lo, hi in (stats.median_ci(row, level)[1] for row in x))
    assert_covers(hits, reps, level)


def test_median_ci_needs_the_minimum_seeds():
    level = L_REFIT
    n = stats.min_seeds(level)
    assert stats.median_ranks(n, level) is not None
    assert stats.median_ranks(n - 1, level) is None
    assert all(math.isnan(v) for v in stats.median_ci(np.arange(n - 1.0), level)[1])


# ---- BCa bootstrap ----------------------------------------------------------------------


def _bca_hits(stat, truth, n, level, rng, resamples):
    """Intervals of ``K`` statistics (``stat`` returns ``(B, K)``) on shared resamples."""
    full = stat(np.full((1, n), 1.0 / n))[0]
    boots = stats.bootstrap_replicates(stat, n, rng=rng, resamples=resamples)
    jack = stats.jackknife_replicates(stat, n)
    assert np.all(np.isfinite(boots)) and np.all(np.isfinite(jack))
    lo, hi = stats.bca_interval(boots, full, jack, n, level)
    return (lo <= truth) & (truth <= hi)


def _resamples(n, level):
    zq = math.sqrt(n / (n - 1)) * stats.t_quantile(level, n - 1)
    return math.ceil(stats.TAIL_COUNT / st.norm.sf(zq))


def _mean_problem(dist):
    def make(rng, n, k):
        if dist == "normal":
            return rng.normal(size=(n, k)), 0.0
        return rng.exponential(size=(n, k)), 1.0
    return make, (lambda x: (lambda w: w @ x))


def _ratio_problem():
    # 1 - E FD_1 / E FD_0 (claim 2a of vae_verification): two positive, skewed metrics.
    def make(rng, n, k):
        fd0 = rng.gamma(25.0, 7.0 / 25, size=(n, k))
        fd1 = 0.5 * fd0 + rng.gamma(25.0, 4.0 / 25, size=(n, k))  # E FD_1 = 3.5 + 4
        return np.stack([fd0, fd1]), 1.0 - 7.5 / 7.0
    return make, (lambda x: (lambda w: 1.0 - (w @ x[1]) / (w @ x[0])))


T_SLOPE = 2.0 ** np.arange(8)  # generations 1 .. 128, log-spaced
WINDOW = (2, 128)


def _slope_problem():
    # Log-log slope of the seed-mean curve (claims 1, 2, 4 of power_law): per-seed curves
    # c_i t^-0.7 exp(e_it - s^2/2), so log E y_t = const - 0.7 log t exactly.
    def make(rng, n, k):
        c = rng.lognormal(0.0, 0.3, size=(n, 1, k))
        e = rng.normal(0.0, 0.4, size=(n, T_SLOPE.size, k))
        y = c * T_SLOPE[None, :, None] ** -0.7 * np.exp(e - 0.08)
        return y.reshape(n, -1), -0.7

    def stat_of(y):
        def stat(w):
            m = (w @ y).reshape(w.shape[0], T_SLOPE.size, -1)
            return theory.loglog_window_slope(T_SLOPE, np.log(np.moveaxis(m, 1, -1)), WINDOW)
        return stat
    return make, stat_of


#: Data sets per block of shared resample weights: every case draws at least 20 independent
#: sets of weights, so their own Monte Carlo variation averages out.
COLUMNS = 50
PROBLEMS = {"mean-normal": _mean_problem("normal"), "mean-exponential":
            _mean_problem("exponential"), "ratio": _ratio_problem(), "slope": _slope_problem()}
VAE_SEEDS = vae_verification.DEFAULTS["seeds"]
SWEEP_QUICK = power_law.QUICK["sweep_seeds"]


@pytest.mark.parametrize(("problem", "n", "level", "reps"), [
    # vae_verification: its minimum; default = quick
    ("mean-normal", stats.min_seeds(L_VAE, bootstrap=True), L_VAE, 1500),
    ("ratio", stats.min_seeds(L_VAE, bootstrap=True), L_VAE, 1500),
    ("mean-normal", VAE_SEEDS, L_VAE, 1500),
    ("ratio", VAE_SEEDS, L_VAE, 1500),
    # proxy_references: its minimum = default = quick, the OT layer's 64 seeds (default and
    # quick alike: a second case appears if they part)
    ("mean-normal", stats.min_seeds(L_PROXY, bootstrap=True), L_PROXY, 1500),
    *[("mean-normal", n, L_PROXY, 1500)
      for n in sorted({proxy_references.OT_SEEDS, proxy_references.QUICK["ot_seeds"]})],
    # power_law: streamed batch means (its fewest groups = its minimum), the quick sweep
    ("mean-normal", power_law.MIN_GROUPS, L_POWER, 1500),
    ("slope", power_law.MIN_GROUPS, L_POWER, 1000),
    ("slope", SWEEP_QUICK, L_POWER, 1000),
    ("mean-exponential", SWEEP_QUICK, L_POWER, 1500),
])
def test_bca_bootstrap_coverage(problem, n, level, reps):
    make, stat_of = PROBLEMS[problem]
    rng = np.random.default_rng(n)
    resamples = _resamples(n, level)
    k = max(1, min(COLUMNS, 4_000_000 // resamples))
    hits = 0
    for r0 in range(0, reps, k):
        x, truth = make(rng, n, min(k, reps - r0))
        hits += int(np.sum(_bca_hits(stat_of(x), truth, n, level, rng, resamples)))
    assert_covers(hits, reps, level)


@pytest.mark.slow
@pytest.mark.parametrize(("problem", "n", "reps"), [
    ("slope", power_law.QUICK["seeds"], 500), ("mean-exponential", power_law.QUICK["seeds"], 1000),
    ("slope", power_law.DEFAULTS["seeds"] // 2, 300),
    ("mean-exponential", power_law.DEFAULTS["seeds"], 500),
])
def test_bca_bootstrap_coverage_default_power_law_rows(problem, n, reps):
    test_bca_bootstrap_coverage(problem, n, L_POWER, reps)


def test_checks_run_at_least_their_minimum_seeds():
    # Defaults and --quick of the bootstrap checks, and power_law's fewest stream groups,
    # are at least the minimum the intervals need (else the check would refuse its own
    # defaults, or stream into too few groups).
    for check, level in ((vae_verification, L_VAE), (proxy_references, L_PROXY)):
        need = stats.min_seeds(level, bootstrap=True)
        assert check.DEFAULTS["seeds"] >= need and check.QUICK["seeds"] >= need
    assert proxy_references.OT_SEEDS >= stats.min_seeds(L_PROXY, bootstrap=True)
    need = stats.min_seeds(L_POWER, bootstrap=True)
    assert power_law.MIN_GROUPS == need and power_law.QUICK["sweep_seeds"] >= need
    assert power_law.QUICK["seeds"] >= 2 * need


def test_bootstrap_is_the_composition():
    # stats.bootstrap = replicates, jackknife, more resamples if a tail is thin, BCa.
    n, level = VAE_SEEDS, L_VAE
    x = np.random.default_rng(3).exponential(size=n)
    stat = lambda w: w @ x  # noqa: E731
    est, ci = stats.bootstrap(stat, x, rng=np.random.default_rng(4), resamples=1000,
                              level=level)
    rng = np.random.default_rng(4)
    boots = stats.bootstrap_replicates(stat, n, rng=rng, resamples=1000)
    jack = stats.jackknife_replicates(stat, n)
    need = stats.resamples_needed(*stats.bca_probs(boots, x.mean(), jack, n, level), 1000)
    assert need > 1000  # the thin tail of 24 seeds at 99.4% asks for more resamples
    boots = np.concatenate([boots, stats.bootstrap_replicates(stat, n, rng=rng,
                                                              resamples=need - 1000)])
    lo, hi = stats.bca_interval(boots, x.mean(), jack, n, level)
    assert est == pytest.approx(x.mean(), rel=1e-12)
    assert ci == (lo, hi) and ci.replicates == need + n


def test_percentile_bootstrap_it_replaces_undercovers():
    # The measured failure of the old procedure at the VAE check's 12 seeds (and 6): the
    # percentile interval of a normal mean at 99.4% covers about 97%.
    n, level, reps = 12, L_VAE, 2000
    rng = np.random.default_rng(12)
    x = rng.normal(size=(n, reps))
    w = rng.multinomial(n, np.full(n, 1.0 / n), size=4000) / n
    boots = w @ x
    lo, hi = np.quantile(boots, [(1 - level) / 2, (1 + level) / 2], axis=0)
    c = np.mean((lo <= 0) & (0 <= hi))
    assert c < level - 3 * math.sqrt(level * (1 - level) / reps)
