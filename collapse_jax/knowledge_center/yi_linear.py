"""``--preset yi-linear``: Yi et al.'s one-round linear-regression simulation, as they ran it.

``simulation/linear_regression_empirical_loss.py`` of liuqiyuanhhh/Verified-Synthetic-Data
(commit 0a7e9192, unchanged since), read point by point: ``d = 5`` coefficients ``beta* =``
numpy's ``np.random.seed(0); np.random.randn(5)`` (reproduced exactly here), label noise
``sigma = 1``; for each verifier bias ``a`` and width ``gamma`` of the grid ``a in
linspace(0, 0.25, 300)``, ``gamma in linspace(0.01, 0.5, 150)`` and each of ``sim_n = 100``
simulations:

* ``n1 = 100`` real rows ``x ~ N(0, I_5)``, ``y = x^T beta* + eps``; ``beta0`` = OLS on them
  (``unfiltered_x``);
* the verifier's belief ``beta' = beta* + a 1`` keeps a row iff ``|y - x^T beta'| <= gamma
  ||x|| + sqrt(2 / pi) sigma``; ``beta1`` = OLS on the kept real rows (``filtered_x``);
* ``n2 = 100`` synthetic rows ``x ~ N(0, I_5)`` (one design shared by both branches), labelled
  by ``beta1`` (``filtered_xy``: filter, then OLS) and by ``beta0`` (``filter_y``), each with
  fresh noise and the same verifier;
* the loss of each estimator is ``||beta - beta*||^2``; an empty kept set falls back to the
  estimator that labelled the rows.

One round, isotropic rows with ``E||x||^2 = 5`` for real and synthetic data alike, ``n2``
synthetic rows in total: the setting the main check's CLI cannot express (it fixes the
synthetic rows' scale at ``E||x||^2 = 1``, counts ``n`` per direction and needs 4 rounds).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from collapse_jax.core import _random, linalg

ESTIMATORS = ("unfiltered_x", "filtered_x", "filtered_xy", "filter_y")
#: The authors' grid and sizes.
BIAS = (0.0, 0.25, 300)
WIDTH = (0.01, 0.5, 150)
N1 = N2 = 100
DIM = 5
SIGMA = 1.0
SIM_N = 100


def beta_star() -> np.ndarray:
    """The authors' ``beta*``: ``np.random.seed(0); np.random.randn(5)`` at import time."""
    return np.random.RandomState(0).randn(DIM)


def grid(step: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Their bias and width values, every ``step``-th one (the last one always kept)."""
    out = []
    for lo, hi, num in (BIAS, WIDTH):
        full = np.linspace(lo, hi, num)
        idx = np.unique(np.r_[np.arange(0, num, step), num - 1])
        out.append(full[idx])
    return out[0], out[1]


class YiConfig(NamedTuple):
    """Static sizes (hashable)."""

    n1: int
    n2: int
    dim: int


class YiParams(NamedTuple):
    """Array leaves; ``bias`` and ``width`` carry the sweep axis."""

    bias: jax.Array
    width: jax.Array
    beta_star: jax.Array
    sigma: jax.Array


def params_for(bias, width, sigma: float = SIGMA) -> YiParams:
    """Sweep parameters over the cells ``(bias[i], width[i])`` (1-D arrays of equal length)."""
    bias = jnp.asarray(bias, jnp.float64)
    width = jnp.asarray(width, jnp.float64)
    cells = bias.shape[0]
    return YiParams(bias, width, jnp.broadcast_to(jnp.asarray(beta_star()), (cells, DIM)),
                    jnp.full((cells,), sigma, jnp.float64))


def _ols(x, y, keep, fallback):
    """OLS on the kept rows (sufficient statistics, a pure-JAX Cholesky solve); fewer than
    ``d`` kept rows or a singular Gram matrix keep ``fallback`` (returned with a flag)."""
    gram = jnp.einsum("ni,nj,n->ij", x, x, keep)
    beta = linalg.spd_solve(gram, x.T @ (keep * y))
    ok = (keep.sum() >= x.shape[1]) & jnp.all(jnp.isfinite(beta))
    return jnp.where(ok, beta, fallback), (~ok).astype(x.dtype)


def yi_linear_kernel(key, params: YiParams, cfg: YiConfig, silo=0):
    """One simulation at one ``(bias, width)`` cell (module docstring). Returns ``(None,
    metrics)``: the four losses, the kept fraction of the real and of the ``filter_y``
    synthetic rows, and the number of fits that fell back."""
    del silo
    dtype = jnp.float64
    n1, n2, d = cfg.n1, cfg.n2, cfg.dim
    bs, sigma = params.beta_star.astype(dtype), params.sigma
    k0, k1 = jax.random.split(key)
    real = _random.normal(k0, (n1, d + 1), dtype)
    x0, y0 = real[:, :d], real[:, :d] @ bs + sigma * real[:, d]
    syn = _random.normal(k1, (n2, d + 2), dtype)
    x1 = syn[:, :d]
    belief = bs + params.bias
    slack = jnp.sqrt(2.0 / jnp.pi) * sigma

    def verify(x, y):
        return (jnp.abs(y - x @ belief)
                <= params.width * jnp.sqrt(jnp.sum(x**2, axis=1)) + slack).astype(dtype)

    ones = jnp.ones(n1, dtype)
    b0, f0 = _ols(x0, y0, ones, jnp.zeros(d, dtype))
    keep0 = verify(x0, y0)
    b1, f1 = _ols(x0, y0, keep0, b0)
    y_xy = x1 @ b1 + sigma * syn[:, d]
    b2, f2 = _ols(x1, y_xy, verify(x1, y_xy), b1)
    y_y = x1 @ b0 + sigma * syn[:, d + 1]
    keep_y = verify(x1, y_y)
    b3, f3 = _ols(x1, y_y, keep_y, b0)
    losses = {name: jnp.sum((b - bs) ** 2) for name, b in zip(ESTIMATORS, (b0, b1, b2, b3))}
    return None, {**losses, "kept_real": keep0.mean(), "kept_synthetic": keep_y.mean(),
                  "fallbacks": f0 + f1 + f2 + f3}


def unfiltered_loss(n1: int = N1, dim: int = DIM, sigma: float = SIGMA) -> float:
    """``E||beta0 - beta*||^2 = sigma^2 E tr (X^T X)^{-1} = sigma^2 d / (n1 - d - 1)`` for
    Gaussian rows (the inverse-Wishart mean): exact, computed before any simulation."""
    return sigma**2 * dim / (n1 - dim - 1)


def no_verifier_loss(n1: int = N1, n2: int = N2, dim: int = DIM, sigma: float = SIGMA) -> float:
    """``filter_y`` with a verifier that keeps every row: ``beta3 - beta* = (beta0 - beta*) +``
    an independent OLS error on ``n2`` rows, so the two inverse-Wishart means add (exact)."""
    return unfiltered_loss(n1, dim, sigma) + unfiltered_loss(n2, dim, sigma)


# ----------------------------------------------------------------------------------------
# The preset: claims, map, figure
# ----------------------------------------------------------------------------------------

NAME = "yi-linear"
CLAIM_SEEDS = 20000  # simulations at each claim cell (the map keeps the authors' sim_n)
QUICK_GRID_STEP = 10
CLAIM_IDS = ("Y0", "Y1", "Y2", "Y3", "Y4")
#: (bias, width) cells of the sign claims: the grid's narrowest verifier, unbiased (Y1, Y3)
#: and at the grid's largest bias (Y2)
Y1_CELL = (BIAS[0], WIDTH[0])
Y2_CELL = (BIAS[1], WIDTH[0])
DIFFERENCES = (
    "random numbers: JAX threefry keys with common random numbers across the grid's cells "
    "(every cell sees the same real and synthetic draws; theirs are fresh per cell), so the "
    "map is smooth and differences between cells are paired",
    "OLS: a Cholesky solve of the kept rows' Gram matrix, falling back to the labelling "
    "estimator when fewer than 5 rows are kept (theirs: pinv, which gives the minimum-norm "
    "fit there, and falls back only when none is kept); the fallbacks are counted and "
    "printed",
    "the claims' cells run 20000 simulations on their own key beside the map's sim_n (their "
    "100 per cell cannot resolve a single cell)")


def _cells(bias, width):
    bb, ww = np.meshgrid(bias, width, indexing="ij")
    return bb, ww


def body(a):
    """``--preset yi-linear`` of the knowledge-centre check: returns ``(report, claims,
    figure)`` for :func:`collapse_jax.verdict.run_check`."""
    from collapse_jax.core import stats
    from collapse_jax.engine import batch
    from collapse_jax.verdict import Claim, Progress, curve_summary, save_figure

    level = a.plan.declare(CLAIM_IDS)
    key = jax.random.key(a.key)
    cfg = YiConfig(N1, N2, DIM)
    progress = Progress(2)
    bias, width = grid(a.grid_step)
    bb, ww = _cells(bias, width)
    (_, m), tm = batch.run_sweep(yi_linear_kernel, jax.random.fold_in(key, 0),
                                 params_for(bb.ravel(), ww.ravel()), cfg, seeds=a.seeds,
                                 timed=True, options=a.batch_options)
    progress.step("map")
    loss = {k: np.asarray(m[k])[:, :, 0].reshape(bb.shape + (a.seeds,)) for k in ESTIMATORS}
    fallbacks = float(np.asarray(m["fallbacks"]).sum())
    mean = {k: v.mean(-1) for k, v in loss.items()}
    # the authors' which_min order: filtered_x, filter_y, filtered_xy, unfiltered_x
    order = ("filtered_x", "filter_y", "filtered_xy", "unfiltered_x")
    which = np.argmin(np.stack([mean[k] for k in order]), axis=0)
    share = {k: float(np.mean(which == i)) for i, k in enumerate(order)}

    # claim cells: (bias, width) on their own key, CLAIM_SEEDS simulations each
    cells = {"Y1": Y1_CELL, "Y2": Y2_CELL, "Y4": (0.0, np.inf)}
    cb = np.array([c[0] for c in cells.values()])
    cw = np.array([c[1] for c in cells.values()])
    (_, mc), tc = batch.run_sweep(yi_linear_kernel, jax.random.fold_in(key, 1),
                                  params_for(cb, cw), cfg, seeds=a.claim_seeds, timed=True,
                                  options=a.batch_options)
    progress.step("claim cells")
    at = {cid: {k: np.asarray(mc[k])[i, :, 0] for k in (*ESTIMATORS, "fallbacks")}
          for i, cid in enumerate(cells)}
    fallbacks_claims = float(sum(v["fallbacks"].sum() for v in at.values()))

    claims = []
    pred0 = unfiltered_loss()
    m0, ci0 = stats.mean_ci(at["Y1"]["unfiltered_x"], level)
    claims.append(Claim(
        "Y0", f"unfiltered_x (OLS on the {N1} real rows): E||beta0 - beta*||^2 = sigma^2 d / "
        f"(n1 - d - 1) (Gaussian rows: the inverse-Wishart mean)", pred0, m0, ci0,
        max_half_width=0.05 * pred0,
        note=f"exact closed form, no simulation; {a.claim_seeds} simulations"))

    def gain(cid, cell, est, relation, text):
        diff = at[cell][est] - at[cell]["unfiltered_x"]
        md, ci = stats.mean_ci(diff, level)
        b_, w_ = cells[cell]
        claims.append(Claim(
            cid, f"{text}: E[loss {est} - loss unfiltered_x] at a = {b_:g}, gamma = {w_:g} "
            f"{'<' if relation == 'below' else '>'} 0", 0.0, md, ci,
            max_half_width=0.25 * pred0, relation=relation,
            note=f"paired over {diff.size} simulations: {est} {at[cell][est].mean():.5f}, "
                 f"unfiltered_x {at[cell]['unfiltered_x'].mean():.5f}; the sign is the "
                 "paper's trade-off (Theorem 3.1), no magnitude is predicted"))

    gain("Y1", "Y1", "filter_y", "below", "an unbiased verifier improves one synthetic round")
    gain("Y2", "Y2", "filter_y", "above", "a verifier biased by a = 0.25 per coefficient "
         "makes the round worse than the real data alone")
    gain("Y3", "Y1", "filtered_x", "below", "filtering the real rows with an unbiased "
         "verifier helps")
    pred4 = no_verifier_loss()
    m4, ci4 = stats.mean_ci(at["Y4"]["filter_y"], level)
    claims.append(Claim(
        "Y4", "no verifier (gamma = inf keeps every row): filter_y's loss = d sigma^2 / (n1 - d "
        "- 1) + d sigma^2 / (n2 - d - 1) (the real fit's error plus an independent OLS error)",
        pred4, m4, ci4, max_half_width=0.05 * pred4,
        note="exact closed form; a negative control of the verifier: with it the loss is "
             f"{at['Y1']['filter_y'].mean():.5f} (Y1's cell). Identity, not a claim: with "
             "every row kept filtered_x is unfiltered_x"))
    boundary = {}  # the first bias where filter_y stops beating the real fit, per width
    for j, w_ in enumerate(width):
        d_ = mean["filter_y"][:, j] - mean["unfiltered_x"][:, j]
        up = np.nonzero((d_[:-1] < 0) & (d_[1:] >= 0))[0]
        if up.size:
            i = up[0]
            boundary[f"{w_:.4g}"] = float(bias[i] - d_[i] * (bias[i + 1] - bias[i])
                                          / (d_[i + 1] - d_[i]))
        else:  # filter_y never beats the real fit at this width, or beats it everywhere
            boundary[f"{w_:.4g}"] = "never" if d_[0] >= 0 else "always"
    curves = {
        f"filter_y - unfiltered_x, gamma={w_:.4g} (generation = bias index; a = "
        f"{BIAS[1]:g} i / {bias.size - 1})": {
            "loss_difference": curve_summary(
                (loss["filter_y"][:, j] - loss["unfiltered_x"][:, j]).T)}
        for j, w_ in [(0, width[0]), (width.size // 2, width[width.size // 2]),
                      (width.size - 1, width[-1])]}
    findings = {"which_min_share": share, "fallback_fits": {"map": fallbacks,
                                                             "claim_cells": fallbacks_claims},
                "kept_fraction_real_at_Y1": float(np.asarray(mc["kept_real"])[0].mean()),
                "break_even_note": "first bias where filter_y's mean loss reaches the real "
                                   "fit's, per width ('never' / 'always' better on the grid)",
                "filter_y_break_even_bias_by_gamma": boundary,
                "beta_star": beta_star().tolist()}
    report = {
        "config": {"preset": NAME, "seeds_per_cell": a.seeds, "claim_seeds": a.claim_seeds,
                   "grid_step": a.grid_step, "bias_values": bias.size,
                   "width_values": width.size, "n1": N1, "n2": N2, "dim": DIM,
                   "sigma": SIGMA, "key": a.key, "ci_level_per_claim": level,
                   "differences_from_the_authors": list(DIFFERENCES)},
        "precision": {"fit": "float64", "sampling": "float64"},
        "timing": {"compile_s": tm.compile_s + tc.compile_s, "run_s": tm.run_s + tc.run_s,
                   "seed_generations_per_s": (bb.size * a.seeds + len(cells) * a.claim_seeds)
                   / max(tm.run_s + tc.run_s, 1e-9)},
        "curves": curves, "findings": findings, "ci_level": level,
        "summary": _summary(share, boundary, fallbacks, bb.size, a.seeds),
        "ci_note": a.plan.note() + "; Student t over simulations (paired differences for "
                   "Y1-Y3). Differences from the authors' run that remain: " + "; ".join(
                       f"({i}) {d}" for i, d in enumerate(DIFFERENCES, 1))}

    def figure(path):
        from matplotlib.colors import ListedColormap
        from matplotlib.figure import Figure

        fig = Figure(figsize=(11, 4))
        ax1, ax2 = fig.subplots(1, 2)
        ext = (width[0], width[-1], bias[0], bias[-1])
        cmap = ListedColormap(["tab:blue", "tab:orange", "tab:green", "tab:gray"])
        ax1.imshow(which, origin="lower", aspect="auto", extent=ext, cmap=cmap, vmin=-0.5,
                   vmax=3.5, interpolation="nearest")
        for i, k in enumerate(order):
            ax1.plot([], [], "s", color=cmap(i), label=f"{k} ({share[k]:.0%})")
        ax1.legend(fontsize=7, loc="upper right")
        ax1.set(xlabel="verifier width gamma", ylabel="verifier bias a",
                title=f"lowest mean loss ({a.seeds} simulations per cell)")
        diff = mean["filter_y"] - mean["unfiltered_x"]
        lim = float(np.max(np.abs(diff)))
        im = ax2.imshow(diff, origin="lower", aspect="auto", extent=ext, cmap="RdBu_r",
                        vmin=-lim, vmax=lim)
        ax2.contour(width, bias, diff, levels=[0.0], colors="k", linewidths=1)
        fig.colorbar(im, ax=ax2, label="loss filter_y - loss unfiltered_x")
        ax2.set(xlabel="verifier width gamma", title="one verified round against the real fit "
                "(black: break-even)")
        save_figure(fig, path, dpi=110, bbox_inches="tight")

    return report, claims, figure


def _summary(share, boundary, fallbacks, cells, seeds) -> str:
    ws = list(boundary)
    picks = [ws[0], ws[len(ws) // 2], ws[-1]]
    def said(v):
        return {"never": "never better on the grid",
                "always": "better everywhere on the grid"}.get(v) or f"a = {v:.3f}"

    be = ", ".join(f"gamma {w}: {said(boundary[w])}" for w in picks)
    return (f"lowest mean loss over {cells} cells x {seeds} simulations: "
            + ", ".join(f"{k} {v:.1%}" for k, v in share.items())
            + f"\nfilter_y breaks even with the real fit at {be}"
            + f"\nfits that fell back (fewer than 5 kept rows): {fallbacks:g}")
