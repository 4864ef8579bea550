"""Mixing real data into every generation keeps a Gaussian refit stable (Bertrand et al. 2024).

``python -m proofs_checks.real_mixing`` refits a Gaussian, generation after generation, by
maximising ``(1/n) sum_real log p + lam (1/m) sum_synth log p`` over a fixed real set of
``n`` points and ``m`` fresh draws from the previous fit (theory.md 3.5). With
``w = lam / (1 + lam)`` the fit is ``mu' = (1-w) rbar + w ybar``,
``Sigma' = (1-w) S + w C + w (1-w)(ybar - rbar)(ybar - rbar)^T`` and, exactly,

    M' = w^2 (M + V/m),   V' = (1 - w) Tr S + (w - w^2/m) V + w (1 - w) M

for ``M = E ||mu_t - rbar||^2`` and ``V = E Tr Sigma_t`` (:func:`collapse_jax.classic.theory.
mixing_matrix`; eigenvalues ``w`` and ``w^2 (1 - 1/m)``). Stationary law of the moments, with
``q = lam^2 / (m (1 + 2 lam))``: ``V / Tr S = 1/(1+q)``, ``M / Tr S = q/(1+q)``. The check
decides:

1. for every finite ``lam``: ``E Tr Sigma_t / Tr S`` averaged over the second half equals
   the exact recursion (bounded, near ``1/(1+q)``);
2. ``E ||mu_t - rbar||^2 / Tr S`` likewise (the stationary error ``q/(1+q)``);
3. stability: ``E log Tr Sigma_t`` has no drift over the second half, at the largest finite
   ``lam`` (and ``Tr Sigma_t >= Tr S / (1 + lam)`` deterministically: no seed collapses);
4. the stationary error grows with ``lam``;
5. ``lam = inf`` is replace: ``E log det Sigma_t`` drifts by ``kappa(m)`` per generation, and
6. the fraction of collapsed seeds follows replace's exact law (the stationary errors
   ``q/(1+q)`` tend to replace's limit 1 as ``lam -> inf``);
7. with ``lam`` times as many synthetic points instead (``m = lam n``, plain MLE on the union),
   ``q -> 1/(2n)``: the variance stays near ``Tr S``; replace is *not* recovered;
8. accumulate (every synthetic batch kept, no real mixing): ``E Tr Sigma_T / Tr Sigma*``
   follows its exact product, whose limit is ``sin(pi/sqrt n)/(pi/sqrt n)`` (theory.md 3.8,
   :func:`collapse_jax.power_law.accumulation.accumulate_trace_ratio`; the pool of
   :mod:`collapse_jax.core.pool`).

All confidence intervals are simultaneous over the claims of the run (Bonferroni). The
stationary variance has a power-law tail whose index falls as ``lam`` grows (solving
``E (w chi2_(m-1)/m)^p = 1``: about 7.4 at ``lam = 4``, 3.3 at ``lam = 16`` for ``m = 20``,
an upper bound since the mean's share of the update is left out); the default grid stays
where plain means are trustworthy.
"""

from __future__ import annotations

import math
import sys

import numpy as np

from collapse_jax.classic import theory as theory_classic
from collapse_jax.classic.kernel import TRUTHS, lam_label, refit_config, refit_kernel, refit_params
from collapse_jax.core import accumulation, stats
from collapse_jax.engine import batch
from collapse_jax.verdict import bounds
from collapse_jax.verdict.claim import Claim, with_seeds
from collapse_jax.verdict.cli import Progress, apply_quick, base_parser, check_flags, run_check
from collapse_jax.verdict.errors import CheckError
from collapse_jax.verdict.outputs import save_figure

NAME = "real_mixing"
DEFAULTS = {"seeds": 4000, "generations": 100}
QUICK = {"seeds": 2000, "generations": 60}
ACCUMULATE_SEED_FACTOR = 4
CURVES = ("var", "err", "log_var", "trace_truth", "dist_truth")
#: Seeds whose whole curves the figure keeps (medians of the heavy-tailed replace run).
FIGURE_SEEDS = 4096


def build_parser():
    p = base_parser(NAME, __doc__.split("\n")[0], **DEFAULTS)
    p.add_argument("--n", type=int, default=20, help="real points (fixed per seed) (20)")
    p.add_argument("--m", type=int, default=None,
                   help="synthetic draws per generation (default n)")
    p.add_argument("--lam", type=float, nargs="+", default=[0.25, 1.0, 4.0],
                   help="synthetic weights lam >= 0 to check (0.25 1 4); lam = inf (replace) "
                        "is always added")
    p.add_argument("--dim", type=int, default=1, help="dimension d (1)")
    p.add_argument("--truth", default="standard", choices=TRUTHS, help="truth (standard)")
    return p


def _validate(a):
    apply_quick(a, DEFAULTS, QUICK, ("seeds", "generations"))
    if a.m is None:
        a.m = a.n
    checks = [
        _seeds_row(a),
        bounds.seeds(a.seeds),
        ("--generations", a.generations, 10 <= a.generations <= 100000, "10 .. 100000"),
        ("--dim", a.dim, 1 <= a.dim <= 16, "1 .. 16"),
        ("--n", a.n, a.dim + 1 <= a.n <= 100000, f"dim + 1 = {a.dim + 1} .. 100000"),
        ("--m", a.m, a.dim + 1 <= a.m <= 100000, f"dim + 1 = {a.dim + 1} .. 100000"),
        ("--key", a.key, a.key >= 0, ">= 0"),
    ]
    check_flags(checks)
    for lam in a.lam:
        if not lam >= 0:
            raise CheckError(f"--lam={lam!r} is invalid: allowed values in [0, inf]")
    finite = sorted({float(x) for x in a.lam if math.isfinite(x)})
    if not finite or max(finite) <= 0:
        raise CheckError(f"--lam={a.lam!r} is invalid: allowed at least one finite value > 0")
    a.lam = finite
    lam_c = max(finite)
    a.count_m = int(round(lam_c * a.n))
    if a.count_m > 20000 or a.count_m < a.dim + 1:
        raise CheckError(f"--lam={lam_c!r} is invalid with --n={a.n}: the count-scaling run "
                         f"needs dim + 1 <= round(lam n) <= 20000 synthetic points")
    # Degenerate configurations: a claim that compares two runs that are the same run has a
    # width cap of 0 and can never pass, whatever the number of seeds.
    if len(finite) < 2:
        raise CheckError(f"--lam={a.lam!r} is invalid: allowed at least two distinct finite "
                         "values (claim 4 compares the stationary error at the largest and "
                         "the smallest lam)")
    if a.count_m == a.m:
        raise CheckError(f"--lam={lam_c!r} is invalid with --n={a.n} --m={a.m}: the count "
                         f"scaling m = round(lam n) = {a.count_m} equals --m, so claim 7 would "
                         "compare a run with itself; allowed round(max lam * n) != m")


def body(a):
    _validate(a)
    import jax

    key = jax.random.key(a.key)
    T = a.generations
    t = np.arange(T + 1)
    lams = a.lam
    lam_c = max(lams)
    progress = Progress(3)
    timing = {"compile_s": 0.0, "run_s": 0.0, "seed_generations": 0}

    # One compiled sweep: every finite lam, lam = inf (replace), and the count scaling.
    points = ([(lam_label(x), x, a.m) for x in lams] + [("inf", math.inf, a.m)]
              + [(f"count:lam={lam_label(lam_c)}", lam_c, a.count_m)])
    cfg = refit_config(dim=a.dim, n=a.n, m=a.m, m_max=max(a.m, a.count_m), generations=T,
                       paradigm="mix", truth=a.truth)
    params = refit_params(cfg, lam=[p[1] for p in points], m=[p[2] for p in points])
    half = T // 2
    win = slice(half, T + 1)
    tt = t[half:].astype(float)
    xc = tt - tt.mean()
    labels = [p[0] for p in points]

    # The claims need a few numbers per seed (window averages, a slope, the last generation);
    # the curves need the mean and SE over seeds at every t: stream so that memory does not
    # grow with seeds x generations.
    def derive(out, start):
        final, metrics = out
        metrics = {k: v[:, :, 0] for k, v in metrics.items()}  # drop the silo axis
        tr_real = np.trace(final.real_cov[:, :, 0], axis1=-2, axis2=-1)[..., None]  # (P, S, 1)
        tr_star = np.trace(final.truth.cov[:, :, 0], axis1=-2, axis2=-1)[..., None]
        trace = metrics["trace"]
        d = {}
        for i, label in enumerate(labels):
            var = trace[i] / tr_real[i]
            err = metrics["dist_real"][i] / tr_real[i]
            log_var = np.log(var)
            curves_i = {"var": var, "err": err, "log_var": log_var,
                        "trace_truth": trace[i] / tr_star[i],
                        "dist_truth": metrics["dist_truth"][i] / tr_star[i]}
            for k, v in curves_i.items():
                d[f"{label}:{k}"] = v
            d[f"{label}:var_avg"] = var[:, win].mean(axis=1)
            d[f"{label}:err_avg"] = err[:, win].mean(axis=1)
            d[f"{label}:var_min"] = var[:, 1:].min(axis=1)
            d[f"{label}:slope"] = (log_var[:, half:] @ xc) / np.sum(xc**2)
            d[f"{label}:log_gv_T"] = metrics["logdet"][i][:, T] - metrics["logdet"][i][:, 0]
            d[f"{label}:err_T"] = err[:, T]
        return d

    red = batch.SeedSummary(derive, curves=tuple(f"{lab}:{k}" for lab in labels for k in CURVES),
                            sample=FIGURE_SEEDS)
    tm = batch.stream(refit_kernel, key, params, cfg, seeds=a.seeds, reduce=red,
                      chunk_size=a.chunk_size, sweep=True, options=a.batch_options)
    timing["compile_s"] += tm.compile_s
    timing["run_s"] += tm.run_s
    timing["seed_generations"] += a.seeds * len(points) * T
    progress.step("mixing sweep")
    kept = red.kept()
    runs = {lab: {k.split(":")[-1]: v for k, v in kept.items() if k.rsplit(":", 1)[0] == lab}
            for lab in labels}

    # Accumulate without mixing: the core.pool accumulate pool, every synthetic batch kept.
    cfg_acc = refit_config(dim=a.dim, n=a.n, generations=T, paradigm="accumulate",
                           truth=a.truth)
    acc_seeds = ACCUMULATE_SEED_FACTOR * a.seeds

    def derive_acc(out, start):
        fin_acc, m_acc = out
        acc_star = np.trace(fin_acc.truth.cov, axis1=-2, axis2=-1).reshape(-1, 1)
        ratio = m_acc["trace"][:, 0] / acc_star
        return {"trace_truth": ratio, "trace_truth_T": ratio[:, T]}

    red_acc = batch.SeedSummary(derive_acc, curves=("trace_truth",))
    tm = batch.stream(refit_kernel, key, refit_params(cfg_acc), cfg_acc, seeds=acc_seeds,
                      reduce=red_acc, chunk_size=a.chunk_size, options=a.batch_options)
    timing["compile_s"] += tm.compile_s
    timing["run_s"] += tm.run_s
    timing["seed_generations"] += acc_seeds * T
    progress.step("accumulate")
    acc_T = red_acc.kept()["trace_truth_T"]
    acc_curve = red_acc.summary("trace_truth")

    level = a.plan.level
    claims = []
    exact = {x: theory_classic.mixing_moments(x, a.m, t) for x in lams}
    preds_v = {x: float(exact[x][win, 1].mean()) for x in lams}
    preds_e = {x: float(exact[x][win, 0].mean()) for x in lams}

    def neighbour_gap(preds, x):
        others = [abs(preds[x] - preds[y]) for y in lams if y != x]
        return 0.5 * min(others) if others else 0.05 * abs(preds[x])

    for x in lams:
        lab = lam_label(x)
        st_e, st_v = theory_classic.mixing_stationary(x, a.m)
        w = theory_classic.mixing_weight(x)
        r = runs[lab]
        m1, ci1 = stats.mean_ci(r["var_avg"], level)
        claims.append(Claim(
            f"1:{lab}", f"lam={lab}: E Tr Sigma_t / Tr S averaged over t = {half}..{T} = exact "
            f"recursion (bounded; stationary 1/(1+q) = {st_v:.4f}, contraction rate "
            f"w = {w:.3f})",
            preds_v[x], m1, ci1, max_half_width=neighbour_gap(preds_v, x),
            note=f"w^{half} = {w ** half:.2g}; deterministic floor Tr Sigma_t / Tr S >= 1 - w = "
                 f"{1 - w:.3f} (measured minimum {float(r['var_min'].min()):.3f}): no seed "
                 "can collapse"))
        m2, ci2 = stats.mean_ci(r["err_avg"], level)
        claims.append(Claim(
            f"2:{lab}", f"lam={lab}: E ||mu_t - rbar||^2 / Tr S averaged over t = {half}..{T} = "
            f"exact recursion (stationary error q/(1+q) = {st_e:.4f})",
            preds_e[x], m2, ci2, max_half_width=neighbour_gap(preds_e, x),
            note="the sum with claim 1 is exactly 1 at every t (the second moment about rbar is "
                 "preserved): measured "
                 f"{float(np.mean(r['var_avg'] + r['err_avg'])):.4f}"))

    # 3. stability at the largest finite lam: no drift of E log Tr Sigma over [T/2, T].
    lab_c = lam_label(lam_c)
    m3, ci3 = stats.mean_ci(runs[lab_c]["slope"], level)
    kappa_m = theory_classic.refit_log_drift(a.m, "mle", a.dim)
    w_c = theory_classic.mixing_weight(lam_c)
    claims.append(Claim(
        "3", f"lam={lab_c}: stable: slope of E log Tr Sigma_t over t = {half}..{T} = 0 "
        f"(stationary; replace drifts by {kappa_m / a.dim:.4f} per coordinate)",
        0.0, m3, ci3, max_half_width=0.25 * abs(kappa_m) / a.dim,
        note=f"transient left at t = {half}: w^t = {w_c ** half:.2g}"
             + (" (not negligible: raise --generations)" if w_c ** half > 1e-2 else "")))

    # 4. the stationary error grows with lam (paired: common seeds across lam).
    lo_lab = lam_label(min(lams))
    diff = runs[lab_c]["err_avg"] - runs[lo_lab]["err_avg"]
    m4, ci4 = stats.mean_ci(diff, level)
    claims.append(Claim(
        "4", f"the stationary error grows with lam: E ||mu_t - rbar||^2 / Tr S (averaged over "
        f"t = {half}..{T}) at lam={lab_c} minus at lam={lo_lab} > 0",
        0.0, m4, ci4, max_half_width=0.5 * abs(preds_e[lam_c] - preds_e[min(lams)]) + 1e-12,
        relation="above",
        note="exact errors: " + ", ".join(f"lam={lam_label(x)}: {preds_e[x]:.4f}" for x in lams)
             + " -> 1 as lam -> inf"))

    # 5-6. lam = inf is replace with m draws.
    r_inf = runs["inf"]
    kappa_d = theory_classic.refit_log_drift(a.m, "mle", a.dim)
    m5, ci5 = stats.mean_ci(r_inf["log_gv_T"] / T, level)
    claims.append(Claim(
        "5", f"lam=inf (replace with m = {a.m} draws): E log det Sigma_t drifts by kappa(m) = "
        f"{kappa_d:.5f} per generation (exact)",
        kappa_d, m5, ci5, max_half_width=0.1 * abs(kappa_d)))
    level6 = 0.1
    pred6 = theory_classic.refit_collapse_probability(a.m, T, level6, "mle", a.dim)
    frac6 = float(np.mean(r_inf["log_gv_T"] / a.dim < math.log(level6)))
    err_inf, err_ci = stats.mean_ci(r_inf["err_T"], level)
    claims.append(Claim(
        "6", f"lam=inf: collapse: fraction of seeds with (det Sigma_T / det S)^(1/d) < "
        f"{level6:g} at T = {T} = exact law (while every finite lam keeps Tr Sigma_t >= "
        "Tr S / (1 + lam))",
        pred6, frac6, stats.proportion_ci(round(frac6 * a.seeds), a.seeds, level),
        max_half_width=0.05,
        note=f"E ||mu_T - rbar||^2 / Tr S under replace: {err_inf:.3f} [{err_ci[0]:.3f}, "
             f"{err_ci[1]:.3f}] vs exact 1 - ((m-1)/m)^T = {1 - ((a.m - 1) / a.m) ** T:.3f}, the "
             "lam -> inf limit of q/(1+q) -> 1 (heavy-tailed: no verdict)"))

    # 7. count scaling m = lam n: replace is not recovered.
    lab7 = f"count:lam={lab_c}"
    pred7 = float(theory_classic.mixing_moments(lam_c, a.count_m, t)[win, 1].mean())
    m7, ci7 = stats.mean_ci(runs[lab7]["var_avg"], level)
    st7 = theory_classic.mixing_stationary(lam_c, a.count_m)[1]
    claims.append(Claim(
        "7", f"lam={lab_c} as a count (m = lam n = {a.count_m}, plain MLE on the union): E Tr "
        f"Sigma_t / Tr S over t = {half}..{T} = exact recursion, stationary {st7:.4f} -> "
        f"1/(1 + 1/(2n)) = {1 / (1 + 1 / (2 * a.n)):.4f} as lam -> inf: replace is not "
        "recovered in this scaling",
        pred7, m7, ci7, max_half_width=0.5 * abs(preds_v[lam_c] - pred7) + 1e-12))

    # 8. accumulate: the sin(pi/sqrt n)/(pi/sqrt n) law, exact at finite T.
    pred8 = float(accumulation.accumulate_trace_ratio(a.n, T))
    m8, ci8 = stats.mean_ci(acc_T, level)
    claims.append(Claim(
        "8", f"accumulate (no real mixing, every synthetic batch kept): E Tr Sigma_T / Tr "
        f"Sigma* = (n-1)/n prod_s (1 - 1/(n (s+1)^2)) at T = {T} (limit sin(pi/sqrt n)/"
        f"(pi/sqrt n) = {accumulation.accumulate_variance_limit(a.n):.4f})",
        pred8, m8, ci8, max_half_width=0.5 * (1.0 - pred8),
        note=f"{acc_seeds} seeds; the CI must exclude 1 (no variance loss)"))
    progress.step("statistics")

    summaries = {lab: {k: red.summary(f"{lab}:{k}") for k in CURVES} for lab in labels}
    curves = {f"mix:lam={lab}": {k: red.curve(f"{lab}:{k}") for k in CURVES} for lab in labels}
    curves["accumulate"] = {"trace_truth": red_acc.curve("trace_truth")}
    sample = red.sampled()
    config = dict(vars(a))
    config.update(ci_level_per_claim=level, t_quantile=stats.t_quantile(level, a.seeds - 1),
                  points=[{"label": p[0], "lam": p[1], "m": p[2]} for p in points],
                  normalisation="var, err: per seed by Tr S (the real data's MLE covariance)")
    report = {
        "config": config,
        "ci_level": level,
        "ci_note": a.plan.note(),
        "precision": {"fit": "float64", "sampling": "float64"},
        "timing": {"compile_s": timing["compile_s"], "run_s": timing["run_s"],
                   "seed_generations_per_s": timing["seed_generations"]
                   / max(timing["run_s"], 1e-9)},
        "curves": curves,
        "findings": {"stationary": {lam_label(x): theory_classic.mixing_stationary(x, a.m)
                                    for x in lams}},
    }

    def figure(path):
        from collapse_jax.classic import figures as plots_classic

        th = {}
        for lab, x, m in points:
            ex = theory_classic.mixing_moments(x, m, t)
            th[lab] = {"var": ex[:, 1], "err": ex[:, 0]}
        th["inf"]["var"] = ((a.m - 1.0) / a.m) ** t
        th["inf"]["err"] = 1.0 - ((a.m - 1.0) / a.m) ** t
        def shown_name(k):
            return f"lam={k}" if ":" not in k else k

        shown = {shown_name(k): v for k, v in summaries.items()}
        per_seed = {shown_name(k): {c: sample[f"{k}:{c}"] for c in ("var", "err")}
                    for k in labels}
        theo = {shown_name(k): v for k, v in th.items()}
        shown["accumulate (Tr Sigma* units)"] = {"var": acc_curve}
        theo["accumulate (Tr Sigma* units)"] = {
            "var": accumulation.accumulate_trace_ratio(a.n, np.maximum(t, 0))}
        grid = np.logspace(-2, 3, 200)
        curve = [theory_classic.mixing_stationary(x, a.m)[0] for x in grid]
        meas = [float(np.mean(runs[lam_label(x)]["err_avg"])) for x in lams]
        hw = [0.5 * (c.ci[1] - c.ci[0]) for c in claims if c.id.startswith("2:")]
        fig = plots_classic.mixing_figure(
            t, shown, theo, stationary=(lams, meas, hw, grid, curve), samples=per_seed,
            title=f"real-data mixing: n={a.n} real, m={a.m} synthetic per generation, "
                  f"d={a.dim}, {a.seeds} seeds (dashed: exact; medians over the first "
                  f"{next(iter(sample.values())).shape[0]} seeds)")
        save_figure(fig, path, dpi=110, bbox_inches="tight")

    # Every CI above comes from the a.seeds seeds alone: undecided claims say how many
    # seeds would decide them.
    return report, with_seeds(claims, a.seeds), figure


def _seeds_row(a):
    """Declare the run's claims, then ``--seeds`` at least the smallest count at which every
    claim's interval is valid at the per-claim (Bonferroni) level of this run
    (:func:`collapse_jax.core.stats.min_seeds`)."""
    lams = sorted({float(x) for x in a.lam if math.isfinite(x)})
    return stats.seeds_row(a.seeds, a.plan.declare(claim_ids(lams)))


def claim_ids(lams) -> list[str]:
    """The claims a run with these finite mixing weights decides (the Bonferroni family):
    1 and 2 for each weight, then 3-8."""
    return [f"{c}:{lam_label(x)}" for x in lams for c in (1, 2)] + [str(i) for i in range(3, 9)]


def main(argv=None) -> int:
    return run_check(NAME, build_parser(), body, argv, wall_time=True)


if __name__ == "__main__":
    sys.exit(main())
