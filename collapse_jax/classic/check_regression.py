"""Fixed-design OLS retrained on its own labels: replace diverges, accumulate stays bounded.

``python -m proofs_checks.regression_paradigms`` fits OLS on a fixed Gaussian design
``X`` (``T x d``), relabels ``X`` with the fitted model plus fresh noise, and refits, ``N``
times (Gerstgrasser et al. 2024; Dohmatob et al. 2024; theory.md 3.2-3.3 and section 4, rows
4, 5 and 20). With ``v = sigma^2 d / (T - d - 1)`` (``E tr (X^T X)^{-1} = d/(T-d-1)``) it
decides:

1. replace: ``E ||w_n - w*||^2 = v n`` (linear in the number of fits ``n``), at ``n = N``
   and as a slope per fit;
2. accumulate (fit on every label set so far): ``v sum_{i<=n} 1/i^2``, at ``n = N`` and as the
   growth over the second half, and below its bound ``v pi^2 / 6``;
3. accumulate-subsample (a uniform pool of ``T`` rows of everything so far): measured and
   reported; there is no closed form (none is given by Gerstgrasser et al. or Kazdan et al.),
   so the claims only bracket it between accumulate and replace;
4. Dohmatob et al.: OLS on ``T`` fresh samples labelled by the generation-``n`` model of a
   replace chain on a ``T_0 x d`` design with noise ``sigma_0`` has error
   ``sigma^2 d/(T-d-1) + n sigma_0^2 d/(T_0-d-1)``: intercept, value at ``n = N`` and slope.

All confidence intervals are simultaneous over the claims of the run (Bonferroni).
"""

from __future__ import annotations

import sys

import numpy as np

from collapse_jax.classic import theory as theory_classic
from collapse_jax.classic.fixed_design import dohmatob_kernel, ols_config, ols_kernel, ols_params
from collapse_jax.core import stats
from collapse_jax.engine import batch
from collapse_jax.verdict import bounds
from collapse_jax.verdict.claim import Claim, with_seeds
from collapse_jax.verdict.cli import Progress, apply_quick, base_parser, check_flags, run_check
from collapse_jax.verdict.curves import curve_summary
from collapse_jax.verdict.outputs import save_figure

NAME = "regression_paradigms"
DEFAULTS = {"seeds": 8000, "generations": 20}
QUICK = {"seeds": 4000, "generations": 10}
PARADIGMS = ("replace", "accumulate", "accumulate-subsample")
#: The claims every run decides (their number is the Bonferroni family size).
CLAIMS = ("1a", "1b", "2a", "2b", "2c", "3a", "3b", "4a", "4b", "4c")
#: Seeds per device per program on the CPU backend when ``--chunk-size`` is not given (equal
#: chunks; accelerators keep the engine's automatic chunk). A chunk's working set then stays
#: in the CPU's caches: measured on 2 cores, 8000 seeds (``benchmarks/kernels.py``, the OLS
#: row), the three paradigms' kernel ran in 0.61 s in chunks of 250 against 0.85 s in one
#: program, the Dohmatob kernel in 0.47 s against 0.95-1.14 s. The chunk changes a seed's
#: numbers only at rounding (XLA vectorises another batch width differently).
CPU_CHUNK = 256


def build_parser():
    p = base_parser(NAME, __doc__.split("\n")[0], **DEFAULTS)
    p.add_argument("--T", "--n", dest="T", type=int, default=40,
                   help="rows of the fixed design = samples per fit (40); --n is an alias")
    p.add_argument("--d", "--dim", dest="d", type=int, default=10,
                   help="dimension d of w (10); --dim is an alias")
    p.add_argument("--noise", type=float, default=1.0, help="label noise sigma (1.0)")
    p.add_argument("--T0", type=int, default=None,
                   help="design rows of the Dohmatob labelling chain (default 2 T)")
    p.add_argument("--noise0", type=float, default=None,
                   help="label noise sigma_0 of the Dohmatob chain (default --noise)")
    p.add_argument("--pool-size", type=int, default=None,
                   help="rows kept by accumulate-subsample (default T)")
    return p


def _validate(a):
    apply_quick(a, DEFAULTS, QUICK, ("seeds", "generations"))
    if a.T0 is None:
        a.T0 = 2 * a.T
    if a.noise0 is None:
        a.noise0 = a.noise
    if a.pool_size is None:
        a.pool_size = a.T
    t_max = bounds.INDEX_MAX // max(a.d, 1)
    checks = [
        stats.seeds_row(a.seeds, a.plan.declare(CLAIMS)),
        bounds.seeds(a.seeds),
        ("--generations", a.generations, 4 <= a.generations <= 10000, "4 .. 10000"),
        ("--d", a.d, 1 <= a.d <= 512, "1 .. 512"),
        # the T x d (T0 x d) designs are indexed in int32
        ("--T", a.T, a.d + 4 <= a.T <= t_max, f"d + 4 = {a.d + 4} .. (2**31 - 1) / d = "
         f"{t_max} (finite error variance; int32 index of the T x d design)"),
        ("--T0", a.T0, a.d + 4 <= a.T0 <= t_max, f"d + 4 = {a.d + 4} .. {t_max}"),
        bounds.scale("--noise", a.noise),
        bounds.scale("--noise0", a.noise0),
        ("--pool-size", a.pool_size, a.d + 2 <= a.pool_size <= a.T, f"d + 2 .. T = {a.T}"),
        ("--key", a.key, a.key >= 0, ">= 0"),
    ]
    check_flags(checks)


def _slope(n, err):
    """Per-seed OLS slope of ``err (seeds, N)`` on ``n``: unbiased for the slope of the
    expected curve."""
    x = n - n.mean()
    return (err - err.mean(axis=1, keepdims=True)) @ x / np.sum(x**2)


def cpu_chunk(options: batch.Options, seeds: int) -> int | None:
    """Seeds per program: ``--chunk-size`` when given, else :data:`CPU_CHUNK` per device on
    the CPU backend, else the engine's automatic chunk."""
    return batch.cpu_chunk_size(options, seeds, CPU_CHUNK)


def body(a):
    _validate(a)
    import jax

    key = jax.random.key(a.key)
    N = a.generations
    n = np.arange(1, N + 1, dtype=float)
    level = a.plan.level
    timing = {"compile_s": 0.0, "run_s": 0.0}
    progress = Progress(3)
    chunk = cpu_chunk(a.batch_options, a.seeds)
    cfg = ols_config(dim=a.d, T=a.T, generations=N - 1, paradigms=PARADIGMS,
                     pool_size=a.pool_size)
    params = ols_params(cfg, noise=a.noise)
    (_, m), tm = batch.run(ols_kernel, key, params, cfg, seeds=a.seeds,
                           chunk_size=chunk, timed=True, options=a.batch_options)
    errors = {par: np.asarray(m[par])[:, 0] for par in PARADIGMS}
    timing["compile_s"] += tm.compile_s
    timing["run_s"] += tm.run_s
    progress.step("replace / accumulate / accumulate-subsample")
    cfg = ols_config(dim=a.d, T=a.T, T0=a.T0, generations=N)
    params = ols_params(cfg, noise=a.noise, noise0=a.noise0)
    (_, m), tm = batch.run(dohmatob_kernel, key, params, cfg, seeds=a.seeds,
                           chunk_size=chunk, timed=True, options=a.batch_options)
    errors["dohmatob"] = np.asarray(m["error"])[:, 0]
    timing["compile_s"] += tm.compile_s
    timing["run_s"] += tm.run_s
    progress.step("dohmatob")

    v = a.noise**2 * theory_classic.ols_variance_factor(a.T, a.d)
    v0 = a.noise0**2 * theory_classic.ols_variance_factor(a.T0, a.d)
    rep, acc, sub, doh = (errors[k] for k in (*PARADIGMS, "dohmatob"))
    pred_rep = theory_classic.regression_replace_error(n, a.T, a.d, a.noise)
    pred_acc = theory_classic.regression_accumulate_error(n.astype(int), a.T, a.d, a.noise)
    bound = theory_classic.regression_accumulate_limit(a.T, a.d, a.noise)
    claims = []

    m1, ci1 = stats.mean_ci(rep[:, -1], level)
    claims.append(Claim(
        "1a", f"replace: E ||w_n - w*||^2 = sigma^2 d n / (T - d - 1) at n = {N} (linear in n; "
        f"d = {a.d}, T = {a.T}, sigma = {a.noise:g})",
        float(pred_rep[-1]), m1, ci1, max_half_width=0.05 * float(pred_rep[-1])))
    m1b, ci1b = stats.mean_ci(_slope(n, rep), level)
    claims.append(Claim(
        "1b", f"replace: slope of E ||w_n - w*||^2 per fit over n = 1..{N} = sigma^2 d / "
        "(T - d - 1)", v, m1b, ci1b, max_half_width=0.1 * v))

    m2, ci2 = stats.mean_ci(acc[:, -1], level)
    claims.append(Claim(
        "2a", f"accumulate: E ||w_n - w*||^2 = sigma^2 d / (T - d - 1) sum_(i<=n) 1/i^2 at "
        f"n = {N}", float(pred_acc[-1]), m2, ci2, max_half_width=0.05 * float(pred_acc[-1])))
    half = N // 2
    pred2b = float(pred_acc[-1] - pred_acc[half - 1])
    m2b, ci2b = stats.mean_ci(acc[:, -1] - acc[:, half - 1], level)
    rep_growth = float(pred_rep[-1] - pred_rep[half - 1])
    claims.append(Claim(
        "2b", f"accumulate: growth from n = {half} to {N} = sigma^2 d/(T-d-1) sum_({half}<i<={N}) "
        "1/i^2 (bounded: the increments are summable)",
        pred2b, m2b, ci2b, max_half_width=max(0.25 * pred2b, 0.02 * rep_growth),
        note=f"replace grows by {rep_growth:.4g} over the same fits"))
    # The bound is approached from below (97% of it at n = 20): an interval decides the claim
    # only when it is narrower than the gap the closed form leaves, so a true claim passes
    # with high probability (at a half-width of 0.6 gap its upper end clears the bound
    # unless the mean errs upward by 0.4 gap, 1.9 SE at the default per-claim level 99.5%:
    # a 3% chance), and a run too small to resolve it is undecided, not failed.
    exact = float(pred_acc[-1])
    gap2c = abs(bound - exact)
    claims.append(Claim(
        "2c", f"accumulate: E ||w_N - w*||^2 stays below the bound sigma^2 d/(T-d-1) pi^2/6 "
        f"= {bound:.4f}", bound, m2, ci2, max_half_width=0.6 * gap2c, relation="below",
        note=f"exact value at n = {N}: {exact:.4f} "
             f"({exact / bound:.1%} of the bound; an interval decides this "
             f"claim when its half-width is at most 0.6 of the gap, {0.6 * gap2c:.3g})"))

    m3, ci3 = stats.mean_ci(sub[:, -1], level)
    s3, s3ci = stats.mean_ci(_slope(n[half - 1:], sub[:, half - 1:]), level)
    sub_note = (f"no closed form (none is given by Gerstgrasser et al. or Kazdan et al.); "
                f"measured slope per fit over n = {half}..{N}: {s3:.4g} "
                f"[{s3ci[0]:.3g}, {s3ci[1]:.3g}] vs replace {v:.4g}; pool of {a.pool_size} rows")
    singular = int(np.sum(~np.isfinite(sub).all(axis=1)))
    if singular:  # the mean is then non-finite: say why, in the verdict
        sub_note = (f"{singular} of {a.seeds} seeds hit a singular pool Gram matrix, where "
                    f"OLS is undefined (the {a.pool_size} pooled rows are drawn from {a.T} "
                    f"design rows, so some repeat, and fewer than d = {a.d} distinct ones "
                    "leave it singular; a larger --pool-size makes it rarer); " + sub_note)
    claims.append(Claim(
        "3a", f"accumulate-subsample (measured): E ||w_N - w*||^2 at n = {N} lies above "
        "accumulate's closed form (it fits on fewer rows)",
        float(pred_acc[-1]), m3, ci3, max_half_width=0.25 * m3, relation="above", note=sub_note))
    claims.append(Claim(
        "3b", f"accumulate-subsample (measured): E ||w_N - w*||^2 at n = {N} lies below "
        "replace's closed form (old real labels keep pulling it back)",
        float(pred_rep[-1]), m3, ci3, max_half_width=0.25 * m3, relation="below"))

    gen = np.arange(N + 1, dtype=float)
    pred4 = theory_classic.dohmatob_error(gen, a.T, a.d, a.noise, a.T0, a.noise0)
    m4a, ci4a = stats.mean_ci(doh[:, 0], level)
    claims.append(Claim(
        "4a", f"Dohmatob: OLS on T = {a.T} clean samples has error sigma^2 d/(T-d-1) "
        f"(generation 0)", float(pred4[0]), m4a, ci4a, max_half_width=0.05 * float(pred4[0])))
    m4b, ci4b = stats.mean_ci(doh[:, -1], level)
    claims.append(Claim(
        "4b", f"Dohmatob: trained on generation-{N} data (T0 = {a.T0}, sigma0 = {a.noise0:g}): "
        "E error = sigma^2 d/(T-d-1) + n sigma0^2 d/(T0-d-1)",
        float(pred4[-1]), m4b, ci4b, max_half_width=0.05 * float(pred4[-1])))
    m4c, ci4c = stats.mean_ci(_slope(gen, doh), level)
    claims.append(Claim(
        "4c", f"Dohmatob: the error grows linearly in the generation n = 0..{N}, slope "
        "sigma0^2 d/(T0-d-1)", v0, m4c, ci4c, max_half_width=0.1 * v0))
    progress.step("statistics")

    curves = {name: {"error": curve_summary(e[:, :, None])} for name, e in errors.items()}
    config = dict(vars(a))
    config.update(ci_level_per_claim=level, design="rows N(0, I_d), fixed per seed",
                  fit_index="curves[replace|accumulate|accumulate-subsample] index i = fit n = "
                            "i + 1; curves[dohmatob] index = generation n of the labels")
    sg = a.seeds * (len(PARADIGMS) * N + N + 1)
    report = {
        "config": config,
        "ci_level": level,
        "ci_note": a.plan.note(),
        "precision": {"fit": "float64", "sampling": "float64"},
        "timing": {**timing, "seed_generations_per_s": sg / max(timing["run_s"], 1e-9)},
        "curves": curves,
        "findings": {"subsample_slope_second_half": s3, "bound": bound,
                     "subsample_singular_seeds": singular},
    }

    def figure(path):
        from collapse_jax.classic import figures as plots_classic

        th = {"replace": pred_rep, "accumulate": pred_acc, "dohmatob": pred4}
        fig = plots_classic.regression_figure(
            n, errors, th, bound=bound,
            title=f"fixed-design OLS on its own labels: d={a.d}, T={a.T}, sigma={a.noise:g}; "
                  f"Dohmatob T0={a.T0}, sigma0={a.noise0:g}; {a.seeds} seeds "
                  "(dashed: closed forms)")
        save_figure(fig, path, dpi=110, bbox_inches="tight")

    # Every CI above comes from the a.seeds seeds alone: undecided claims say how many
    # seeds would decide them.
    return report, with_seeds(claims, a.seeds), figure


def main(argv=None) -> int:
    return run_check(NAME, build_parser(), body, argv, wall_time=True)


if __name__ == "__main__":
    sys.exit(main())
