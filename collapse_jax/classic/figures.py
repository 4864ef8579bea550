"""Figures of the classic collapse laws: measured curves with seed bands over closed forms.

Functions take computed arrays (seeds on axis 0) and closed-form curves and return the
Figure; nothing is shown.
"""

from __future__ import annotations

import matplotlib
import numpy as np

from collapse_jax.verdict.figures import band_plot, new_figure

ESTIMATOR_COLORS = {"mle": "C0", "unbiased": "C3"}
PARADIGM_COLORS = {"replace": "C3", "accumulate": "C0", "accumulate-subsample": "C2",
                   "mix": "C1", "dohmatob": "C4"}


def _mean_se_band(ax, t, curves, label, color, ls="-", positive=False):
    """Seed mean with a +- 2 SE band (for quantities whose mean is the claim); ``curves`` is
    ``(seeds, T)`` or a streamed summary ``{"mean", "se"}``."""
    if isinstance(curves, dict):
        m, se = np.asarray(curves["mean"], dtype=float), np.asarray(curves["se"], dtype=float)
    else:
        curves = np.asarray(curves, dtype=float)
        m = np.nanmean(curves, axis=0)
        se = np.nanstd(curves, axis=0, ddof=1) / np.sqrt(np.sum(np.isfinite(curves), axis=0))
    ax.plot(t, m, color=color, label=label, lw=1.5, ls=ls)
    lo = m - 2 * se
    if positive:  # on log axes a band reaching 0 is left open rather than drawn to 0
        lo = np.where(lo > 0, lo, np.nan)
    ax.fill_between(t, lo, m + 2 * se, color=color, alpha=0.25, lw=0)


def refit_figure(t, runs: dict, theory: dict, *, horizon: int, level: float, title: str = "",
                 summaries: dict | None = None):
    """Six panels of the Gaussian refit under replace, one colour per estimator.

    ``runs[est]`` maps ``log_gv`` (``log det(Sigma_t/Sigma*) / d``), ``trace_rel``,
    ``collapsed`` (0/1), ``walk`` (``||mu_t - mu*||^2 / Tr Sigma*``), ``w2`` (marginal
    ``W2^2 / sigma*^2``), ``tail2``, ``tail3`` to ``(seeds, T + 1)`` arrays; ``theory[est]``
    maps the same names to closed-form curves (``collapsed`` may be given at a subset of
    generations as ``(t_points, values)``). ``summaries[est]``, when given, maps the same
    names to streamed ``{"mean", "se"}`` over every seed: the mean lines and +- 2 SE bands
    use them, the quantile bands and medians use ``runs`` (then a sample of seeds).
    """
    fig, axes = new_figure(2, 3, figsize=(15, 8.4))
    ax = axes.ravel()
    for est, r_seeds in runs.items():
        col = ESTIMATOR_COLORS.get(est)
        th = theory[est]
        r = {**r_seeds, **(summaries or {}).get(est, {})}
        band_plot(ax[0], t, r_seeds["log_gv"], f"{est}: seeds 10-90%", col)
        ax[0].plot(t, th["log_gv"], "k--", lw=1)
        _mean_se_band(ax[1], t, r["trace_rel"], f"{est}: plain seed mean", col, positive=True)
        ax[1].plot(t, np.nanmedian(r_seeds["trace_rel"], axis=0), color=col, ls=":", lw=1.2,
                   label=f"{est}: median")
        ax[1].plot(t, th["trace_rel"], "k--", lw=1)
        _mean_se_band(ax[2], t, r["collapsed"], f"{est}", col)
        tp, vals = th["collapsed"]
        ax[2].plot(tp, vals, "ko", ms=3.5)
        _mean_se_band(ax[3], t, r["walk"], f"{est}", col)
        ax[3].plot(t, th["walk"], "k--", lw=1)
        _mean_se_band(ax[4], t, r["w2"], f"{est}", col)
        ax[4].plot(t, th["w2"], "k--", lw=1)
        for c, ls in ((2, "-"), (3, "-.")):
            _mean_se_band(ax[5], t, r[f"tail{c}"], f"{est}: beyond {c} sigma*", col, ls,
                          positive=True)
            ax[5].plot(t, th[f"tail{c}"], "k--", lw=1)
            ax[5].plot(t, np.nanmedian(r_seeds[f"tail{c}"], axis=0), color=col, ls=":", lw=1)
    for c in (2, 3):
        ax[5].axhline(float(np.nanmean(next(iter(runs.values()))[f"tail{c}"][:, 0])),
                      color="grey", lw=0.6)
    ax[0].set_ylabel("log det(Sigma_t / Sigma*) / d")
    ax[0].set_title("log generalised variance: drift kappa per generation")
    ax[1].set_yscale("log")
    ax[1].set_ylabel("Tr Sigma_t / Tr Sigma*")
    ax[1].axvline(horizon, color="grey", lw=0.8, ls=":")
    ax[1].set_title(f"plain mean trustworthy up to t = {horizon} (grey)", fontsize=10)
    ax[2].set_ylabel(f"fraction of seeds with variance < {level:g} sigma*^2")
    ax[2].set_title("almost-sure collapse (dots: exact law)", fontsize=10)
    ax[3].set_ylabel("||mu_t - mu*||^2 / Tr Sigma*")
    ax[3].set_title("mean: random walk (unbiased) vs plateau (MLE)", fontsize=10)
    ax[3].axvline(horizon, color="grey", lw=0.8, ls=":")
    ax[4].set_ylabel("W2^2(N_t, N*) / sigma*^2 (per coordinate)")
    ax[4].set_title("W2 to the original: divergence vs plateau", fontsize=10)
    ax[4].axvline(horizon, color="grey", lw=0.8, ls=":")
    ax[5].set_yscale("log")
    ax[5].set_ylim(1e-6, 0.5)
    ax[5].set_ylabel("mass beyond the original c-sigma quantiles")
    ax[5].set_title("tails: seed mean (band), median (dotted), exact (dashed), original "
                    "(grey)", fontsize=9)
    for a in ax:
        a.set_xlabel("generation t (fits)")
        a.legend(fontsize=7)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def regression_figure(n, errors: dict, theory: dict, *, bound: float, title: str = ""):
    """Test error ``||w_n - w*||^2`` per paradigm: seed mean +- 2 SE over the closed forms.

    ``errors[name]`` is ``(seeds, N)`` over fits ``n``; ``theory[name]`` a curve (absent
    for accumulate-subsample, which has no closed form). The ``dohmatob`` entry is indexed
    by the generation of the labelling model, ``0 .. N``.
    """
    fig, ax = new_figure(1, 1, figsize=(7.5, 4.8))
    for name, e in errors.items():
        col = PARADIGM_COLORS.get(name)
        x = np.arange(e.shape[1]) if name == "dohmatob" else n
        _mean_se_band(ax, x, e, name, col)
        if name in theory:
            ax.plot(x, theory[name], "k--", lw=1)
    ax.axhline(bound, color="grey", ls=":", lw=1, label="accumulate bound (pi^2/6 factor)")
    ax.set_xlabel("fits n (dohmatob: generation of the labelling model)")
    ax.set_ylabel("E ||w_n - w*||^2")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def mixing_figure(t, runs: dict, theory: dict, *, stationary=None, title: str = "",
                  samples: dict | None = None):
    """Real-data mixing: ``Tr Sigma_t / Tr S`` and ``||mu_t - rbar||^2 / Tr S`` per lambda.

    ``runs[label]`` maps ``var`` and ``err`` to ``(seeds, T + 1)`` or to streamed
    ``{"mean", "se"}`` summaries (then medians come from ``samples[label]``, per-seed arrays
    of a sample of seeds); ``theory[label]`` maps them to exact curves. Replace (a label
    containing ``inf``) is also drawn with its median, since its plain mean is heavy-tailed.
    ``stationary = (lams, measured, half_widths, curve_lams, curve)`` adds a third panel: the
    stationary error against lambda.
    """
    ncol = 3 if stationary is not None else 2
    fig, axes = new_figure(1, ncol, figsize=(6.5 * ncol, 4.8))
    cmap = matplotlib.colormaps.get_cmap("viridis")
    labels = list(runs)
    for i, lab in enumerate(labels):
        col = cmap(i / max(1, len(labels) - 1))
        r, th = runs[lab], theory.get(lab, {})
        for ax, key in zip(axes[:2], ("var", "err")):
            if key not in r:
                continue
            mean = r[key]["mean"] if isinstance(r[key], dict) else r[key]
            if not np.any(np.isfinite(mean)):
                continue
            _mean_se_band(ax, t, r[key], lab, col, positive=key == "var")
            if key in th:
                ax.plot(t, th[key], "k--", lw=0.9)
            per_seed = (samples or {}).get(lab, r)
            if "inf" in lab and not isinstance(per_seed.get(key), dict):
                ax.plot(t, np.nanmedian(per_seed[key], axis=0), color=col, ls=":", lw=1.2,
                        label=f"{lab} median")
    axes[0].set_yscale("log")
    axes[0].set_ylabel("Tr Sigma_t / Tr S (real-data covariance)")
    axes[1].set_ylabel("||mu_t - rbar||^2 / Tr S")
    for ax in axes[:2]:
        ax.set_xlabel("generation t")
        ax.legend(fontsize=7)
    axes[0].set_title("variance: stationary for finite lambda, collapse at lambda = inf",
                      fontsize=10)
    axes[1].set_title("mean error: stationary q/(1+q), growing with lambda", fontsize=10)
    if stationary is not None:
        lams, meas, half, curve_lams, curve = stationary
        ax = axes[2]
        ax.plot(curve_lams, curve, "k--", lw=1, label="exact q/(1+q), q = lam^2/(m(1+2 lam))")
        ax.errorbar(lams, meas, yerr=half, fmt="o", color="C3", ms=5, capsize=3,
                    label="measured (second-half average, CI)")
        ax.axhline(1.0, color="grey", ls=":", lw=1, label="replace limit (lam = inf)")
        ax.set_xscale("log")
        ax.set_xlabel("lambda (synthetic weight)")
        ax.set_ylabel("stationary E ||mu - rbar||^2 / Tr S")
        ax.set_title("stationary error grows with lambda, -> replace", fontsize=10)
        ax.legend(fontsize=7)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig
