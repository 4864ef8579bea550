"""Plotting helpers every family's figures share. Matplotlib is imported here, and no
backend is ever chosen: figures are built without pyplot."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure


def new_figure(nrows: int = 1, ncols: int = 1, *, figsize, **kwargs):
    """``(figure, axes)`` like ``pyplot.subplots`` but without pyplot: no backend is chosen or
    changed (the library never calls ``matplotlib.use``), nothing enters pyplot's figure
    registry (no figure to close), and the figure displays in a notebook and saves with
    ``fig.savefig`` on any machine, headless included."""
    fig = Figure(figsize=figsize)
    return fig, fig.subplots(nrows, ncols, **kwargs)


#: What :func:`band_plot`'s shaded band is, in a legend's words.
QUANTILE_BAND = "shaded: 10-90% of seeds"


def band_key(ax, text: str = QUANTILE_BAND) -> None:
    """A legend entry (a grey swatch) that says what the shaded bands of ``ax`` are: the bands
    themselves carry their curve's colour and no label of their own."""
    ax.fill_between([], [], [], color="0.55", alpha=0.3, lw=0, label=text)


def band_plot(ax, t, curves, label, color, qs=(0.1, 0.9)):
    """Seed mean (line) and a quantile band over seeds (shaded) of ``curves (seeds, T)``."""
    curves = np.asarray(curves, dtype=float)
    lo, hi = np.nanquantile(curves, qs, axis=0)
    ax.plot(t, np.nanmean(curves, axis=0), color=color, label=label, lw=1.6)
    ax.fill_between(t, lo, hi, color=color, alpha=0.2, lw=0)
