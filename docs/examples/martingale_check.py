"""Refitting N(mu, sigma^2) with the unbiased variance is a martingale: E sigma_t^2 = sigma_0^2."""
import sys

import numpy as np

from collapse_jax import batch, stats, verdict
from collapse_jax.classic.kernel import refit_config, refit_kernel, refit_params

NAME, ESTIMATORS = "martingale_check", ("unbiased", "mle")
DEFAULTS, QUICK = {"seeds": 4000, "generations": 20}, {"seeds": 2000, "generations": 10}


def build_parser():
    p = verdict.base_parser(NAME, __doc__, prog=f"python {sys.argv[0]}", **DEFAULTS)
    p.add_argument("--n", type=int, default=10, help="draws per generation (default 10)")
    p.add_argument("--offset", type=float, default=0.0, help="negative control: add this to "
                   "every prediction (default 0; 0.05 is twice the width cap and must fail)")
    return p


def body(a):
    verdict.apply_quick(a, DEFAULTS, QUICK, ("seeds", "generations"))
    level = a.plan.declare(e[0] for e in ESTIMATORS)  # claim ids u, m: 95% for both at once
    verdict.check_flags([
        stats.seeds_row(a.seeds, level), ("--n", a.n, 2 <= a.n <= 10**4, "2 .. 10000"),
        ("--generations", a.generations, 1 <= a.generations <= 10**4, "1 .. 10000"),
        ("--offset", a.offset, abs(a.offset) <= 1, "-1 .. 1")])
    import jax
    cfg = refit_config(n=a.n, generations=a.generations)  # 1-D N(0, 1) truth, replace
    params = refit_params(cfg, estimator=list(ESTIMATORS))  # a sweep: both in one compile
    (_, metrics), tm = batch.run_sweep(refit_kernel, jax.random.key(a.key), params, cfg,
                                       seeds=a.seeds, timed=True, options=a.batch_options)
    var = np.asarray(metrics["trace"]).reshape(len(ESTIMATORS), a.seeds, -1)  # sigma_t^2
    factor = np.mean(var[:, :, 1:] / var[:, :, :-1], axis=2)  # per seed, mean over t
    cap = 0.25 / a.n  # a quarter of the gap 1/n between the two predictions
    claims = [verdict.Claim(  # id, statement, predicted, measured, CI, max CI half-width
        e[0], f"{e}: E[sigma_t^2 / sigma_(t-1)^2] = {pred:.4f} at every t (per-seed mean over "
        f"t = 1..{a.generations}, n = {a.n})", pred + a.offset, *stats.mean_ci(factor[i], level), cap,
        note=f"plain mean of sigma_T^2 over seeds: {var[i, :, -1].mean():.4f}")
        for i, (e, pred) in enumerate(zip(ESTIMATORS, (1.0, (a.n - 1) / a.n)))]
    curves = {e: {"variance": verdict.curve_summary(var[i])} for i, e in enumerate(ESTIMATORS)}
    rate = a.seeds * len(ESTIMATORS) * a.generations / max(tm.run_s, 1e-9)
    report = {"config": dict(vars(a)), "precision": "float64", "curves": curves,
              "ci_note": f"CIs: simultaneous 95% (each at {level:.4f}, Bonferroni)",
              "timing": {**tm._asdict(), "seed_generations_per_s": rate}}

    def figure(path):
        from matplotlib.figure import Figure
        ax = Figure(figsize=(5, 3.5)).subplots()
        for e in ESTIMATORS:
            ax.plot(curves[e]["variance"]["mean"], label=e)
        ax.set(xlabel="generation t", ylabel="mean of sigma_t^2 over seeds")
        ax.legend()
        verdict.save_figure(ax.figure, path, dpi=110)

    return report, claims, figure


if __name__ == "__main__":
    sys.exit(verdict.run_check(NAME, build_parser(), body))
