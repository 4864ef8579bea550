"""The power-law check's figure, from computed arrays (returns the Figure; nothing is shown)."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from collapse_jax.power_law.theory import log_selection_product
from collapse_jax.verdict.figures import band_key
from collapse_jax.verdict.figures import band_plot as band_plot
from collapse_jax.verdict.figures import new_figure as new_figure

COLORS = {"accumulate+select": "C3", "accumulate": "C0", "replace+select": "C1",
          "replace": "C2"}


def power_law_figure(ratios: dict, *, window, fitted_slope, predicted_slope, psi,
                     psi_grid=None, equivalent=None, replace_factor=None, title=""):
    """The main check at a glance.

    (a) accumulate with and without selection, log-log: seed mean (line) and 10-90% of seeds
    (band), the closed form ``prod(1 - psi/(s+1))`` and the deterministic equivalent (black,
    thin, drawn over the data), the fit window (grey) and the fitted slope (shifted down by
    half so that it does not hide the curve). Below it, each curve divided by the closed form,
    with the 95% CI of the seed mean: where data and theory agree the ratio is flat.
    (b) replace with and without selection over their own (shorter) run, log-linear: selection
    shrinks the trace geometrically by ``replace_factor`` per generation (dashed).
    (c) ``psi`` recovered from the measured slope against the closed form over ``psi_grid``
    (alpha labelled beside each point, 95% bootstrap CI as error bars).
    """
    fig = Figure(figsize=(16 if psi_grid else 11, 5.2))
    grid = fig.add_gridspec(2, 3 if psi_grid else 2, height_ratios=(3, 1), hspace=0.08,
                            wspace=0.28)
    ax = fig.add_subplot(grid[0, 0])
    res = fig.add_subplot(grid[1, 0], sharex=ax)
    r = ratios["accumulate+select"]
    t = np.arange(1, r.shape[1])
    theo = np.exp(log_selection_product(psi, t))
    m = np.nanmean(r[:, 1:], axis=0)
    theo = theo * m[-1] / theo[-1]  # the closed form fixes the shape; the level is fitted
    for name in ("accumulate", "accumulate+select"):
        if name in ratios:
            band_plot(ax, t, ratios[name][:, 1:], f"{name} (simulation)", COLORS[name])
    ax.plot(t, theo, "k--", lw=0.9,
            label=f"closed form prod(1 - psi/(s+1)), psi = {psi:.3f}")
    for name, curve in (equivalent or {}).items():
        curve = np.asarray(curve, dtype=float)[1:]
        ax.plot(t[:curve.size], curve, ":", color="k", lw=1.4,
                label=f"{name}: deterministic equivalent")
    w = (t >= window[0]) & (t <= window[1])
    tw = t[w]
    ax.axvspan(window[0], window[1], color="0.93", zorder=0, label="fit window")
    ax.plot(tw, 0.5 * m[w][0] * (tw / tw[0]) ** fitted_slope, color="C3", lw=2.5, alpha=0.45,
            label=f"fitted slope {fitted_slope:.4f}, predicted {predicted_slope:.4f} "
                  "(line shifted x0.5)")
    # room under the curve (lower left) for the legend
    ax.set(xscale="log", yscale="log", ylabel="Tr Sigma_t / Tr Sigma_0",
           ylim=(0.02 * float(np.nanmin(m)), 3.0))
    ax.set_title(f"(a) accumulate: power law under selection   {title}", fontsize=9.5)
    ax.tick_params(labelbottom=False)
    band_key(ax)
    ax.legend(fontsize=7, loc="lower left")
    # ratio to the closed form, with the seed mean's 95% CI
    n_seeds = r.shape[0]
    se = np.nanstd(r[:, 1:], axis=0, ddof=1) / np.sqrt(n_seeds)
    res.fill_between(t, (m - 1.96 * se) / theo, (m + 1.96 * se) / theo, color=COLORS[
        "accumulate+select"], alpha=0.3, lw=0, label="accumulate+select / closed form (95% CI)")
    res.plot(t, m / theo, color=COLORS["accumulate+select"], lw=1.2)
    for name, curve in (equivalent or {}).items():
        curve = np.asarray(curve, dtype=float)[1:]
        res.plot(t[:curve.size], curve / theo[:curve.size], "k:", lw=1.4,
                 label="deterministic equivalent / closed form")
    res.axhline(1.0, color="k", lw=0.8, ls="--")
    res.axvspan(window[0], window[1], color="0.93", zorder=0)
    res.set(xscale="log", xlabel="generation t", ylabel="ratio")
    res.legend(fontsize=6.5, loc="lower right", framealpha=0.6)

    ax = fig.add_subplot(grid[:, 1])
    for name in ("replace", "replace+select"):
        if name in ratios:
            rr = np.asarray(ratios[name], dtype=float)
            tr = np.arange(rr.shape[1])
            band_plot(ax, tr, rr, f"{name} (simulation, {rr.shape[1] - 1} generations)",
                      COLORS[name])
            if name == "replace+select" and replace_factor is not None:
                m0 = np.nanmean(rr[:, 1])
                ax.plot(tr[1:], m0 * replace_factor ** (tr[1:] - 1.0), "k--", lw=0.9,
                        label=f"geometric b(n-1)/n = {replace_factor:.4f} per generation")
    ax.set(yscale="log", xlabel="generation t (linear)", ylabel="Tr Sigma_t / Tr Sigma_0")
    ax.set_title("(b) replace: selection collapses geometrically", fontsize=9.5)
    band_key(ax)
    ax.legend(fontsize=7, loc="lower left")

    if psi_grid:
        ax = fig.add_subplot(grid[:, 2])
        for k, dim in enumerate(sorted({g["dim"] for g in psi_grid})):
            pts = [g for g in psi_grid if g["dim"] == dim]
            x = np.array([g["predicted"] for g in pts])
            y = np.array([g["measured"] for g in pts])
            lo = np.array([g.get("ci", (g["measured"],) * 2)[0] for g in pts])
            hi = np.array([g.get("ci", (g["measured"],) * 2)[1] for g in pts])
            seeds = pts[0].get("seeds")
            ax.errorbar(x, y, yerr=[y - lo, hi - y], fmt="o", ms=4, capsize=2, color=f"C{k}",
                        label=f"d = {dim}" + (f" ({seeds} seeds)" if seeds else ""))
            for g in pts:
                ax.annotate(f"a={g['alpha']:g}", (g["predicted"], g["measured"]),
                            textcoords="offset points", xytext=(5, -9 - 7 * k), fontsize=6,
                            color=f"C{k}")
        ax.plot([0, 1], [0, 1], "k:", lw=1, label="measured = closed form")
        ax.set(xlabel="closed-form psi(alpha, d)",
               ylabel="psi recovered from the measured window slope")
        ax.set_title("(c) psi over alpha (labels a=) and dimension, 95% CIs", fontsize=9.5)
        ax.legend(fontsize=7, loc="upper left")
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
