"""Figures of the neural generate-verify-retrain loop. Functions return the Figure."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from collapse_jax.verdict.figures import band_plot

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


def verification_figure(curves: dict, grids: dict, *, side: int, classes: int = 10,
                        floor: float | None = None, title: str = ""):
    """Top row: Frechet distance to held-out real digits, pixel variance and coverage per
    round (seed mean and 10-90% band) for every setting. Below: generated samples (one seed,
    one row per class) per round for each setting in ``grids``.

    ``curves[name][metric]`` is ``(seeds, rounds + 1)``; ``grids[name]`` is
    ``(rounds + 1, classes * g, side * side)``.
    """
    names = list(curves)
    rounds = next(iter(curves.values()))["fd_real"].shape[1] - 1
    shown = round_columns(rounds)
    n_rows = 1 + len(grids)
    fig = Figure(figsize=(max(12, 2.4 * len(shown)), 4.2 + 1.9 * len(grids)))
    gs = fig.add_gridspec(n_rows, 1, height_ratios=[3.6] + [1.6] * len(grids), hspace=0.35)
    top = gs[0].subgridspec(1, 3, wspace=0.28)
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
            ax.legend(fontsize=7)
            ax.set_title(title, fontsize=9, loc="left")
    for r, (name, g) in enumerate(grids.items()):
        row = gs[1 + r].subgridspec(1, len(shown), wspace=0.06)
        axes = [fig.add_subplot(row[0, c]) for c in range(len(shown))]
        sample_grids(axes, np.asarray(g), shown, classes, side, name)
    return fig
