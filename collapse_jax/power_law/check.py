"""Siloed top-alpha selection collapses variance as a power law (Qiao et al. 2026).

``python -m proofs_checks.power_law`` simulates the recursive Gaussian refit of theory.md
section 1 for many seeds and decides six claims:

1. accumulate + centred current-fit selection: the log-log slope of E Tr Sigma_t is the one
   predicted by the closed form psi(alpha, d) (exact finite-t product over the fit window;
   -psi asymptotically), extrapolated to n -> inf over n, 2n, 4n (Richardson);
2. for the chosen metric / offset / paradigm: the slope is the one the deterministic equivalent
   predicts (expected kept moments iterated from each seed's setting on their own Monte Carlo,
   extrapolated to the simulation's fluctuation; no selected sample of the run enters it);
3. without selection accumulate keeps E Tr Sigma_t at its closed form (bounded); with
   selection it falls below that bound;
4. Theorem 1: the mean converges to u* and W2^2 to the initial model tends to
   ||u* - mu_0||^2 + Tr Sigma_0 (gap ~ t^{-psi/2});
5. replace + selection: geometric collapse with factor b (n - 1) / n per generation;
6. a. the slope's drift from n to 4n is the one the deterministic equivalent predicts;
   b. the offset changes only the transient.

Identities of the update, reported as findings and never as claims: under accumulate
Tr Sigma_t = Tr Sigma_{t-1} (1 - psi_trace_t / (t + 1)) generation by generation, so a rate
read from the run's own kept batches (their dissipation matrix, its spectral gap) reproduces
the measured trace by construction.
"""

from __future__ import annotations

import math
import sys

import jax
import numpy as np

from collapse_jax.core import accumulation, stats
from collapse_jax.core.pool import PARADIGMS
from collapse_jax.engine import batch
from collapse_jax.power_law import equivalent, preset, theory
from collapse_jax.power_law.kernel import (
    METRICS,
    TRUTHS,
    selection_config,
    selection_kernel,
    selection_params,
)
from collapse_jax.verdict import bounds
from collapse_jax.verdict.claim import Claim
from collapse_jax.verdict.cli import (
    Progress,
    apply_quick,
    base_parser,
    check_flags,
    numbered,
    run_check,
)
from collapse_jax.verdict.curves import curve_summary
from collapse_jax.verdict.errors import CheckError
from collapse_jax.verdict.outputs import save_figure

NAME = "power_law"
DEFAULTS = {"seeds": 1000, "generations": 200}
QUICK = {"seeds": 300, "generations": 120, "sweep_seeds": 100}
REPLACE_GENERATIONS = 30
#: Seeds whose settings the deterministic equivalent predicts from (claims 2 and 6a).
EQUIVALENT_SEEDS = 256
#: With ``--chunk-size`` below the seed count every sweep streams, and its statistics use
#: the means of this many contiguous groups of seeds (batch means; ``stream_groups``).
#: MIN_GROUPS = stats.min_seeds(simultaneous_level(len(CLAIMS)), bootstrap=True): fewer groups
#: could not carry the bootstrap CIs (tests/core/test_coverage.py checks the two agree).
MIN_GROUPS, MAX_GROUPS = 24, 100
#: The claims every run decides (their number is the Bonferroni family size).
CLAIMS = ("1", "2", "3a", "3b", "4a", "4b", "5", "6a", "6b")
#: Largest --n: the n sweep keeps 4 n points (int32 indices).
N_MAX = (2**31 - 1) // 4
METRIC_NAMES = ("trace", "logdet", "dist_ref", "dist_truth", "w2_init", "psi_min", "psi_trace",
                "kept_fraction")


def build_parser():
    p = base_parser(NAME, __doc__.split("\n")[0], **DEFAULTS, chunk_note=(
        "the same simulated seeds, but below --seeds the n x offset sweep streams and its CIs "
        "use batch means over groups of seeds instead of single seeds"))
    p.add_argument("--dim", type=int, default=1, help="dimension d (default 1)")
    p.add_argument("--alpha", type=float, default=0.25, help="kept fraction in (0, 1] (0.25)")
    p.add_argument("--n", type=int, default=200, help="points kept per generation (200)")
    p.add_argument("--silos", type=int, default=1,
                   help="silos per seed, each with its own reference (1)")
    p.add_argument("--paradigm", default="accumulate", choices=PARADIGMS,
                   help="paradigm of the selected setting of claims 2 and 4 (accumulate)")
    p.add_argument("--metric", default="current-fit", choices=METRICS,
                   help="selection metric of the selected setting (current-fit)")
    p.add_argument("--fixed-scale", type=float, default=1.0,
                   help="c in the fixed metric (c Sigma*)^-1 (1.0)")
    p.add_argument("--offset", type=float, default=1.0,
                   help="silo bias of u* in truth standard deviations, selected setting (1.0)")
    p.add_argument("--truth", default="standard", choices=TRUTHS, help="ground truth (standard)")
    p.add_argument("--estimator", default="mle", choices=("mle", "unbiased"),
                   help="covariance refit (mle)")
    p.add_argument("--fit-window", type=int, nargs=2, metavar=("START", "END"),
                   help="generations (inclusive) for slope fits (default T/6 .. T)")
    p.add_argument("--precision", default="float64", choices=("float64", "float32"),
                   help="precision of the fit and statistics (float64)")
    p.add_argument("--sample-precision", default="float32", choices=("float64", "float32"),
                   help="precision of the standardised draws (float32; sums run in "
                        "--precision)")
    p.add_argument("--bootstrap", type=int, default=4000, help="bootstrap resamples (4000)")
    p.add_argument("--preset", choices=(preset.NAME,), default=None,
                   help="run an author's experiment instead: qiao-gaussian is Qiao et al.'s "
                        "gaussian_correct.py (d 10, alpha 0.05, fixed metric 0.3 Sigma*, offset "
                        "3 N(0,1) on 5 coordinates, 300 generations, four regimes; --n picks "
                        "the published folder 100, 200 or 500; --seeds the population, default "
                        "1000), set beside their published runs; on the command line it "
                        "shards its seeds over one CPU device per core, or over --devices of "
                        "them)")
    p.split_cpu = lambda a: a.preset is not None  # measured: docs/power_law.md
    return p


def _validate(a):
    apply_quick(a, DEFAULTS, QUICK, ("seeds", "generations"))
    offset_max = 0.01 / float(np.finfo(a.precision).eps)
    checks = [
        # the n x offset sweep runs seeds / 2 (bootstrap CIs over its rows)
        stats.seeds_row(a.seeds, a.plan.declare(CLAIMS), bootstrap=True, share=2),
        bounds.seeds(a.seeds),
        # selection_config's limit on the scan length
        ("--generations", a.generations, 12 <= a.generations <= 10**6, "12 .. 1000000"),
        ("--dim", a.dim, 1 <= a.dim <= 64, "1 .. 64"),
        ("--alpha", a.alpha, 0 < a.alpha <= 1 and math.isfinite(a.alpha), "(0, 1]"),
        # the n sweep keeps up to 4 n points, at least as many candidates (int32 top_k)
        ("--n", a.n, a.dim + 1 <= a.n <= N_MAX, f"dim + 1 = {a.dim + 1} .. {N_MAX} (4 n "
         "points of the n sweep are indexed in int32)"),
        ("--alpha", a.alpha, not 0 < a.alpha <= 1 or round(4 * a.n / a.alpha) <= bounds.INDEX_MAX,
         f">= 4 n / (2**31 - 1) = {4 * a.n / bounds.INDEX_MAX:.3g} (the n sweep draws "
         "N = round(4 n / alpha) candidates, ranked by lax.top_k in int32)"),
        ("--silos", a.silos, a.silos >= 1, ">= 1"),
        bounds.count("--silos", a.silos, why="silo s is folded into the PRNG key as a 32-bit "
                     "word: 2**31 - 1"),
        bounds.scale("--fixed-scale", a.fixed_scale, precision=a.precision),
        # x - u* must resolve the O(1) standardised spread of the draws to two digits
        ("--offset", a.offset, math.isfinite(a.offset) and 0 <= a.offset <= offset_max,
         f"[0, {offset_max:.3g}] (0.01 / eps of --precision {a.precision}: beyond, x - u* "
         "cannot resolve the standardised spread of the draws)"),
        ("--bootstrap", a.bootstrap, a.bootstrap >= 100, ">= 100"),
        bounds.count("--bootstrap", a.bootstrap),
        ("--key", a.key, a.key >= 0, ">= 0"),
    ]
    check_flags(checks)
    if a.fit_window is None:
        a.fit_window = (max(2, a.generations // 6), a.generations)
    start, end = a.fit_window
    if not (1 <= start < end <= a.generations and end - start >= 5):
        raise CheckError(f"--fit-window={start} {end} is invalid: allowed 1 <= START, "
                         f"START + 5 <= END <= generations ({a.generations})")
    if a.precision == "float32" and a.sample_precision == "float64":
        raise CheckError("--sample-precision=float64 is invalid with --precision=float32: "
                         "allowed float32")


def _flat(v):
    """(P, seeds, silos, ...) -> (P, seeds * silos, ...): silos are replicates."""
    v = np.asarray(v)
    return v.reshape(v.shape[:1] + (-1,) + v.shape[3:])


def _late(window):
    """Second half of the fit window: where the 'late-generation' spectral gap is read."""
    return ((window[0] + window[1]) // 2, window[1])


def _derive(window, dissipation: bool):
    """Per-seed quantities the claims need, from one chunk of a sweep's output."""

    def derive(out):
        final, m = out
        m = {k: _flat(v) for k, v in m.items()}
        d = {k: m[k] for k in METRIC_NAMES}
        tr = m["trace"]
        tiny = np.finfo(tr.dtype).tiny
        d["finite"] = np.all(np.isfinite(tr) & (tr > 10 * tiny), axis=-1).astype(float)
        d["band"] = tr / tr[..., :1]
        if not dissipation:
            return d
        truth_tr = np.trace(_flat(final.truth.cov), axis1=-2, axis2=-1)
        d["ratio_T"] = tr[..., -1] / truth_tr
        ref, mu0 = _flat(final.reference), _flat(final.mean0)
        tr0 = np.trace(_flat(final.cov0), axis1=-2, axis2=-1)
        limit = theory.w2_limit_initial(np.sum((ref - mu0) ** 2, axis=-1), tr0)
        gap = limit[..., None] - m["w2_init"]
        d["w2_gap_abs"] = np.abs(gap)
        d["below"] = np.all(gap[..., window[0]:window[1] + 1] > 0, axis=-1).astype(float)
        d["w2_ratio_T"] = m["w2_init"][..., -1] / limit
        late = _late(window)
        d["gap"] = np.stack([theory.dissipation_gap(p, np.arange(tr.shape[-1]), late)
                             for p in m["psi"]])
        return d

    return derive


def _rows(a, key, cfg_kw, params_kw, seeds, derive, progress, label, timing):
    """Run a sweep and return per-row arrays ``(P, rows, ...)`` plus band samples.

    Rows are seeds; with ``--chunk-size`` smaller than the seed count the run streams and
    rows are the means of :func:`stream_groups` contiguous groups of seeds (batch means:
    memory does not grow with seeds, and the groups do not depend on the chunk size).
    """
    cfg = selection_config(**cfg_kw)
    params = selection_params(cfg, **params_kw)
    if a.chunk_size is not None and a.chunk_size < seeds:
        red = batch.GroupMeans(derive, seed_axis=1, keep_first=("band",),
                               groups=stream_groups(seeds), seeds=seeds)
        tm = batch.stream(selection_kernel, key, params, cfg, seeds=seeds, silos=a.silos,
                          chunk_size=a.chunk_size, reduce=red, sweep=True, options=a.batch_options)
        rows, bands = red.result(), red.first["band"]
    else:
        out, tm = batch.run_sweep(selection_kernel, key, params, cfg, seeds=seeds,
                                  silos=a.silos, chunk_size=None, timed=True, options=a.batch_options)
        rows = derive(jax.tree.map(np.asarray, out))
        bands = rows.pop("band")
    timing["compile_s"] += tm.compile_s
    timing["run_s"] += tm.run_s
    timing["seed_generations"] += seeds * a.silos * params.alpha.shape[0] * cfg.generations
    progress.step(label)
    return rows, bands


def _equivalent_slope(a, key, cfg_kw, params_kw, window, fit, boot, timing):
    """Predicted window slope of ``E Tr Sigma_t`` for one setting of the selection kernel:
    the deterministic equivalent (:mod:`collapse_jax.power_law.equivalent`) of the first
    ``EQUIVALENT_SEEDS`` seeds' settings (truth, reference, generation-0 fit: no selected sample
    of the run), with 2 and 4 candidate sets per generation, extrapolated to the simulation's
    fluctuation. ``fit(t, log_curve, window)`` is the slope (log-log or log-linear).

    Returns ``(prediction, half-width, mean-field limit, curve, predict)``: the half-width is
    the bootstrap interval of the prediction over the equivalent's seeds (its own Monte Carlo
    error); ``curve`` the extrapolated seed-mean ``Tr Sigma_t / Tr Sigma_0``; ``predict(w)``
    the prediction for seed weights ``w`` ``(B, seeds)`` (for a paired bootstrap)."""
    cfg = selection_config(**cfg_kw)
    params = selection_params(cfg, **params_kw)
    out, tm = equivalent.equivalent_curves(
        key, params, cfg, n=int(params_kw.get("n", cfg.n_max)), alpha=params_kw["alpha"],
        seeds=min(a.seeds, EQUIVALENT_SEEDS), chunk_size=a.chunk_size,
        # the subsample pool is a uniform subset of the accumulated rows: the same expected
        # moments as accumulate, more fluctuation
        paradigm="accumulate" if cfg.paradigm == "accumulate-subsample" else None,
        options=a.batch_options)
    timing["compile_s"] += tm["compile_s"]
    timing["equivalent_s"] = timing.get("equivalent_s", 0.0) + tm["run_s"]
    curves = [out[g]["trace"] for g in equivalent.GROUPS]
    t = np.arange(curves[0].shape[1])

    def pred(w):
        return equivalent.fluctuation_extrapolated(
            *(fit(t, np.log(w @ c), window) for c in curves))[0]

    est, ci = stats.bootstrap(pred, curves[0], **boot)
    means = [c.mean(axis=0) for c in curves]
    mf = equivalent.fluctuation_extrapolated(*(float(fit(t, np.log(m), window)) for m in means))[1]
    curve = equivalent.fluctuation_extrapolated(*means)[0]
    return float(est), 0.5 * float(ci[1] - ci[0]), float(mf), curve / curve[0], pred


def _widened(ci, half):
    """``ci`` widened in quadrature by an independent error of half-width ``half``."""
    m = 0.5 * (ci[0] + ci[1])
    h = math.hypot(0.5 * (ci[1] - ci[0]), half)
    return (m - h, m + h)


def stream_groups(seeds: int) -> int:
    """Groups of seeds for batch means when streaming: ``MAX_GROUPS`` groups (at least 10
    seeds each where possible, never fewer than ``MIN_GROUPS`` groups)."""
    return min(seeds, max(MIN_GROUPS, min(MAX_GROUPS, seeds // 10)))


def body(a):
    if a.preset is not None:
        return _preset(a)
    _validate(a)
    rng = np.random.default_rng(a.key)
    key = jax.random.key(a.key)
    common = dict(dim=a.dim, n=a.n, alpha=1.0, alpha_min=a.alpha, generations=a.generations,
                  estimator=a.estimator, truth=a.truth, precision=a.precision,
                  sample_precision=a.sample_precision)
    t = np.arange(a.generations + 1)
    window = tuple(a.fit_window)
    psi_cf = float(theory.psi_closed_form(a.alpha, a.dim))
    level = a.plan.level
    boot = dict(rng=rng, resamples=a.bootstrap, level=level)
    timing = {"compile_s": 0.0, "run_s": 0.0, "seed_generations": 0}
    own_selected = a.paradigm != "accumulate" or a.metric != "current-fit"
    progress = Progress(5 + own_selected)
    ns = [a.n, 2 * a.n, 4 * a.n]
    big_offset = 3.0
    derive_full = _derive(window, dissipation=True)
    derive_light = _derive(window, dissipation=False)

    # Main accumulate sweep (alpha = 1 is "no selection"): centred, selected, none.
    pts = [("accumulate+select", a.alpha, 0.0), ("selected", a.alpha, a.offset),
           ("accumulate", 1.0, 0.0)]
    if own_selected:
        pts = [p for p in pts if p[0] != "selected"]
    rows, bands = _rows(a, key, {**common, "paradigm": "accumulate", "metric": "current-fit"},
                        dict(alpha=[p[1] for p in pts], offset=[p[2] for p in pts],
                             fixed_scale=a.fixed_scale),
                        a.seeds, derive_full, progress, "accumulate sweep", timing)
    res = {name: {k: v[i] for k, v in rows.items()} for i, (name, _, _) in enumerate(pts)}
    band = {name: bands[i] for i, (name, _, _) in enumerate(pts)}
    if own_selected:
        gens_s = min(a.generations, REPLACE_GENERATIONS) if a.paradigm == "replace" else \
            a.generations
        rows_s, _ = _rows(a, key, {**common, "paradigm": a.paradigm, "metric": a.metric,
                                   "alpha": a.alpha, "generations": gens_s},
                          dict(alpha=[a.alpha], offset=[a.offset], fixed_scale=a.fixed_scale),
                          a.seeds, derive_full, progress, "selected setting", timing)
        res["selected"] = {k: v[0] for k, v in rows_s.items()}

    # n x offset sweep (one compile, common seeds): claims 1, 6a, 6b.
    sweep_seeds = QUICK["sweep_seeds"] if a.quick else max(2, a.seeds // 2)
    grid = [(n_, 0.0) for n_ in ns] + [(a.n, big_offset)]
    m_sw, _ = _rows(a, key, {**common, "n_max": max(ns), "paradigm": "accumulate",
                             "metric": "current-fit", "alpha": a.alpha},
                    dict(alpha=a.alpha, n=[g[0] for g in grid], offset=[g[1] for g in grid]),
                    sweep_seeds, derive_light, progress, "n x offset sweep", timing)
    tr_sw = m_sw["trace"]

    # Replace sweep over n (claim 5) plus replace without selection (figure).
    t_rep = min(a.generations, REPLACE_GENERATIONS)
    rep_pts = [(n_, a.alpha) for n_ in ns] + [(a.n, 1.0)]
    m_rep, bands_rep = _rows(a, key, {**common, "n_max": max(ns), "paradigm": "replace",
                                      "metric": "current-fit", "generations": t_rep},
                             dict(alpha=[p[1] for p in rep_pts], n=[p[0] for p in rep_pts]),
                             a.seeds, derive_light, progress, "replace sweep", timing)
    res["replace+select"] = {k: v[0] for k, v in m_rep.items()}
    res["replace"] = {k: v[3] for k, v in m_rep.items()}
    band["replace+select"], band["replace"] = bands_rep[0], bands_rep[3]

    claims = []
    # 1. closed-form exponent, n -> inf by Richardson extrapolation over the n sweep.
    def slopes_n(w):
        return [theory.loglog_window_slope(t, np.log(w @ tr_sw[i]), window) for i in range(3)]

    s_inf, ci1 = stats.bootstrap(lambda w: stats.richardson(slopes_n(w), ns), tr_sw[0], **boot)
    raw = [float(v[0]) for v in slopes_n(np.full((1, tr_sw.shape[1]), 1.0 / tr_sw.shape[1]))]
    pred1 = theory.predicted_window_slope(psi_cf, window)
    claims.append(Claim(
        "1", f"accumulate+select, centred current-fit: log-log slope of E Tr Sigma_t over "
        f"t in [{window[0]}, {window[1]}], extrapolated to n -> inf, = finite-t slope of "
        f"psi(alpha={a.alpha:g}, d={a.dim}) = {psi_cf:.4f}",
        pred1, s_inf, ci1, max_half_width=0.02,
        note=f"asymptotic slope -psi = {-psi_cf:.4f}; raw slopes at n = {ns}: "
             + ", ".join(f"{v:.4f}" for v in raw)
             + f" (psi recovered at n={a.n}: {theory.psi_from_slope(raw[0], window):.4f}); "
               "the O(1/n) term comes from the random top-n threshold (effective "
               "alpha (n+1)/(N+1)) and the jitter of the mean around u*"))

    # 2. any metric / offset / paradigm: the rate the deterministic equivalent predicts from
    # the setting alone (its own Monte Carlo; no selected sample of the run enters it).
    r2 = res["selected"]
    late = _late(window)
    gap, gap_ci = stats.mean_ci(r2["gap"], level)
    gap_note = (f"finding, not a claim: late spectral gap lambda_min(Psi) of the kept batches "
                f"over t in [{late[0]}, {late[1]}] = {gap:.4f} [{gap_ci[0]:.4f}, {gap_ci[1]:.4f}] "
                f"vs psi(alpha, d) = {psi_cf:.4f} (measured on the run's own batches, whose "
                "update makes the trace follow it: an identity of the update, not a test)")
    sel_kw = {**common, "alpha": a.alpha, "paradigm": a.paradigm, "metric": a.metric}
    if a.paradigm == "replace":
        w2 = (1, t_rep)
        tt = t[: t_rep + 1]
        slope2, ci2 = stats.log_linear_slope_ci(tt, r2["trace"], w2, **boot)
        fit2, what2 = stats.linear_slope, "log factor per generation"
        sel_kw["generations"] = t_rep
    else:
        w2 = window
        slope2, ci2 = stats.loglog_slope_ci(t, r2["trace"], w2, **boot)
        fit2, what2 = theory.loglog_window_slope, "log-log slope"
    # n_max = 4 n as in claim 6a's sweep: the same seed settings (the real draws of a seed are
    # a prefix of its n_max draws), and with the default metric and paradigm the very program
    # of 6a's equivalent at n, compiled once for both
    pred2, half2, mf2, _, predict2 = _equivalent_slope(
        a, key, {**sel_kw, "n_max": max(ns)},
        dict(alpha=a.alpha, n=a.n, offset=a.offset, fixed_scale=a.fixed_scale), w2, fit2, boot,
        timing)
    k_eq = min(a.seeds, EQUIVALENT_SEEDS)
    streamed = a.chunk_size is not None and a.chunk_size < a.seeds
    paired = a.truth == "random" and not streamed
    if paired:
        # Random truths spread the slope of E Tr Sigma_t far more than the run resolves: compare
        # the first k_eq seeds (silo 0) with the equivalent of the same settings, resampling the
        # seeds jointly (a paired bootstrap of the difference).
        rows2 = np.asarray(r2["trace"])[:: a.silos][:k_eq]
        tt2 = t[: rows2.shape[1]]
        slope2 = float(fit2(tt2, np.log(rows2.mean(axis=0)), w2))
        _, dci2 = stats.bootstrap(lambda w: fit2(tt2, np.log(w @ rows2), w2) - predict2(w),
                                  rows2, **boot)
        ci2 = (pred2 + dci2[0], pred2 + dci2[1])
        how2 = (f"paired: the first {k_eq} seeds (silo 0) against the equivalent of the same "
                "settings, bootstrap of the difference added to the prediction")
    else:
        ci2 = _widened(ci2, half2)
        how2 = (f"the run's bootstrap widened in quadrature by the prediction's {half2:.4f} "
                f"(bootstrap over {k_eq} equivalent seeds)")
    claims.append(Claim(
        "2", f"{a.paradigm}+select, metric={a.metric}, offset={a.offset:g}: {what2} of "
        f"E Tr Sigma_t over t in [{w2[0]}, {w2[1]}] = the deterministic equivalent's (expected "
        "kept moments iterated from each seed's setting on their own Monte Carlo, extrapolated "
        "from 2 and 4 candidate sets per generation to the simulation's fluctuation)",
        pred2, slope2, ci2, max_half_width=0.02 if a.paradigm != "replace" else 0.05,
        note=f"CI: {how2}; mean-field limit {mf2:.4f}"
             + (f"; closed form -psi finite-t slope {theory.predicted_window_slope(psi_cf, w2):.4f}"
                if a.paradigm != "replace" else "")
             + ("; accumulate-subsample predicted by accumulate's expected moments (an "
                "approximation: the subsample adds fluctuation)"
                if a.paradigm == "accumulate-subsample" else "")
             # replace runs REPLACE_GENERATIONS generations: no late window to read a gap in
             + ("" if a.paradigm == "replace" else "; " + gap_note)))

    # 3. accumulate without selection is bounded (closed form); selection goes below.
    m3, ci3 = stats.mean_ci(res["accumulate"]["ratio_T"], level)
    pred3 = float(accumulation.accumulate_trace_ratio(a.n, a.generations, a.estimator))
    claims.append(Claim(
        "3a", f"accumulate, no selection: E Tr Sigma_T / Tr Sigma* at T={a.generations} = exact "
        f"closed form (limit sin(pi/sqrt n)/(pi/sqrt n) = "
        f"{accumulation.accumulate_variance_limit(a.n):.4f} for the MLE)",
        pred3, m3, ci3, max_half_width=0.05))
    m3b, ci3b = stats.mean_ci(res["accumulate+select"]["ratio_T"], level)
    claims.append(Claim(
        "3b", "accumulate+select: E Tr Sigma_T / Tr Sigma* falls below the no-selection value "
        "of 3a (selection accelerates collapse)",
        pred3, m3b, ci3b, max_half_width=0.05, relation="below",
        note=f"ratio with/without selection at T = {m3b / m3:.4g}"))

    # 4. Theorem 1 on the selected setting.
    w4 = (1, t_rep) if a.paradigm == "replace" else window
    fit4 = stats.log_linear_slope_ci if a.paradigm == "replace" else stats.loglog_slope_ci
    tt4 = t[: t_rep + 1] if a.paradigm == "replace" else t
    # The mean cannot get closer to u* than the float resolution of u*: fit only where the
    # seed-mean error is still above that floor (it reaches exactly 0 under fast collapse).
    resolved = np.nonzero(np.mean(r2["dist_ref"], axis=0)[: w4[1] + 1] > 0)[0]
    w4a = (w4[0], int(resolved.max()) if resolved.size else w4[0])
    s4a, ci4a = (fit4(tt4, r2["dist_ref"], w4a, **boot) if w4a[1] - w4a[0] >= 3
                 else (float("nan"), (float("nan"), float("nan"))))
    s_tr, _ = fit4(tt4, r2["trace"], w4, **boot)
    claims.append(Claim(
        "4a", "Theorem 1, selected setting: ||mu_t - u*||^2 -> 0 (slope of "
              "log E||mu_t - u*||^2 over the window < 0)",
        0.0, s4a, ci4a, max_half_width=0.2, relation="below",
        note=f"ratio to the trace slope = {s4a / s_tr:.3f} (mean error ~ Tr Sigma_t^2: the "
             "standardised offset of the mean decays as well)"
             + ("" if w4a[1] == w4[1] else f"; fitted over t <= {w4a[1]}: after that the mean "
                "equals u* to floating-point resolution")))
    frac_below = float(np.mean(r2["below"]))
    s4b, ci4b = fit4(tt4, r2["w2_gap_abs"], w4, **boot)
    w2_final, w2_ci = stats.mean_ci(r2["w2_ratio_T"], level)
    claims.append(Claim(
        "4b", "Theorem 1: W2^2(N_t, N_0) -> ||u* - mu_0||^2 + Tr Sigma_0 (slope of the log "
              "gap over the window < 0)",
        0.0, s4b, ci4b, max_half_width=0.2, relation="below",
        note=f"gap slope / trace slope = {s4b / s_tr:.3f} (inferred 0.5: gap ~ t^(-psi/2)); "
             f"W2^2 / limit at T = {w2_final:.4f} [{w2_ci[0]:.4f}, {w2_ci[1]:.4f}]; "
             f"{frac_below:.0%} of seeds approach from below over the whole window"))

    # 5. replace + selection: geometric factor, n -> inf by Richardson.
    tr_rep = m_rep["trace"][:3]
    t5 = t[: t_rep + 1]
    w5 = (1, t_rep)
    corr = [(n_ - 1.0) / n_ if a.estimator == "mle" else 1.0 for n_ in ns]

    def b_n(w):
        return [np.exp(stats.linear_slope(t5, np.log(w @ tr_rep[i]), w5)) / corr[i] for i in range(3)]

    finite5 = float(np.min(np.mean(m_rep["finite"][:3], axis=1)))
    b_inf, ci5 = stats.bootstrap(lambda w: stats.richardson(b_n(w), ns), tr_rep[0], **boot)
    n_rows = tr_rep.shape[1]
    raw5 = [float(v[0]) * c for v, c in zip(b_n(np.full((1, n_rows), 1.0 / n_rows)), corr)]
    b_cf = 1.0 - psi_cf
    claims.append(Claim(
        "5", f"replace+select: E Tr Sigma_t shrinks by b(n-1)/n per generation, b = 1 - psi = "
             f"{b_cf:.4g} (t = 1..{t_rep}; b measured as factor / ((n-1)/n), n -> inf)",
        b_cf, b_inf, ci5, max_half_width=0.1 * b_cf,
        note=f"raw factors at n = {ns}: " + ", ".join(f"{v:.5f}" for v in raw5)
             + f" vs b(n-1)/n = {theory.replace_select_factor(a.alpha, a.dim, a.n, a.estimator):.5f}"
             f"; {finite5:.0%} of seeds stayed finite above the smallest normal number "
             f"({a.precision})" + ("" if finite5 == 1 else " -> variance underflow: use "
                                   "--precision float64")))

    # 6. n- and offset-dependence of the exponent.
    d6, ci6 = stats.bootstrap(lambda w: (lambda s: s[0] - s[2])(slopes_n(w)), tr_sw[0], **boot)
    sw_kw = {**common, "n_max": max(ns), "paradigm": "accumulate", "metric": "current-fit",
             "alpha": a.alpha}
    p_n = [_equivalent_slope(a, key, sw_kw, dict(alpha=a.alpha, n=n_, offset=0.0), window,
                             theory.loglog_window_slope, boot, timing) for n_ in (ns[0], ns[2])]
    progress.step("deterministic equivalents (claims 2, 6a)")
    pred6 = p_n[0][0] - p_n[1][0]
    claims.append(Claim(
        "6a", f"the exponent's finite-n drift is the one the deterministic equivalent predicts: "
              f"window slope at n = {ns[0]} minus at n = {ns[2]} (centred, accumulate)",
        pred6, d6, _widened(ci6, math.hypot(p_n[0][1], p_n[1][1])), max_half_width=0.02,
        note="raw slope differences from n: " + ", ".join(f"{v - raw[0]:+.5f}" for v in raw)
             + f"; equivalent slopes at n = {ns[0]}, {ns[2]}: {p_n[0][0]:.4f}, {p_n[1][0]:.4f} "
             f"(mean-field {p_n[0][2]:.4f}, {p_n[1][2]:.4f}); a drift of zero would mean no "
             "finite-n effect, the closed form's limit is claim 1"))
    psi_sw = m_sw["psi_trace"]
    half = (window[0] + window[1]) // 2
    early = (t >= window[0]) & (t <= half)
    late = (t > half) & (t <= window[1])
    lt = np.log(np.mean(t[late])) - np.log(np.mean(t[early]))

    def deficit_slope(w):
        # a deficit that is not positive (no selection: it has no sign) gives a non-finite
        # slope, which the bootstrap counts and the claim reports, without numpy's warnings
        d = (w @ psi_sw[0]) - (w @ psi_sw[3])
        with np.errstate(divide="ignore", invalid="ignore"):
            return (np.log(np.nanmean(d[:, late], axis=1))
                    - np.log(np.nanmean(d[:, early], axis=1))) / lt

    s6b, ci6b = stats.bootstrap(deficit_slope, psi_sw[0], **boot)
    slope_off = float(theory.loglog_window_slope(t, np.log(tr_sw[3].mean(0)), window))
    claims.append(Claim(
        "6b", f"the offset changes only the transient: the dissipation deficit psi(offset 0) - "
              f"psi(offset {big_offset:g}) shrinks over the window (log-log slope < 0)",
        0.0, s6b, ci6b, max_half_width=0.5, relation="below",
        note=f"slopes over the window: offset 0: {raw[0]:.4f}, offset {big_offset:g}: "
             f"{slope_off:.4f}; off-centre runs decay more slowly than the centred rate and "
             "approach it from the slow side"))
    stats.flag_nonfinite(claims)

    curves = {name: {k: curve_summary(r[k]) for k in METRIC_NAMES} for name, r in res.items()}
    for i, g in enumerate(grid):
        curves[f"sweep:n={g[0]},offset={g[1]:g}"] = {k: curve_summary(m_sw[k][i])
                                                     for k in ("trace", "psi_trace")}
    for i, (n_, al) in enumerate(rep_pts[:3]):
        curves[f"replace+select:n={n_}"] = {"trace": curve_summary(m_rep["trace"][i])}
    config = {k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(a).items()}
    config.update(sweep_seeds=sweep_seeds, replace_generations=t_rep, psi_closed_form=psi_cf,
                  n_sweep=ns, offset_sweep=[0.0, big_offset])
    report = {
        "config": config,
        "precision": {"fit": a.precision, "sampling": a.sample_precision},
        "ci_level": level,
        "ci_note": a.plan.note()
                   + "; Student t for means, BCa bootstrap "
                   "(Student-expanded) for fitted rates, over "
                   + (f"the means of {stream_groups(a.seeds)} groups of seeds (streamed)"
                      if a.chunk_size and a.chunk_size < a.seeds else "seeds"),
        "timing": {"compile_s": timing["compile_s"], "run_s": timing["run_s"],
                   "equivalent_s": timing.get("equivalent_s", 0.0),
                   "seed_generations_per_s": timing["seed_generations"]
                   / max(timing["run_s"], 1e-9)},
        "curves": curves,
        "findings": {"slope_n_inf": s_inf, "slopes_by_n": dict(zip(map(str, ns), raw)),
                     "dissipation_gap_selected": gap, "dissipation_gap_ci": list(gap_ci),
                     "replace_factor_by_n": dict(zip(map(str, ns), raw5))},
    }

    def figure(path):
        from collapse_jax.power_law import figures as plots

        grid_pts = _psi_grid(a, key)
        bands = {name: band[name]
                 for name in ("accumulate+select", "accumulate", "replace+select", "replace")}
        fig = plots.power_law_figure(
            bands, window=window, fitted_slope=raw[0], predicted_slope=pred1, psi=psi_cf,
            psi_grid=grid_pts, equivalent={"accumulate+select": p_n[0][3]},
            replace_factor=theory.replace_select_factor(a.alpha, a.dim, a.n, a.estimator),
            title=f"alpha={a.alpha:g}, d={a.dim}, n={a.n}, {a.seeds} seeds")
        save_figure(fig, path, dpi=120, bbox_inches="tight")

    progress.step("statistics")
    return report, claims, figure


def _psi_grid(a, key):
    """Measured vs closed-form psi over a small (alpha, d) grid (one compile per d)."""
    alphas = [0.1, 0.25, 0.5, 0.75]
    out = []
    for dim, seeds in ((1, 200), (2, 64), (4, 64)):
        n = max(a.n, 4 * dim)
        gens = min(a.generations, 120)
        cfg = selection_config(dim=dim, n=n, alpha=max(alphas), alpha_min=min(alphas),
                               generations=gens, precision=a.precision,
                               sample_precision=a.sample_precision)
        params = selection_params(cfg, alpha=alphas)
        (_, m) = batch.run_sweep(selection_kernel, key, params, cfg, seeds=seeds,
                                 options=a.batch_options)
        tr = np.asarray(m["trace"])[:, :, 0]
        tt = np.arange(gens + 1)
        win = (max(2, gens // 6), gens)
        for i, al in enumerate(alphas):
            slope, ci = stats.loglog_slope_ci(tt, tr[i], win, rng=np.random.default_rng(i),
                                              resamples=300)
            ends = sorted(theory.psi_from_slope(float(c), win) for c in ci)
            out.append({"alpha": al, "dim": dim, "seeds": seeds,
                        "predicted": float(theory.psi_closed_form(al, dim)),
                        "measured": theory.psi_from_slope(float(slope), win), "ci": ends})
    return out


def _preset(a):
    """``--preset qiao-gaussian`` (:mod:`collapse_jax.power_law.preset`)."""
    level = preset.validate(a, vars(build_parser().parse_args([])))
    key = jax.random.key(a.key)
    timing = {"compile_s": 0.0, "run_s": 0.0, "seed_generations": 0}
    claims, curves, findings, config = preset.body(a, key, level, timing)
    sg = timing.pop("seed_generations")
    differences = numbered(preset.DIFFERENCES)
    report = {
        "summary": preset.summary(findings, a.n, a.seeds),
        "config": {**dict(vars(a)), **config, "ci_level_per_claim": level},
        "precision": {"fit": "float64", "sampling": "float32"},
        "timing": {**timing, "seed_generations_per_s": sg / max(timing["run_s"], 1e-9)},
        "curves": curves,
        "findings": findings,
        "ci_level": level,
        "ci_note": a.plan.note()
                   + "; Student t for means and paired differences, Welch two-sample intervals "
                   f"for the typicality claims. Differences from the authors' run that remain: "
                   f"{differences}",
    }

    def figure(path):
        from collapse_jax.power_law import figures as plots

        fig = plots.preset_figure(curves, findings, n=a.n, window=preset.WINDOW,
                                  seeds=a.seeds)
        save_figure(fig, path, dpi=110, bbox_inches="tight")

    return report, claims, figure


def main(argv=None) -> int:
    return run_check(NAME, build_parser(), body, argv, wall_time=True)


if __name__ == "__main__":
    sys.exit(main())
