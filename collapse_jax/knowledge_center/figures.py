"""Figures of verifier-filtered retraining (Yi et al. 2025). Functions return the Figure."""

from __future__ import annotations

import numpy as np
from matplotlib.colors import TwoSlopeNorm

from collapse_jax.verdict.figures import QUANTILE_BAND, band_key, band_plot, new_figure


def _mean_of(curves) -> np.ndarray:
    """Seed mean per round of ``(seeds, K + 1)`` curves or of a streamed summary."""
    if isinstance(curves, dict):
        return np.asarray(curves["mean"], dtype=float)
    return np.nanmean(np.asarray(curves, dtype=float), axis=0)


def seed_band(ax, curves, label, color):
    """Seed mean (line) and 10-90% band over seeds of ``curves``: ``(seeds, K + 1)``, or a
    streamed summary ``{"mean", "se"}`` over every seed, optionally with ``"sample"``
    (``(seeds', K + 1)`` whole curves of a sample of seeds) for the quantile band; without a
    sample the band is +- 2 SE of the mean. Returns the rounds ``t`` and what the band is, in
    a legend's words."""
    if not isinstance(curves, dict):
        curves = np.asarray(curves, dtype=float)
        t = np.arange(curves.shape[1])
        band_plot(ax, t, curves, label, color)
        return t, QUANTILE_BAND
    mean = _mean_of(curves)
    t = np.arange(mean.size)
    sample = curves.get("sample")
    if sample is not None and np.shape(sample)[0] > 0:
        lo, hi = np.nanquantile(np.asarray(sample, dtype=float), (0.1, 0.9), axis=0)
        kind = f"shaded: 10-90% of {np.shape(sample)[0]} seeds"
    else:
        se = np.asarray(curves["se"], dtype=float)
        lo, hi = mean - 2 * se, mean + 2 * se
        kind = "shaded: seed mean +- 2 SE"
    ax.plot(t, mean, color=color, label=label, lw=1.6)
    ax.fill_between(t, lo, hi, color=color, alpha=0.2, lw=0)
    return t, kind


def error_panel(ax, runs: dict, theory: dict, *, label: str, ylabel: str, extra=None):
    """Seed mean and 10-90% band of ``runs[key]`` per round on a log axis (see
    :func:`seed_band` for the forms a run may take), with the matching ``theory[key]`` curve
    dashed; the legend says what the bands are."""
    kinds = []
    for i, (k, curves) in enumerate(runs.items()):
        color = f"C{i}"
        t, kind = seed_band(ax, curves, f"{label}={k:g}", color)
        kinds.append(kind)
        if k in theory:
            ax.plot(t, np.asarray(theory[k])[: t.size], "--", color="k", lw=0.9)
    if extra:
        extra(ax)
    ax.plot([], [], "--", color="k", lw=0.9, label="exact theory")
    for kind in dict.fromkeys(kinds):
        band_key(ax, kind)
    ax.set_yscale("log")
    ax.set_xlabel("round k")
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=7)


def phase_panel(ax, phase: dict):
    """Measured one-step change ``E||theta_1 - theta*||^2 - E||theta_0 - theta*||^2`` over
    the ``(Delta, r)`` grid with the predicted zero contour (quadrature) drawn on it."""
    m = np.asarray(phase["measured"])
    lo, hi = float(np.nanmin(m)), float(np.nanmax(m))
    norm = TwoSlopeNorm(vmin=min(lo, -1e-12), vcenter=0.0, vmax=max(hi, 1e-12))
    im = ax.pcolormesh(phase["r"], phase["delta"], m, cmap="RdBu_r", norm=norm,
                       shading="nearest")
    ax.figure.colorbar(im, ax=ax, label="measured E_1 - E_0 (blue: improvement)")
    cs = ax.contour(phase["fine_r"], phase["fine_delta"], phase["predicted"], levels=[0.0],
                    colors="k", linewidths=1.6)
    ax.clabel(cs, fmt={0.0: "predicted boundary"}, fontsize=7)
    ax.set_xlabel("selectivity r")
    ax.set_ylabel("verifier bias Delta")
    ax.set_title("one verified round vs the OLS fit", fontsize=10)


def knowledge_center_figure(*, delta_runs, delta_theory, r_runs, r_theory, stationary, bound,
                            no_verifier, no_verifier_walk, no_verifier_slope, phase=None,
                            gain=None, title=""):
    """Four panels: error to ``theta*`` for several Delta, error to ``theta_c`` for several r
    (with the exact stationary levels and the Theorem 4.1 bound), the no-verifier random walk
    ``||theta_k - theta_0||^2`` (with its error to ``theta*``), and the phase map of
    :func:`phase_panel` (blank when ``phase`` is None). Runs are ``{value: curves}``, theory
    curves ``{value: (K + 1,)}``. Curves (runs, ``no_verifier_walk``, ``no_verifier``) are
    ``(seeds, K + 1)`` arrays or streamed summaries ``{"mean", "se"}`` over every seed, with
    an optional ``"sample"`` of whole per-seed curves for the 10-90% bands (see
    :func:`seed_band`); only the mean of ``no_verifier`` is drawn. With ``gain`` (from
    :func:`collapse_jax.knowledge_center.check.gain_sweep`) a fifth panel draws the first
    round's gain against the ratio of synthetic to real rows."""
    fig, axes = new_figure(2, 3 if gain is not None else 2,
                           figsize=(18.5 if gain is not None else 12.5, 9.0))
    ax = axes[0, 0]
    error_panel(ax, delta_runs, delta_theory, label="Delta",
                ylabel="E||theta_k - theta*||^2")
    for d in delta_runs:
        ax.axhline(d**2, color="0.6", lw=0.6, ls=":")
    ax.plot([], [], color="0.6", lw=0.6, ls=":", label="Delta^2 (the limit, dotted)")
    ax.legend(fontsize=7)
    ax.set_title("error to the truth: improvement, then Delta^2", fontsize=10)

    ax = axes[0, 1]
    keys = list(r_runs)

    def levels(a):
        for i, r in enumerate(keys):
            a.axhline(stationary[r], color=f"C{i}", lw=0.6, ls=":")
        a.plot([], [], color="0.4", lw=0.6, ls=":", label="exact stationary level (dotted)")
        kb = np.arange(len(bound))
        a.plot(kb, bound, color="m", lw=1.4, ls="-.", zorder=5,
               label="Theorem 4.1 bound (main r)")

    error_panel(ax, r_runs, r_theory, label="r", ylabel="E||theta_k - theta_c||^2",
                extra=levels)
    ax.set_title("error to the centre: r sets the speed, not the limit", fontsize=10)

    ax = axes[1, 0]
    t, kind = seed_band(ax, no_verifier_walk, "no verifier: ||theta_k - theta_0||^2", "C3")
    ax.plot(t, no_verifier_slope * t, "k--", lw=0.9,
            label=f"k p sigma^2 / (s^2 n), slope {no_verifier_slope:.2e}")
    nv = _mean_of(no_verifier)
    ax.plot(t, nv - nv[0], color="C4", lw=1.2,
            label="E||theta_k - theta*||^2 - E||theta_0 - theta*||^2")
    ax.set_xlabel("round k")
    ax.set_ylabel("squared distance")
    ax.set_title("no verifier: a random walk (T = identity), linear growth", fontsize=10)
    band_key(ax, kind)
    ax.legend(fontsize=7)

    ax = axes[1, 1]
    if phase is not None:
        phase_panel(ax, phase)
    else:
        ax.set_axis_off()
    if gain is not None:
        gain_panel(axes[0, 2], gain)
        axes[1, 2].set_axis_off()
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def gain_panel(ax, gain: dict):
    """First-round gain against ``p n / n0`` (synthetic rows over real rows): the quadrature
    (line) and measured means with 2-SE bars, the predicted sign change dotted."""
    ratio = gain["p"] / gain["n0"]
    ax.semilogx(ratio * gain["fine_n"], gain["theory"], "k-", lw=1.2, label="quadrature")
    ax.errorbar(ratio * gain["n"], gain["measured"], yerr=2 * gain["se"], fmt="o", ms=4,
                color="C0", label=f"simulated ({gain['seeds']} seeds, 2 SE)")
    ax.axhline(0.0, color="0.5", lw=0.6)
    if gain["n_star"] is not None:
        ax.axvline(ratio * gain["n_star"], color="C3", ls=":",
                   label=f"sign change: {gain['p'] * gain['n_star']} synthetic rows")
    ax.set(xlabel="synthetic rows / real rows (p n / n0)",
           ylabel="E||theta_1 - theta*||^2 - E||theta_0 - theta*||^2")
    ax.set_title("near-term gain against the amount of verified data", fontsize=10)
    ax.legend(fontsize=7)
