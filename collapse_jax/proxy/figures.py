"""Figures of the proxy-reference simulation. Functions take arrays and return a Figure."""

from __future__ import annotations

import numpy as np

from collapse_jax.verdict.figures import band_plot, new_figure

STRATEGY_COLORS = {"random": "0.45", "local": "C3", "global-oracle": "k",
                   "interpolation": "C0", "barycenter": "C2", "kmeans": "C1",
                   "center-match": "C4", "cov-match": "C5", "party-scores": "C0",
                   "kmeans-pool": "C1", "cov-match-greedy": "C5"}
#: Line styles: the controls (random: dashed grey; the oracle's pooled reference: dotted black,
#: thick) stand apart from the references a silo can build, drawn solid.
STRATEGY_STYLES = {"random": "--", "global-oracle": ":"}
#: What each strategy's reference is (the legend's text).
STRATEGY_LABELS = {
    "random": "random (no selection; control)",
    "local": "local (own data only)",
    "global-oracle": "global oracle (pooled data; control)",
    "interpolation": "interpolation proxy (Scheme I)",
    "barycenter": "barycenter proxy (Scheme II)",
    "kmeans": "k-means baseline",
    "center-match": "center-match baseline",
    "cov-match": "cov-match baseline",
    "party-scores": "party scores (Scheme I, the authors')",
    "kmeans-pool": "k-means of the pool (the authors')",
    "cov-match-greedy": "greedy cov-match (the authors')",
}


def ci_band(ax, t, curves, label, color, ls="-"):
    """Seed mean (line) and its 95% band ``mean +- 1.96 SE`` over seeds (shaded)."""
    v = np.asarray(curves, dtype=float)
    m = np.nanmean(v, axis=0)
    se = np.nanstd(v, axis=0, ddof=1) / np.sqrt(np.sum(np.isfinite(v), axis=0).clip(1))
    ax.plot(t, m, color=color, label=label, lw=2.2 if ls == ":" else 1.6, ls=ls)
    ax.fill_between(t, m - 1.96 * se, m + 1.96 * se, color=color, alpha=0.15, lw=0)


def curves_axes(ax, by_strategy: dict, ylabel: str, title: str = "", band: str = "ci"):
    """Per-generation seed means (lines) of ``by_strategy[name]`` ``(seeds, T + 1)`` with a
    band over seeds: ``ci`` (95% interval of the mean) or ``quantile`` (10-90%)."""
    for name, v in by_strategy.items():
        v = np.asarray(v, dtype=float)
        label = STRATEGY_LABELS.get(name, name)
        if band == "ci":
            ci_band(ax, np.arange(v.shape[1]), v, label, STRATEGY_COLORS.get(name),
                    STRATEGY_STYLES.get(name, "-"))
        else:
            band_plot(ax, np.arange(v.shape[1]), v, label, STRATEGY_COLORS.get(name))
    ax.set_xlabel("generation")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)


def frechet_axes(ax, frechet):
    """Scheme II: Frechet variance over barycenter rounds, ``(curves, rounds + 1)`` (one
    curve per seed and generation), normalised by round 0."""
    fr = np.asarray(frechet, dtype=float)
    fr = fr / fr[:, :1]
    r = np.arange(fr.shape[1])
    ax.plot(r, fr.T, color="C2", alpha=0.06, lw=0.8)
    ax.plot(r, np.nanmean(fr, axis=0), color="k", lw=2, label="mean over seeds x generations")
    ax.set_xlabel("barycenter round r")
    ax.set_ylabel("Frechet variance V_r / V_0")
    ax.set_title("Scheme II's barycenter: Frechet variance\n"
                 "V_r = sum_k lambda_k OT_eps(X_r, Q_k) over rounds r", fontsize=9)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)


def proxy_figure(panels: list, frechet=None, *, title: str = ""):
    """Curves panels ``[(by_strategy, ylabel, title), ...]`` plus an optional Frechet panel."""
    k = len(panels) + (frechet is not None)
    fig, axes = new_figure(1, k, figsize=(4.8 * k, 4.2), squeeze=False)
    for ax, (by_strategy, ylabel, sub) in zip(axes[0], panels):
        curves_axes(ax, by_strategy, ylabel, sub)
    if frechet is not None:
        frechet_axes(axes[0, -1], frechet)
    # one legend for every curves panel, below them; it names each strategy's reference
    handles, labels = {}, []
    for ax in axes[0, :len(panels)]:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            if lab not in handles:
                handles[lab] = h
                labels.append(lab)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0.13, 1, 0.97))
    fig.legend([handles[lab] for lab in labels], labels, loc="lower center",
               ncol=min(4, len(labels)), fontsize=8, frameon=False,
               title="strategy (each panel: seed mean, shaded band: 95% CI of the mean over "
                     "seeds)", title_fontsize=8)
    return fig


def gallery_figure(samples: dict, generations, *, truth_means=None, title: str = ""):
    """Scatter gallery: rows are strategies, columns the chosen generations;
    ``samples[strategy]`` is ``(T + 1, m, d)`` (the first two coordinates are drawn)."""
    names = list(samples)
    fig, axes = new_figure(len(names), len(generations),
                           figsize=(2.4 * len(generations), 2.3 * len(names)),
                           squeeze=False, sharex=True, sharey=True)
    for i, name in enumerate(names):
        x = np.asarray(samples[name])
        for j, g in enumerate(generations):
            ax = axes[i, j]
            ax.scatter(x[g, :, 0], x[g, :, 1], s=3, color=STRATEGY_COLORS.get(name, "C0"),
                       alpha=0.6, lw=0)
            if truth_means is not None:
                tm = np.asarray(truth_means)
                ax.scatter(tm[:, 0], tm[:, 1], marker="x", color="k", s=18, lw=1)
            if i == 0:
                ax.set_title(f"generation {g}", fontsize=9)
            if j == 0:
                ax.set_ylabel(name, fontsize=9)
            ax.set_xticks([])
            ax.set_yticks([])
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.98))
    return fig
