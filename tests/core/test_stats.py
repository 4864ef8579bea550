import math

import numpy as np
import pytest
from scipy import stats as st

from collapse_jax.core import stats
from collapse_jax.power_law import theory as pl_theory


def _noisy_power_law(rng, seeds, slope=-0.7):
    # Per-seed level c_i and per-(seed, t) multiplicative noise with mean 1: the seed-mean
    # curve E y_t is exactly proportional to t^slope, every finite sample is not.
    t = np.arange(1, 201)
    c = np.exp(rng.normal(size=(seeds, 1)) * 0.3)
    e = rng.normal(size=(seeds, t.size)) * 0.5
    return t, c * t[None, :] ** slope * np.exp(e - 0.125)


def test_loglog_slope_ci_of_noisy_power_law_curves():
    t, curves = _noisy_power_law(np.random.default_rng(0), 400)
    s, (lo, hi) = stats.loglog_slope_ci(t, curves, (20, 200), rng=np.random.default_rng(1),
                                        resamples=1000)
    assert s == pytest.approx(-0.7, abs=0.02)
    assert lo < s < hi and lo <= -0.7 <= hi
    # A real interval: wider than rounding, narrow enough to tell -0.7 from -0.65.
    assert 1e-3 < 0.5 * (hi - lo) < 0.025
    assert not lo <= -0.65 <= hi


def test_loglog_slope_ci_rejects_a_wrong_exponent():
    t, curves = _noisy_power_law(np.random.default_rng(5), 400, slope=-0.6)
    _, (lo, hi) = stats.loglog_slope_ci(t, curves, (20, 200), rng=np.random.default_rng(6),
                                        resamples=1000)
    assert lo <= -0.6 <= hi and not lo <= -0.7 <= hi


def test_mean_ci_is_student():
    x = np.random.default_rng(1).normal(size=7)
    m, (lo, hi) = stats.mean_ci(x, 0.99)
    half = st.t.ppf(0.995, 6) * x.std(ddof=1) / math.sqrt(7)
    assert m == pytest.approx(x.mean()) and hi - m == pytest.approx(half)
    assert half > st.norm.ppf(0.995) * x.std(ddof=1) / math.sqrt(7) * 1.2  # not z
    assert all(math.isnan(v) for v in stats.mean_ci([1.0], 0.95)[1])
    assert all(math.isnan(v) for v in stats.mean_ci([1.0, np.nan, 2.0], 0.95)[1])


def test_mean_ci_coverage():
    rng = np.random.default_rng(1)
    hits = sum(lo <= 0.0 <= hi for lo, hi in
               (stats.mean_ci(rng.normal(size=5))[1] for _ in range(4000)))
    # Student at 5 seeds is exact: 95%, binomial SE over 4000 trials 0.0034; allow 4 SE.
    # (The normal interval it replaced covers 87.9% here.)
    assert abs(hits / 4000 - 0.95) < 4 * 0.0034


def test_t_quantile():
    assert stats.t_quantile(0.95, 9) == pytest.approx(st.t.ppf(0.975, 9))
    assert stats.t_quantile(0.95, None) == pytest.approx(1.959964, abs=1e-6)
    assert stats.t_quantile(0.95, math.inf) == stats.t_quantile(0.95, None)
    with pytest.raises(ValueError):
        stats.t_quantile(1.0, 3)


def test_ratio_ci():
    rng = np.random.default_rng(2)
    den = rng.gamma(4.0, 0.25, size=300)
    num = 0.6 * den + 0.1 * rng.normal(size=300)
    r, (lo, hi) = stats.ratio_ci(num, den, 0.99)
    _, se = stats.ratio_se(num, den)
    assert r == pytest.approx(num.sum() / den.sum())
    assert hi - r == pytest.approx(st.t.ppf(0.995, 299) * se)
    assert lo < 0.6 < hi and hi - lo < 0.05


def test_proportion_ci_clopper_pearson():
    lo, hi = stats.proportion_ci(0, 20, 0.95)
    assert lo == 0.0 and hi == pytest.approx(1 - 0.025 ** (1 / 20))
    lo, hi = stats.proportion_ci(20, 20, 0.95)
    assert hi == 1.0 and lo == pytest.approx(0.025 ** (1 / 20))
    lo, hi = stats.proportion_ci(7, 20, 0.95)
    assert st.binom.sf(6, 20, lo) == pytest.approx(0.025)  # P(X >= 7 | lo) = alpha / 2
    assert st.binom.cdf(7, 20, hi) == pytest.approx(0.025)


def test_median_ci_order_statistics():
    x = np.random.default_rng(3).permutation(np.arange(100.0))
    med, (lo, hi) = stats.median_ci(x, 0.95)
    j, k = stats.median_ranks(100, 0.95)
    assert med == 49.5 and (lo, hi) == (j, k) and k == 99 - j
    assert st.binom.cdf(j, 100, 0.5) <= 0.025 < st.binom.cdf(j + 1, 100, 0.5)


def test_min_seeds():
    # 2^(1-n) <= alpha; the bootstrap three times over.
    assert stats.min_seeds(0.95) == 6  # 1 + log2(20) = 5.3
    assert stats.min_seeds(1 - 0.05 / 8) == 9
    assert stats.min_seeds(1 - 0.05 / 8, bootstrap=True) == 23  # 1 + 3 log2(160) = 22.97
    for level in (0.9, 0.99, 1 - 0.05 / 21):
        n = stats.min_seeds(level)
        assert 2.0 ** (1 - n) <= 1 - level < 2.0 ** (2 - n)
        assert stats.median_ranks(n, level) is not None
        assert stats.median_ranks(n - 1, level) is None
    flag, value, ok, allowed = stats.seeds_row(22, 1 - 0.05 / 8, bootstrap=True)
    assert (flag, value, ok) == ("--seeds", 22, False) and allowed.startswith(">= 23 (")
    assert stats.seeds_row(23, 1 - 0.05 / 8, bootstrap=True)[2]
    assert stats.seeds_row(45, 1 - 0.05 / 8, bootstrap=True, share=2)[3].startswith(">= 46")


def _mean_stat(data):
    return lambda w: (w @ data).mean(axis=1)


def test_bootstrap_is_reproducible_and_seed_dependent():
    data = np.random.default_rng(2).normal(size=(100, 5))
    f = _mean_stat(data)
    a = stats.bootstrap(f, data, rng=np.random.default_rng(3), resamples=2000)
    b = stats.bootstrap(f, data, rng=np.random.default_rng(3), resamples=2000)
    c = stats.bootstrap(f, data, rng=np.random.default_rng(4), resamples=2000)
    assert a == b
    assert a[0] == c[0] and a[1] != c[1]  # same estimate, other resamples


def test_bootstrap_blocks_bound_memory_and_keep_the_numbers(monkeypatch):
    # No (resamples x seeds) matrix: the statistic sees blocks of bounded size, and the
    # resamples (hence the interval, to rounding of the block products) do not depend on it.
    data = np.random.default_rng(2).normal(size=(300, 4))
    seen = []

    def f(w):
        seen.append(w.copy())
        return (w @ data).mean(axis=1)

    ref = stats.bootstrap(f, data, rng=np.random.default_rng(3), resamples=3000)
    assert max(w.size for w in seen) <= stats.BLOCK_ENTRIES
    weights = np.concatenate(seen)
    seen.clear()
    monkeypatch.setattr(stats, "BLOCK_ENTRIES", 300 * 7)
    monkeypatch.setattr(stats, "BLOCK_ROWS", 7)
    small = stats.bootstrap(f, data, rng=np.random.default_rng(3), resamples=3000)
    assert max(w.shape[0] for w in seen) == 7 and all(w.shape[1] == 300 for w in seen)
    np.testing.assert_array_equal(np.concatenate(seen), weights)
    assert small[0] == ref[0] and small[1] == pytest.approx(ref[1], rel=1e-12)
    assert small[1].replicates == ref[1].replicates > 3000


def test_bootstrap_never_drops_nonfinite_replicates():
    data = np.random.default_rng(5).normal(size=(40, 3))

    def f(w):  # NaN whenever seed 0 is drawn three times or more
        out = (w @ data).mean(axis=1)
        return np.where(w[:, 0] * 40 >= 3, np.nan, out)

    est, ci = stats.bootstrap(f, data, rng=np.random.default_rng(6), resamples=1000)
    expected = int(np.sum(np.random.default_rng(6).multinomial(40, np.full(40, 1 / 40),
                                                                size=1000)[:, 0] >= 3))
    assert math.isfinite(est) and expected > 0
    assert all(math.isnan(v) for v in ci) and ci.nonfinite == expected
    note = stats.nonfinite_note(ci)
    assert f"{expected} of {ci.replicates}" in note

    class C:
        note = "x"

    c = C()
    c.ci = ci
    stats.flag_nonfinite([c])
    assert c.note.startswith("x; ") and str(expected) in c.note
    ok = stats.bootstrap(_mean_stat(data), data, rng=np.random.default_rng(6), resamples=1000)
    assert ok[1].nonfinite == 0 and stats.nonfinite_note(ok[1]) == ""


def test_bootstrap_draws_more_resamples_for_thin_tails():
    x = np.random.default_rng(7).normal(size=16)
    _, ci = stats.bootstrap(lambda w: w @ x, x, rng=np.random.default_rng(8), resamples=1000,
                            level=1 - 0.05 / 8)
    assert ci.replicates > 1000 + 16
    _, ci = stats.bootstrap(lambda w: w @ x, x, rng=np.random.default_rng(8), resamples=1000,
                            level=0.8)
    assert ci.replicates == 1000 + 16


def test_jackknife_groups_bound_the_cost():
    data = np.arange(5000.0)
    calls = []

    def f(w):
        calls.append(w.shape[0])
        return w @ data

    jack = stats.jackknife_replicates(f, 5000)
    assert jack.shape == (stats.JACKKNIFE_GROUPS,) and sum(calls) == stats.JACKKNIFE_GROUPS
    # Deleting group g (5 seeds) moves the mean by (mean - mean of group) / (groups - 1).
    assert jack[0] == pytest.approx(np.mean(data[5:]))


def test_dissipation_gap_uses_window_mean():
    psi = np.zeros((3, 10, 2, 2))
    psi[..., 0, 0], psi[..., 1, 1] = 0.9, 0.4
    np.testing.assert_allclose(pl_theory.dissipation_gap(psi, np.arange(10), (2, 9)), 0.4)


def test_stats_is_generic_and_imports_no_family_theory():
    import subprocess
    import sys

    code = ("import sys, collapse_jax.core.stats; "
            "assert not any(m.startswith('collapse_jax.power_law.theory') for m in sys.modules), "
            "sorted(m for m in sys.modules if m.startswith('collapse_jax'))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]


def _dist_cases():
    """(helper, its scipy.stats twin, arguments): random points plus the edges of each
    argument's range (0, 1, infinities, out of range, NaN)."""
    rng = np.random.default_rng(7)
    p = np.concatenate([rng.uniform(size=2000), [0.0, 1.0, 1e-16, 1 - 1e-16, -0.1, 1.1, np.nan]])
    x = np.concatenate([rng.normal(scale=5.0, size=2000), [0.0, -np.inf, np.inf, 40.0, -40.0,
                                                            np.nan, 1e-300]])
    pos = np.abs(x) * 3
    df = np.resize(rng.uniform(0.5, 60.0, size=97), p.size)
    a = np.resize(rng.uniform(1e-3, 400.0, 89), p.size)
    b = np.resize(rng.uniform(1e-3, 4000.0, 83), p.size)
    return [
        (stats.norm_ppf, st.norm.ppf, (p,)),
        (stats.norm_cdf, st.norm.cdf, (x,)),
        (stats.norm_sf, st.norm.sf, (x,)),
        (stats.norm_pdf, st.norm.pdf, (x,)),
        (stats.t_ppf, st.t.ppf, (p, df)),
        (stats.chi2_cdf, st.chi2.cdf, (pos, df)),
        (stats.chi2_ppf, st.chi2.ppf, (p, df)),
        (stats.chi2_isf, st.chi2.isf, (p, df)),
        (stats.beta_ppf, st.beta.ppf, (p, a, b)),
    ]


@pytest.mark.parametrize("helper,twin,args", _dist_cases(),
                         ids=lambda v: getattr(v, "__name__", ""))
def test_distribution_helpers_equal_scipy_stats_to_the_last_digit(helper, twin, args):
    """The checks' statistics use these helpers instead of importing scipy.stats (0.5 s):
    they must give scipy.stats' numbers exactly, NaN where it gives NaN, and a negative
    control (the quantile one ulp off) must be told apart."""
    mine, ref = np.asarray(helper(*args), float), np.asarray(twin(*args), float)
    np.testing.assert_array_equal(mine, ref)
    assert np.isfinite(ref).sum() > 1000
    off = np.nextafter(ref, np.inf)
    fin = np.isfinite(ref)
    assert not np.array_equal(mine[fin], off[fin])
