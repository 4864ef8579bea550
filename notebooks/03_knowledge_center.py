# ---
# jupyter:
#   jupytext:
#     formats: py:percent,ipynb
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Verifier-filtered retraining converges to the verifier's knowledge centre
#
# Yi, Liu, Cheng, Xu (arXiv 2510.16657, ICLR 2026); theory.md section 2.
#
# Linear regression `y = x^T theta* + xi`. `theta_0` is OLS on `n0` real rows. Every round
# labels synthetic rows with the current model, a verifier keeps a row iff
# `|y - x^T theta_c| <= r ||x|| + sigma_c`, and OLS is refitted on the kept rows. With the
# block design (rows `s e_j`) each direction follows the one-dimensional map
# `T_j(a) = theta_c + (sigma/s) G(s (a - theta_c)/sigma)`, where `G` is the mean of a normal
# truncated to the window `[-w, w]`, `w = (r s + sigma_c)/sigma`. Its slope is at most
# `rho(w) = V(0)`, so the loop contracts to `theta_c`, the verifier's centre, not to the
# truth. This notebook puts the simulation (`collapse_jax.knowledge_center.kernel`, one `lax.scan` per
# seed, `jit(vmap)` over seeds and sweep points) beside the exact theory
# (`collapse_jax.knowledge_center.theory`) at small sizes; `python -m proofs_checks.knowledge_center`
# turns the same comparisons into verdicts.

# %%
import io
import time

import jax
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Image, display

jax.config.update("jax_enable_x64", True)

from collapse_jax.engine import batch  # noqa: E402
from collapse_jax.knowledge_center import figures as pk  # noqa: E402
from collapse_jax.knowledge_center import theory as vt  # noqa: E402
from collapse_jax.knowledge_center.kernel import (  # noqa: E402
    verifier_config,
    verifier_kernel,
    verifier_params,
)


def show(fig):
    """Embed a figure as PNG (the plotting module selects the Agg backend)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    display(Image(buf.getvalue()))


P, N0, N, SIGMA, SIGMA_C, R, DELTA = 5, 20, 500, 1.0, 0.5, 0.2, 0.5
SEEDS, ROUNDS = 200, 20
key = jax.random.key(0)

# %% [markdown]
# ## The one-dimensional toolkit
# `P_acc(u)`, `G(u)` and `V(u) = G'(u)` for the standardised offset `u` of a coordinate
# from the centre. `V` peaks at `u = 0`: `rho(w) = V(0)` is the contraction.

# %%
u = np.linspace(-4, 4, 401)
fig, axes = plt.subplots(1, 3, figsize=(13, 3.4))
for w in (0.5, 0.7, 1.5, 3.0):
    p_acc, g, v = vt.truncated_moments(u, w)
    axes[0].plot(u, p_acc, label=f"w={w}")
    axes[1].plot(u, g)
    axes[2].plot(u, v)
    axes[2].plot(0, vt.rho(w), "k.")
axes[1].plot(u, u, "k:", lw=0.8)
for ax, name in zip(axes, ("P_acc(u)", "G(u)", "V(u) = G'(u)")):
    ax.set_title(name)
    ax.set_xlabel("u")
axes[0].legend()
fig.tight_layout()
show(fig)
print("rho(w):", {w: round(float(vt.rho(w)), 4) for w in (0.25, 0.5, 0.7, 1.0, 1.5, 2.0, 3.0)})

# %% [markdown]
# ## One compiled sweep: several biases, several selectivities, no verifier
# Every point shares the seeds (common random numbers).

# %%
points = [(0.0, R, True), (DELTA, R, True), (2 * DELTA, R, True), (DELTA, 0.1, True),
          (DELTA, 0.5, True), (DELTA, 1.0, True), (DELTA, R, False)]
cfg = verifier_config(p=P, n0=N0, n=N, rounds=ROUNDS)
params = verifier_params(cfg, delta=[q[0] for q in points], r=[q[1] for q in points],
                         sigma=SIGMA, sigma_c=SIGMA_C, verify=[q[2] for q in points])
t0 = time.perf_counter()
(final, m), timing = batch.run_sweep(verifier_kernel, key, params, cfg, seeds=SEEDS,
                                     timed=True)
print(f"compile {timing.compile_s:.1f}s, run {timing.run_s:.1f}s "
      f"({len(points) * SEEDS * ROUNDS / timing.run_s:.0f} seed-rounds/s)")
print("rounds that could not be fitted:", np.asarray(final.failed_rounds).sum())
runs = {q: {k: np.asarray(v)[i, :, 0] for k, v in m.items()} for i, q in enumerate(points)}
pred = {q: vt.predict(vt.Setting(P, N0, N, SIGMA, SIGMA_C, q[1], q[0]), ROUNDS)
        for q in points if q[2]}

# %%
walk = runs[(DELTA, R, False)]["theta"]
walk = np.sum((walk - walk[:, :1]) ** 2, axis=-1)
stationary = {r: vt.stationary_error(vt.Setting(P, N0, N, SIGMA, SIGMA_C, r, DELTA))[0]
              for r in (0.1, R, 0.5, 1.0)}
w_main = float(vt.window(R, SIGMA_C, SIGMA))
bound = vt.theorem41_bound(ROUNDS, vt.ols_error(P, N0, SIGMA) + DELTA**2, P, SIGMA, w_main, N)
fig = pk.knowledge_center_figure(
    delta_runs={d: runs[(d, R, True)]["err_star"] for d in (0.0, DELTA, 2 * DELTA)},
    delta_theory={d: pred[(d, R, True)].err_star for d in (0.0, DELTA, 2 * DELTA)},
    r_runs={r: runs[(DELTA, r, True)]["err_center"] for r in (0.1, R, 0.5, 1.0)},
    r_theory={r: pred[(DELTA, r, True)].err_center for r in (0.1, R, 0.5, 1.0)},
    stationary=stationary, bound=bound, no_verifier=runs[(DELTA, R, False)]["err_star"],
    no_verifier_walk=walk, no_verifier_slope=vt.no_verifier_slope(P, N, SIGMA),
    title=f"p={P}, n0={N0}, n={N}, sigma_c={SIGMA_C}, {SEEDS} seeds (phase map below)")
show(fig)

# %% [markdown]
# ## Near-term improvement, then reversal; the stationary error
# The one-step error is a quadrature of the 1-D map over the Student-t law of an OLS
# coordinate; the stationary error is exact (the law of a coordinate iterated to its fixed
# point) and the linearised `p sigma^2 rho / (n_acc (1 - rho^2))` is printed beside it.

# %%
main = runs[(DELTA, R, True)]
pm = pred[(DELTA, R, True)]
late = slice(5, ROUNDS + 1)
rows = [
    ("E||theta_0 - theta*||^2", pm.err_star[0], main["err_star"][:, 0]),
    ("E||theta_1 - theta*||^2", pm.err_star[1], main["err_star"][:, 1]),
    ("late E||theta_k - theta*||^2", pm.err_star[late].mean(),
     main["err_star"][:, late].mean(1)),
    ("late E||theta_k - theta_c||^2", pm.err_center[late].mean(),
     main["err_center"][:, late].mean(1)),
]
for name, p_, x in rows:
    print(f"{name:32s} predicted {p_:.5f}   measured {x.mean():.5f} +- "
          f"{x.std(ddof=1) / np.sqrt(x.size):.5f}")
print(f"linearised stationary {vt.linear_stationary_error(P, SIGMA, N, w_main):.3e}, exact "
      f"{stationary[R]:.3e}")

# %% [markdown]
# ## The phase map: one verified round over the (Delta, r) plane
# A single compiled sweep of one round over 81 grid points; the black line is the zero
# contour of the quadrature prediction.

# %%
deltas, rs = np.linspace(0, 1.5, 9), np.linspace(0.05, 1.5, 9)
dd, rr = np.meshgrid(deltas, rs, indexing="ij")
cfg1 = verifier_config(p=P, n0=N0, n=N, rounds=1)
grid = verifier_params(cfg1, delta=dd.ravel(), r=rr.ravel(), sigma=SIGMA, sigma_c=SIGMA_C)
(_, m1), t1 = batch.run_sweep(verifier_kernel, key, grid, cfg1, seeds=64, timed=True)
e = np.asarray(m1["err_star"])[:, :, 0]
measured = (e[:, :, 1] - e[:, :, 0]).mean(1).reshape(dd.shape)
fine_d, fine_r = np.linspace(0, 1.5, 31), np.linspace(0.05, 1.5, 31)
predicted = vt.one_step_improvement(P, N0, N, SIGMA, SIGMA_C, fine_r, fine_d)
fig, ax = plt.subplots(figsize=(6, 4.5))
pk.phase_panel(ax, {"delta": deltas, "r": rs, "measured": measured, "fine_delta": fine_d,
                    "fine_r": fine_r, "predicted": predicted})
show(fig)
print(f"phase sweep: compile {t1.compile_s:.1f}s, run {t1.run_s:.1f}s")

# %% [markdown]
# ## Isotropic Gaussian design
# Rows `x ~ N(0, s^2/p I)` see windows `w(x) = (r ||x|| + sigma_c)/sigma` that vary with the
# row norm. Linearising OLS at `theta_c` gives `rho_iso = E[|x|^2 P0 rho(w_x)] /
# E[|x|^2 P0]`, which is larger than `rho` at the mean window: rows with a larger norm see a
# wider window and weigh more in the fit. The lag-1 coefficient of `theta_k - theta_c` in the
# stationary regime measures the contraction.

# %%
cfg_iso = verifier_config(p=P, n0=N0, n=N, rounds=ROUNDS, design="isotropic")
iso_r = [R, 1.0]
(_, mi) = batch.run_sweep(verifier_kernel, key, verifier_params(
    cfg_iso, delta=DELTA, r=iso_r, sigma=SIGMA, sigma_c=SIGMA_C), cfg_iso, seeds=SEEDS)
theta_c = np.zeros(P)
theta_c[0] = DELTA
for i, r in enumerate(iso_r):
    d = np.asarray(mi["theta"])[i, :, 0] - theta_c
    start = 12
    num = np.sum(d[:, start:] * d[:, start - 1:-1], axis=(1, 2))
    den = np.sum(d[:, start - 1:-1] ** 2, axis=(1, 2))
    lag = num.sum() / den.sum()
    se = np.std(num - lag * den, ddof=1) / np.sqrt(num.size) / den.mean()
    rho_iso, rho_bar, w_bar = vt.isotropic_contraction(P, r, SIGMA_C, SIGMA)
    print(f"r={r}: measured lag-1 {lag:.4f} +- {se:.4f}   rho_iso {rho_iso:.4f}   "
          f"rho(mean w = {w_bar:.3f}) {rho_bar:.4f}")
