"""Figures of the neural generate-verify-retrain loop. Functions return the Figure."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from collapse_jax.verdict.figures import band_key, band_plot

COLORS = {"none": "C3", "strong": "C0", "weak": "C1"}


def mosaic(images, classes: int, side: int) -> np.ndarray:
    """``(classes * g, side * side)`` images (class-major) -> one ``(g * side, classes * side)``
    picture with one column per class."""
    images = np.asarray(images, dtype=float)
    g = images.shape[0] // classes
    x = images.reshape(classes, g, side, side)
    return x.transpose(1, 2, 0, 3).reshape(g * side, classes * side)


def round_columns(rounds: int, max_cols: int = 6) -> list[int]:
    """Rounds shown in the sample grids: 0, the last one, evenly spaced between."""
    if rounds + 1 <= max_cols:
        return list(range(rounds + 1))
    return sorted({int(round(v)) for v in np.linspace(0, rounds, max_cols)})


def sample_grids(ax_row, grids, rounds_shown, classes: int, side: int, label: str):
    """Draw the per-round sample mosaics of one setting along a row of axes."""
    for ax, k in zip(ax_row, rounds_shown):
        ax.imshow(mosaic(grids[k], classes, side), cmap="gray_r", vmin=0, vmax=1,
                  interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"{label}: round {k}", fontsize=8)


def gain_panel(ax, sweep: dict, label: str):
    """First-round gain ``1 - E FD_1 / E FD_0`` against the ratio of kept synthetic to real
    images (log scale), seed mean and +-2 standard errors (round 0 is common to the points,
    so the bar is the round-1 distance's error in round-0 units); with the sweep's unverified
    control, that arm's gain at the largest ratio with its CI (a hollow square drawn just right
    of that ratio)."""
    r = np.asarray(sweep["ratios"], dtype=float)
    g = np.asarray(sweep["gain_mean"], dtype=float)
    se = np.asarray(sweep["fd_round1_se"], dtype=float) / np.asarray(sweep["fd_round0_mean"])
    ax.errorbar(r, g, yerr=2 * se, marker="o", color=COLORS.get(label, "C0"), capsize=3,
                label=f"{label}: seed mean +- 2 SE")
    ctl = sweep.get("unverified_control")
    if ctl:
        lo, hi = ctl["gain_unverified_ci"]
        g_u = ctl["gain_unverified"]
        ax.errorbar([ctl["ratio"] * 1.2], [g_u], yerr=[[g_u - lo], [hi - g_u]], marker="s",
                    mfc="white", color=COLORS["none"], capsize=3, ls="none",
                    label=f"unverified at {ctl['ratio']:g}: CI (drawn just right)")
    ax.axhline(0.0, color="k", lw=0.8, ls="--", label="no gain")
    ax.set_xscale("log", base=2)
    ax.set_xlim(r.min() / 1.5, r.max() * 1.5)
    ax.set_xlabel("kept synthetic / real images")
    ax.set_ylabel("first-round gain 1 - E FD_1 / E FD_0", fontsize=9)
    ax.set_title("one verified round: gain vs amount of kept data", fontsize=9)
    ax.legend(fontsize=7)


def verification_figure(curves: dict, grids: dict, *, side: int, classes: int = 10,
                        floor: float | None = None, title: str = "",
                        ratio_sweep: dict | None = None, sweep_label: str = "strong"):
    """Top row: Frechet distance to held-out real digits, pixel variance and coverage per
    round (seed mean and 10-90% band) for every setting, and (with ``ratio_sweep``, the
    check's ``findings.ratio_sweep``) the first-round gain against the ratio of kept
    synthetic to real images. Below: generated samples (one seed, one row per class) per
    round for each setting in ``grids``.

    ``curves[name][metric]`` is ``(seeds, rounds + 1)``; ``grids[name]`` is
    ``(rounds + 1, classes * g, side * side)``.
    """
    names = list(curves)
    rounds = next(iter(curves.values()))["fd_real"].shape[1] - 1
    shown = round_columns(rounds)
    n_rows = 1 + len(grids)
    fig = Figure(figsize=(max(12 if ratio_sweep is None else 16, 2.4 * len(shown)),
                          4.2 + 1.9 * len(grids)))
    gs = fig.add_gridspec(n_rows, 1, height_ratios=[3.6] + [1.6] * len(grids), hspace=0.6)
    top = gs[0].subgridspec(1, 3 if ratio_sweep is None else 4, wspace=0.32)
    t = np.arange(rounds + 1)
    for j, (metric, ylabel) in enumerate((("fd_real", "Frechet distance to held-out real"),
                                          ("pixel_var", "pixel variance within class"),
                                          ("coverage", "coverage (class-matched k-NN)"))):
        ax = fig.add_subplot(top[0, j])
        for i, name in enumerate(names):
            color = COLORS.get(name, f"C{2 + i}")
            band_plot(ax, t, curves[name][metric], name, color)
        if metric == "fd_real" and floor is not None:
            ax.axhline(floor, color="k", ls=":", lw=1, label="real vs real")
        ax.set_xlabel("round")
        ax.set_ylabel(ylabel, fontsize=9)
        if j == 0:
            band_key(ax, "shaded: 10-90% of seeds (each panel)")
            ax.legend(fontsize=7)
            ax.set_title(title, fontsize=9, loc="left")
    if ratio_sweep is not None:
        gain_panel(fig.add_subplot(top[0, 3]), ratio_sweep, sweep_label)
    for r, (name, g) in enumerate(grids.items()):
        row = gs[1 + r].subgridspec(1, len(shown), wspace=0.06)
        axes = [fig.add_subplot(row[0, c]) for c in range(len(shown))]
        sample_grids(axes, np.asarray(g), shown, classes, side, name)
    return fig
