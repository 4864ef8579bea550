"""Gaussian refit on its own samples (replace) collapses: Shumailov et al. (2024).

``python -m proofs_checks.gaussian_refit`` refits ``N(mu, Sigma)`` to ``n`` draws from the
previous fit, generation after generation, starting from the original ``N(mu*, Sigma*)``
(``t`` counts fits), for the MLE and the unbiased covariance, and decides (theory.md 3.1 and
section 4, rows 1-3; ``k = n - 1``, ``c = n`` for the MLE, ``c = k`` unbiased):

1. the log generalised variance drifts by ``kappa = digamma(k/2) + log(2/c)`` per generation
   (``sum_j digamma((k-j+1)/2) + d log(2/c)`` per ``d`` coordinates), exactly;
2. ``E[Tr Sigma_t | past] = (k/c) Tr Sigma_{t-1}``: a martingale for the unbiased refit,
   measured on the conditional increments, which are light-tailed at every ``t``;
3. the plain seed mean ``E Tr Sigma_t / Tr Sigma* = (k/c)^t`` where the plain mean is
   trustworthy (the horizon ``t_h`` set by the exact kurtosis of ``sigma_t^2`` and the seed
   count; beyond it ``sigma_t^2`` is too heavy-tailed and the plain mean is only reported);
4. almost-sure collapse: the fraction of seeds whose generalised variance is below a fixed
   level equals its exact law (Gil-Pelaez), which tends to 1;
5. the mean takes steps ``E ||mu_t - mu_{t-1}||^2 = Tr Sigma_{t-1} / n`` at every ``t``;
6. hence ``E ||mu_t - mu*||^2 = Tr Sigma* sum_{j<t} (k/c)^j / n``: ``t/n`` (random walk,
   unbiased) vs ``1 - ((n-1)/n)^t`` (plateau, MLE), plain mean at ``t_h``;
7. the W2 distance to the original (per coordinate): ``t/n + 2 - 2 g^t`` (divergence,
   unbiased) vs ``2 - 2 g^t`` (plateau, MLE), ``g = E sqrt(chi2_k / c)``, at ``t_h``; and
8. the MLE plateau at ``T``;
9. the expected mass of the fitted model beyond the original 2- and 3-sigma quantiles
   equals its exact law; it does *not* vanish in expectation (the models wander off);
10. yet the typical model loses its far tail first: the median over seeds of
    ``log(m3/m3*) - log(m2/m2*)`` is negative.
"""

from __future__ import annotations

import math
import sys
import warnings

import numpy as np

from collapse_jax.classic import theory as theory_classic
from collapse_jax.classic.kernel import TRUTHS, refit_config, refit_kernel, refit_params
from collapse_jax.core import stats
from collapse_jax.engine import batch
from collapse_jax.verdict import bounds
from collapse_jax.verdict.claim import Claim, with_seeds
from collapse_jax.verdict.cli import Progress, apply_quick, base_parser, check_flags, run_check
from collapse_jax.verdict.errors import CheckError
from collapse_jax.verdict.outputs import save_figure

NAME = "gaussian_refit"
DEFAULTS = {"seeds": 20000, "generations": 100}
QUICK = {"seeds": 10000, "generations": 40}
LEVELS = (0.1, 0.01)
TAIL_SIGMAS = (2, 3)


def claim_ids(ests) -> list[str]:
    """The claims a run with these estimators decides (the Bonferroni family): 1-7, 9 (one
    per tail) and 10 for each, and the W2 plateau 8 for the MLE only."""
    ids = []
    for e in ests:
        tag = "m" if e == "mle" else "u"
        ids += [f"{i}{tag}" for i in range(1, 8)] + (["8m"] if e == "mle" else [])
        ids += [f"9{tag}{c}" for c in TAIL_SIGMAS] + [f"10{tag}"]
    return ids
#: Curves whose per-seed values the claims read at a few generations.
KEPT = ("log_gv", "collapsed", "trace_rel", "walk", "w2", "w2_full", "tail2", "tail3",
        "tail2_coord0", "tail3_coord0")
#: Seeds whose whole curves the figure keeps for quantile bands and medians.
FIGURE_SEEDS = 4096
CURVES = ("log_gv", "trace_rel", "trace_factor", "collapsed", "walk", "step_rel", "w2",
          "w2_full", "tail2", "tail3")


def build_parser():
    p = base_parser(NAME, __doc__.split("\n")[0], **DEFAULTS)
    p.add_argument("--n", type=int, default=10, help="points drawn per generation (10)")
    p.add_argument("--dim", type=int, default=1, help="dimension d (1)")
    p.add_argument("--estimator", default="both", choices=("both", "mle", "unbiased"),
                   help="covariance refit: divide by n (mle), n - 1 (unbiased) or both (both)")
    p.add_argument("--truth", default="standard", choices=TRUTHS,
                   help="original distribution: N(0, I) or a random N(mu*, Sigma*) (standard)")
    p.add_argument("--level", type=float, default=LEVELS[0],
                   help="collapse level for claim 4, as a fraction of the original variance "
                        "(0.1)")
    p.add_argument("--tail-time", type=int, default=None,
                   help="generation of claim 10 (default: the plain-mean horizon)")
    return p


def _validate(a):
    apply_quick(a, DEFAULTS, QUICK, ("seeds", "generations"))
    checks = [
        _seeds_row(a),  # declares the claims
        bounds.seeds(a.seeds),
        ("--generations", a.generations, 4 <= a.generations <= 100000, "4 .. 100000"),
        ("--dim", a.dim, 1 <= a.dim <= 16, "1 .. 16"),
        ("--n", a.n, a.n >= a.dim + 1 and a.n <= 10**6, f"dim + 1 = {a.dim + 1} .. 1000000"),
        ("--level", a.level, 0 < a.level < 1 and math.isfinite(a.level), "(0, 1)"),
        ("--key", a.key, a.key >= 0, ">= 0"),
    ]
    check_flags(checks)
    if a.tail_time is not None and not 1 <= a.tail_time <= a.generations:
        raise CheckError(f"--tail-time={a.tail_time!r} is invalid: allowed 1 .. generations "
                         f"({a.generations})")


def _host_metrics(metrics, final, a):
    """Per-seed arrays ``(seeds, T + 1)`` indexed by the number of fits ``t`` (``t = 0`` is
    the original distribution)."""
    tr_star = np.trace(np.asarray(final.truth.cov), axis1=-2, axis2=-1).reshape(-1, 1)
    _, ld_star = np.linalg.slogdet(np.asarray(final.truth.cov))
    ld_star = ld_star.reshape(-1, 1)

    def with_origin(v, origin):
        v = np.asarray(v, dtype=float).reshape(tr_star.shape[0], -1)
        return np.concatenate([np.broadcast_to(origin, (v.shape[0], 1)), v], axis=1)

    trace = with_origin(metrics["trace"], tr_star)
    out = {
        "log_gv": (with_origin(metrics["logdet"], ld_star) - ld_star) / a.dim,
        "trace_rel": trace / tr_star,
        "walk": with_origin(metrics["dist_truth"], 0.0) / tr_star,
        "w2": with_origin(metrics["w2_marginal"], 0.0),
        "w2_full": with_origin(metrics["w2_truth"], 0.0) / tr_star,
    }
    for c in (2, 3):
        for suffix in ("", "_coord0"):
            out[f"tail{c}{suffix}"] = with_origin(metrics[f"tail{c}{suffix}"],
                                                  2.0 * stats.norm_sf(c))
    nan = np.full((trace.shape[0], 1), np.nan)
    out["trace_factor"] = np.concatenate([nan, trace[:, 1:] / trace[:, :-1]], axis=1)
    step = with_origin(metrics["step_sq"], np.nan)
    out["step_rel"] = np.concatenate([nan, a.n * step[:, 1:] / trace[:, :-1]], axis=1)
    out["collapsed"] = (out["log_gv"] < math.log(a.level)).astype(float)
    return out


def body(a):
    _validate(a)
    import jax

    ests = ["mle", "unbiased"] if a.estimator == "both" else [a.estimator]
    T = a.generations
    t = np.arange(T + 1)
    progress = Progress(2)
    cfg = refit_config(dim=a.dim, n=a.n, generations=T - 1, paradigm="replace", truth=a.truth)
    params = refit_params(cfg, estimator=ests)
    horizon = min(theory_classic.plain_mean_horizon(a.n, a.seeds), T)
    t_tail = a.tail_time if a.tail_time is not None else horizon
    # The claims need, per seed, a few generations only (and two averages over t); the
    # curves need the mean and SE over seeds at every t: stream chunk by chunk so that
    # memory does not grow with seeds x generations.
    cols = sorted({T, horizon, t_tail, max(1, T // 4), max(1, T // 2)})

    def derive(out, start):
        final, metrics = out
        d = {}
        for i, e in enumerate(ests):
            r = _host_metrics({k: v[i] for k, v in metrics.items()},
                              jax.tree.map(lambda v, i=i: v[i], final), a)
            for k in CURVES:
                d[f"{e}:{k}"] = r[k]
            for k in KEPT:
                d[f"{e}:{k}@"] = r[k][:, cols]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                for k in ("trace_factor", "step_rel"):
                    d[f"{e}:{k}:avg"] = np.mean(r[k][:, 1:], axis=1)
        return d

    red = batch.SeedSummary(derive, curves=tuple(f"{e}:{k}" for e in ests for k in CURVES),
                            sample=FIGURE_SEEDS)
    tm = batch.stream(refit_kernel, jax.random.key(a.key), params, cfg, seeds=a.seeds,
                      reduce=red, chunk_size=a.chunk_size, sweep=True, options=a.batch_options)
    progress.step("simulation")
    # Simultaneous 95% CIs: Bonferroni over the claims declared in _validate.
    level = a.plan.level
    kept = red.kept()
    runs = {}
    for e in ests:
        runs[e] = {k: _Columns(kept[f"{e}:{k}@"], cols) for k in KEPT}
        runs[e].update({k: kept[f"{e}:{k}:avg"] for k in ("trace_factor", "step_rel")})

    claims = []
    notes = {}
    for e in ests:
        r = runs[e]
        tag = "m" if e == "mle" else "u"
        kappa = theory_classic.refit_log_drift(a.n, e, a.dim)
        # 1. log-variance drift: per-seed (log gv_T) / T, normal CI over seeds.
        m1, ci1 = stats.mean_ci(a.dim * r["log_gv"][:, T] / T, level)
        claims.append(Claim(
            f"1{tag}", f"{e}: E log det(Sigma_t / Sigma*) drifts by kappa = sum_j "
            f"digamma((k-j+1)/2) + d log(2/{'n' if e == 'mle' else 'k'}) = {kappa:.5f} per "
            f"generation (t = 1..{T}; d = {a.dim}, n = {a.n}, exact)",
            kappa, m1, ci1, max_half_width=0.05 * abs(kappa),
            note=f"per-step variance of the log-det: exact "
                 f"{theory_classic.refit_log_step_variance(a.n, a.dim):.4f}, measured "
                 f"{np.var(a.dim * r['log_gv'][:, T], ddof=1) / T:.4f}"))
        # 2. conditional factor (martingale for the unbiased refit).
        fac = theory_classic.refit_variance_factor(a.n, e)
        m2, ci2 = stats.mean_ci(r["trace_factor"], level)
        claims.append(Claim(
            f"2{tag}", f"{e}: E[Tr Sigma_t / Tr Sigma_(t-1)] = k/c = {fac:.4f} at every t "
            + ("(E[sigma_t^2 | past] = sigma_(t-1)^2: a martingale)" if e == "unbiased"
               else "(E sigma_t^2 shrinks by (n-1)/n per generation)")
            + f"; per-seed average over t = 1..{T}",
            fac, m2, ci2, max_half_width=0.01))
        # 3. plain mean at the horizon; heavy-tailed beyond.
        pred3 = float(theory_classic.refit_trace_ratio(a.n, horizon, e))
        m3, ci3 = stats.mean_ci(r["trace_rel"][:, horizon], level)
        mT, ciT = stats.mean_ci(r["trace_rel"][:, T], level)
        predT = float(theory_classic.refit_trace_ratio(a.n, T, e))
        claims.append(Claim(
            f"3{tag}", f"{e}: plain seed mean E Tr Sigma_t / Tr Sigma* = (k/c)^t at t = "
            f"{horizon} (the last t where {a.seeds} seeds estimate their own SE within 10%: "
            f"exact kurtosis of sigma_t^2)",
            pred3, m3, ci3, max_half_width=_gap(theory_classic.refit_trace_ratio, a.n, horizon),
            note=f"at t = {T} the plain mean is {mT:.4g} [{ciT[0]:.3g}, {ciT[1]:.3g}] vs exact "
                 f"{predT:.4g}: heavy-tailed (median {np.median(r['trace_rel'][:, T]):.3g}); "
                 "not used for a verdict"))
        # 4. almost-sure collapse: fraction of seeds below the level.
        probs = {tt: theory_classic.refit_collapse_probability(a.n, tt, a.level, e, a.dim)
                 for tt in sorted({max(1, T // 4), max(1, T // 2), T})}
        frac = r["collapsed"][:, T]
        p4 = probs[T]
        m4 = float(frac.mean())
        seq = ", ".join(f"t={tt}: {float(r['collapsed'][:, tt].mean()):.3f} (exact {pp:.3f})"
                        for tt, pp in probs.items())
        p_low = theory_classic.refit_collapse_probability(a.n, T, LEVELS[1], e, a.dim)
        claims.append(Claim(
            f"4{tag}", f"{e}: almost-sure collapse: fraction of seeds with (det Sigma_t / det "
            f"Sigma*)^(1/d) < {a.level:g} at t = {T} = exact law (-> 1 as t grows)",
            p4, m4, stats.proportion_ci(np.sum(frac), frac.size, level), max_half_width=0.03,
            note=f"fraction below {a.level:g}: {seq}; below {LEVELS[1]:g} at t={T}: "
                 f"{float((r['log_gv'][:, T] < math.log(LEVELS[1])).mean()):.3f} "
                 f"(exact {p_low:.3f})"))
        notes[e] = {"collapse_probability": {str(k): v for k, v in probs.items()}}
        # 5. mean steps.
        m5, ci5 = stats.mean_ci(r["step_rel"], level)
        claims.append(Claim(
            f"5{tag}", f"{e}: the mean's steps: E[n ||mu_t - mu_(t-1)||^2 / Tr Sigma_(t-1)] = 1 "
            f"at every t (per-seed average over t = 1..{T})",
            1.0, m5, ci5, max_half_width=0.02))
        # 6. mean walk at the horizon.
        pred6 = float(theory_classic.refit_mean_walk(a.n, horizon, e))
        m6, ci6 = stats.mean_ci(r["walk"][:, horizon], level)
        mT6, ciT6 = stats.mean_ci(r["walk"][:, T], level)
        claims.append(Claim(
            f"6{tag}", f"{e}: E ||mu_t - mu*||^2 / Tr Sigma* = sum_(j<t) (k/c)^j / n at t = "
            f"{horizon} = " + ("t/n (random walk)" if e == "unbiased"
                               else "1 - ((n-1)/n)^t (plateau at 1)"),
            pred6, m6, ci6, max_half_width=_gap(theory_classic.refit_mean_walk, a.n, horizon),
            note=f"exact at every t by claims 2 and 5 (tower property); at t = {T}: plain mean "
                 f"{mT6:.4g} [{ciT6[0]:.3g}, {ciT6[1]:.3g}] vs exact "
                 f"{float(theory_classic.refit_mean_walk(a.n, T, e)):.4g}"
                 + (" (heavy-tailed: rare seeds carry the mean)" if e == "unbiased" else "")))
        # 7. W2 at the horizon.
        pred7 = float(theory_classic.refit_w2(a.n, horizon, e))
        m7, ci7 = stats.mean_ci(r["w2"][:, horizon], level)
        claims.append(Claim(
            f"7{tag}", f"{e}: E W2^2(N_t, N*) / sigma*^2 per coordinate at t = {horizon} = "
            + ("t/n + 2 - 2 g^t (grows without bound)" if e == "unbiased"
               else "2 - 2 g^t (plateau at 2)") + ", g = E sqrt(chi2_k / c)",
            pred7, m7, ci7, max_half_width=_gap(theory_classic.refit_w2, a.n, horizon),
            note=(f"full W2^2 / Tr Sigma* at t = {horizon}: "
                  f"{float(np.mean(r['w2_full'][:, horizon])):.4f}" if a.dim > 1 else "")))
        if e == "mle":
            pred8 = float(theory_classic.refit_w2(a.n, T, e))
            m8, ci8 = stats.mean_ci(r["w2"][:, T], level)
            claims.append(Claim(
                "8m", f"mle: the W2 plateau: E W2^2(N_t, N*) / sigma*^2 at t = {T} = 2 - 2 g^t "
                f"(limit 2)", pred8, m8, ci8, max_half_width=0.1 * pred8))
        # 9. tail masses at T (bounded quantities: the plain mean is safe).
        tails = theory_classic.refit_tail_mass(a.n, [T], list(TAIL_SIGMAS), e)[0]
        for j, c in enumerate(TAIL_SIGMAS):
            pred9 = float(tails[j])
            m9, ci9 = stats.mean_ci(r[f"tail{c}"][:, T], level)
            orig = 2.0 * stats.norm_sf(c)
            claims.append(Claim(
                f"9{tag}{c}", f"{e}: E mass of N_t beyond the original mu* +- {c} sigma* at "
                f"t = {T} = exact law (original {orig:.4g})",
                pred9, m9, ci9, max_half_width=0.3 * pred9,
                note=f"median over seeds {np.median(r[f'tail{c}'][:, T]):.3g}: the typical "
                     "model has lost its tails; the mean stays up because the models wander "
                     "past the original quantiles"))
        # 10. tails vanish first (typical run).
        m3t, m2t = r["tail3_coord0"][:, t_tail], r["tail2_coord0"][:, t_tail]
        lr = (np.log(np.maximum(m3t, 1e-300) / (2 * stats.norm_sf(3)))
              - np.log(np.maximum(m2t, 1e-300) / (2 * stats.norm_sf(2))))
        med, ci10 = stats.median_ci(lr, level)
        claims.append(Claim(
            f"10{tag}", f"{e}: tails vanish first: median over seeds of log(m3_t/m3*) - "
            f"log(m2_t/m2*) < 0 at t = {t_tail} (the 3-sigma tail is lost faster than the "
            "2-sigma tail)" + ("; coordinate 0's marginal" if a.dim > 1 else ""),
            0.0, med, ci10, max_half_width=1.0, relation="below",
            note=f"median m3_t/m3* = {np.median(m3t) / (2 * stats.norm_sf(3)):.3g}, "
                 f"m2_t/m2* = {np.median(m2t) / (2 * stats.norm_sf(2)):.3g}, "
                 f"variance {np.median(r['trace_rel'][:, t_tail]):.3g}"))
    progress.step("statistics")

    summaries = {e: {k: red.summary(f"{e}:{k}") for k in CURVES} for e in ests}
    curves = {f"replace:{e}": {k: red.curve(f"{e}:{k}") for k in CURVES} for e in ests}
    sample = red.sampled()
    config = dict(vars(a))
    config.update(estimators=ests, ci_level_per_claim=level, plain_mean_horizon=horizon,
                  tail_time=t_tail,
                  generation_index="t = number of fits; t = 0 is the original distribution")
    sg = a.seeds * len(ests) * T
    report = {
        "config": config,
        "ci_level": level,
        "ci_note": a.plan.note(),
        "precision": {"fit": "float64", "sampling": "float64"},
        "timing": {"compile_s": tm.compile_s, "run_s": tm.run_s,
                   "seed_generations_per_s": sg / max(tm.run_s, 1e-9)},
        "curves": curves,
        "findings": notes,
    }

    def figure(path):
        from collapse_jax.classic import figures as plots_classic

        th = {}
        for e in ests:
            tp = np.unique(np.linspace(1, T, 12).astype(int))
            tails = theory_classic.refit_tail_mass(a.n, t, [2, 3], e)
            th[e] = {
                "log_gv": t * theory_classic.refit_log_drift(a.n, e, a.dim) / a.dim,
                "trace_rel": theory_classic.refit_trace_ratio(a.n, t, e),
                "collapsed": (tp, [theory_classic.refit_collapse_probability(
                    a.n, int(s), a.level, e, a.dim) for s in tp]),
                "walk": theory_classic.refit_mean_walk(a.n, t, e),
                "w2": theory_classic.refit_w2(a.n, t, e),
                "tail2": tails[:, 0], "tail3": tails[:, 1],
            }
        per_seed = {e: {k: sample[f"{e}:{k}"] for k in CURVES} for e in ests}
        n_band = next(iter(sample.values())).shape[0]
        fig = plots_classic.refit_figure(
            t, per_seed, th, horizon=horizon, level=a.level, summaries=summaries,
            title=f"Gaussian refit, replace: n={a.n}, d={a.dim}, {a.seeds} seeds; means +- 2 SE "
                  f"over all seeds, quantiles and medians over the first {n_band} "
                  "(dashed/dots: exact)")
        save_figure(fig, path, dpi=110, bbox_inches="tight")

    # Every CI above comes from the a.seeds seeds alone: undecided claims say how many
    # seeds would decide them.
    return report, with_seeds(claims, a.seeds), figure


class _Columns:
    """Per-seed values of a curve kept at a few generations only: ``c[:, t]`` for a kept
    ``t`` (a ``KeyError`` names any other)."""

    def __init__(self, values, cols):
        self.values, self.index = values, {c: i for i, c in enumerate(cols)}

    def __getitem__(self, key):
        rows, t = key
        return self.values[rows, self.index[t]]


def _gap(fn, n, t):
    """Half the gap between the unbiased and MLE predictions of ``fn`` at ``t``: the CI
    must be narrower than this to tell the two estimators apart."""
    return 0.5 * abs(float(fn(n, t, "unbiased")) - float(fn(n, t, "mle")))


def _seeds_row(a):
    """Declare the run's claims, then ``--seeds`` at least the smallest count at which every
    claim's interval is valid at the per-claim (Bonferroni) level of this run
    (:func:`collapse_jax.core.stats.min_seeds`)."""
    ests = ["mle", "unbiased"] if a.estimator == "both" else [a.estimator]
    return stats.seeds_row(a.seeds, a.plan.declare(claim_ids(ests)))


def main(argv=None) -> int:
    return run_check(NAME, build_parser(), body, argv, wall_time=True)


if __name__ == "__main__":
    sys.exit(main())
