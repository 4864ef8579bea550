"""The power-law check's figure, from computed arrays (returns the Figure; nothing is shown)."""

from __future__ import annotations

import numpy as np

from collapse_jax.power_law.theory import log_selection_product
from collapse_jax.verdict.figures import band_plot as band_plot
from collapse_jax.verdict.figures import new_figure as new_figure

COLORS = {"accumulate+select": "C3", "accumulate": "C0", "replace+select": "C1",
          "replace": "C2"}


def power_law_figure(ratios: dict, *, window, fitted_slope, predicted_slope, psi,
                     psi_grid=None, equivalent=None, title=""):
    """Left: ``Tr Sigma_t / Tr Sigma_0`` per setting on log-log axes, seed bands (10-90%),
    the fitted slope, the theoretical curve and the deterministic equivalent of each setting
    in ``equivalent`` (name -> curve). Right: psi measured vs closed form."""
    fig, axes = new_figure(1, 2 if psi_grid else 1, figsize=(12 if psi_grid else 6.5, 4.6))
    axes = np.atleast_1d(axes)
    ax = axes[0]
    for name, r in ratios.items():
        t = np.arange(r.shape[1])
        band_plot(ax, t[1:], r[:, 1:], name, COLORS.get(name, None))
    r = ratios["accumulate+select"]
    t = np.arange(1, r.shape[1])
    m = np.nanmean(r[:, 1:], axis=0)
    theo = np.exp(log_selection_product(psi, t))
    ax.plot(t, theo * m[-1] / theo[-1], "k--", lw=1,
            label=f"theory prod(1 - psi/(s+1)), psi={psi:.3f}")
    for name, curve in (equivalent or {}).items():
        curve = np.asarray(curve, dtype=float)
        ax.plot(np.arange(1, curve.size), curve[1:], ":", color="k", lw=1.5,
                label=f"{name}: deterministic equivalent")
    w = (t >= window[0]) & (t <= window[1])
    tw = t[w]
    anchor = m[w][0]
    ax.plot(tw, anchor * (tw / tw[0]) ** fitted_slope, color="k", lw=2.5, alpha=0.4,
            label=f"fitted slope {fitted_slope:.4f} (predicted {predicted_slope:.4f})")
    ax.set_xscale("log")
    ax.set_yscale("log")
    # Keep the power law readable; geometric (replace + select) collapse leaves the frame.
    ax.set_ylim(bottom=0.2 * float(np.nanquantile(r[:, -1], 0.1)), top=3.0)
    ax.set_xlabel("generation t")
    ax.set_ylabel("Tr Sigma_t / Tr Sigma_0")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, loc="lower left")
    if psi_grid:
        ax = axes[1]
        for dim in sorted({g["dim"] for g in psi_grid}):
            pts = [g for g in psi_grid if g["dim"] == dim]
            ax.plot([g["predicted"] for g in pts], [g["measured"] for g in pts], "o",
                    label=f"d={dim}")
        ax.plot([0, 1], [0, 1], "k:", lw=1)
        ax.set_xlabel("closed-form psi(alpha, d)")
        ax.set_ylabel("psi recovered from the measured slope")
        ax.set_title("psi: measured vs predicted over alpha in {0.1, 0.25, 0.5, 0.75}",
                     fontsize=10)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


PRESET_COLORS = {"replace": "C2", "replace+select": "C1", "accumulate": "C0",
                 "accumulate+select": "C3"}


def preset_figure(curves: dict, findings: dict, *, n: int, window, seeds: int):
    """Qiao et al.'s Gaussian experiment: the population mean of ``Tr Sigma_t / Tr Sigma*`` per
    regime (log-log), the deterministic equivalent of accumulate + selection (dashed; its
    mean-field limit dotted), and the
    authors' published 10-run means at t = 10, 100, 300 (markers)."""
    fig, ax = new_figure(1, 1, figsize=(7, 4.8))
    for name, color in PRESET_COLORS.items():
        mean = np.asarray(curves[name]["trace_ratio"]["mean"], dtype=float).ravel()
        t = np.arange(mean.size)
        ax.plot(t[1:], mean[1:], color=color, lw=1.6, label=f"{name} ({seeds} seeds)")
        pub = findings.get("published", {}).get(name)
        if pub:
            ax.plot([10, 100, 300], [pub["r10"], pub["r100"], pub["r300"]], "o", color=color,
                    mfc="none", ms=7)
    for key, style, label in (
            ("accumulate+select (deterministic equivalent)", "k--",
             "accumulate+select, deterministic equivalent (groups -> 1)"),
            ("accumulate+select (mean-field limit)", "k:",
             "accumulate+select, mean-field limit (groups -> inf)")):
        if key in curves:
            eq = np.asarray(curves[key]["trace_ratio"]["mean"], dtype=float).ravel()
            ax.plot(np.arange(1, eq.size), eq[1:], style, lw=1.2, label=label)
    ax.axvspan(window[0], window[1], color="0.92", zorder=0)
    ax.set(xscale="log", yscale="log", xlabel="generation t", ylabel="Tr Sigma_t / Tr Sigma*",
           title=f"Qiao et al.'s Gaussian experiment, n = {n} (circles: their published 10-run "
                 "means)")
    ax.legend(fontsize=8)
    return fig
