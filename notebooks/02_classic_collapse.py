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
# # Classic collapse laws: replace, accumulate, accumulate-subsample, real mixing
#
# A model is retrained, generation after generation, on data it generated itself. What
# happens depends on what the next model is trained on:
#
# * **replace**: only the newest synthetic batch (Shumailov et al. 2024);
# * **accumulate**: every batch so far, real data included (Gerstgrasser et al. 2024);
# * **accumulate-subsample**: a fixed-size uniform subset of everything so far (Kazdan et
#   al. 2025);
# * **real mixing**: the fixed real data plus `lam` times as much (by weight) fresh synthetic
#   data (Bertrand et al. 2024).
#
# Two models: a Gaussian refitted to its own samples (`collapse_jax.classic.kernel`) and OLS on a
# fixed design retrained on its own labels (`collapse_jax.classic.fixed_design`). Dashed lines are
# the closed forms of `collapse_jax.classic.theory` (theory.md sections 3 and 4).

# %%
import jax
import matplotlib.pyplot as plt
import numpy as np

from collapse_jax.classic import theory as theory_classic
from collapse_jax.classic.fixed_design import PARADIGMS as OLS_PARADIGMS
from collapse_jax.classic.fixed_design import ols_config, ols_kernel, ols_params
from collapse_jax.classic.kernel import refit_config, refit_kernel, refit_params
from collapse_jax.core import accumulation
from collapse_jax.engine import batch

jax.config.update("jax_enable_x64", True)  # before any array is made
SEEDS, T, N = 2000, 100, 10


def band_plot(ax, x, curves, label, color):
    """Seed mean (line) and 10-90% band over seeds (shaded)."""
    lo, hi = np.quantile(curves, [0.1, 0.9], axis=0)
    ax.plot(x, curves.mean(0), color=color, label=label)
    ax.fill_between(x, lo, hi, color=color, alpha=0.2, lw=0)


t = np.arange(T + 1)
key = jax.random.key(0)

# %% [markdown]
# ## The Gaussian under the four paradigms
# One compiled program per paradigm; every paradigm sees the same seeds. Row 0 is the fit
# to `n = 10` real draws from `N(0, 1)`.

# %%
runs = {}
for name, kw, pkw in [
    ("replace", {"paradigm": "replace"}, {}),
    ("accumulate", {"paradigm": "accumulate"}, {}),
    ("accumulate-subsample", {"paradigm": "accumulate-subsample"}, {}),
    ("mix lam=1", {"paradigm": "mix"}, {"lam": 1.0}),
]:
    cfg = refit_config(dim=1, n=N, generations=T, **kw)
    (_, m), timing = batch.run(refit_kernel, key, refit_params(cfg, **pkw), cfg, seeds=SEEDS,
                               timed=True)
    runs[name] = {k: np.asarray(v)[:, 0] for k, v in m.items()}
    print(f"{name:>22}: compile {timing.compile_s:.1f}s, run {timing.run_s:.2f}s")

# %%
fig, axes = plt.subplots(1, 2, figsize=(13, 4.6))
colors = {"replace": "C3", "accumulate": "C0", "accumulate-subsample": "C2", "mix lam=1": "C1"}
for name, r in runs.items():
    band_plot(axes[0], t, np.log(r["trace"]), name, colors[name])
    mean, se = r["dist_truth"].mean(0), r["dist_truth"].std(0, ddof=1) / np.sqrt(SEEDS)
    axes[1].plot(t, mean, color=colors[name], label=name)
    axes[1].fill_between(t, mean - 2 * se, mean + 2 * se, color=colors[name], alpha=0.2, lw=0)
# Closed forms: E log sigma_t^2 under replace drifts by kappa per generation; accumulate's
# E sigma_t^2 follows the exact product (its log drawn here, a bound on E log by Jensen).
kappa = theory_classic.refit_log_drift(N, "mle")
axes[0].plot(t, kappa * (t + 1), "k--", lw=1,
             label=f"replace: E log sigma^2 = kappa (t+1), kappa = {kappa:.4f}")
axes[0].plot(t, np.log(accumulation.accumulate_trace_ratio(N, t)), "k:", lw=1,
             label="accumulate: log E sigma^2 (exact)")
axes[0].set_ylabel("log sigma_t^2 (seed mean and 10-90% band)")
axes[0].set_xlabel("generation t")
axes[0].legend(fontsize=7)
axes[0].set_title("variance: replace collapses, the others do not", fontsize=10)
axes[1].plot(t, theory_classic.refit_mean_walk(N, t + 1, "mle"), "k--", lw=1,
             label="replace (MLE): 1 - ((n-1)/n)^(t+1)")
axes[1].set_ylabel("E (mu_t - mu*)^2")
axes[1].set_xlabel("generation t")
axes[1].legend(fontsize=7)
axes[1].set_title("mean error (seed mean +- 2 SE)", fontsize=10)
fig.tight_layout()
plt.show()

# %% [markdown]
# At `t = T` (exact values in brackets):

# %%
ratio_acc = runs["accumulate"]["trace"][:, T].mean()
print(f"replace     E log sigma_T^2 = {np.log(runs['replace']['trace'][:, T]).mean():8.3f} "
      f"[{kappa * (T + 1):.3f}]")
print(f"accumulate  E sigma_T^2     = {ratio_acc:8.4f} "
      f"[{accumulation.accumulate_trace_ratio(N, T):.4f}, "
      f"limit sin(pi/sqrt n)/(pi/sqrt n) = {accumulation.accumulate_variance_limit(N):.4f}]")
print(f"subsample   E sigma_T^2     = {runs['accumulate-subsample']['trace'][:, T].mean():8.4f} "
      "[no closed form]")
r_mix = runs["mix lam=1"]
print(f"mix lam=1   E sigma_T^2     = {r_mix['trace'][:, T].mean():8.4f} "
      f"[stationary (n-1)/n / (1+q) = {(N - 1) / N * theory_classic.mixing_stationary(1, N)[1]:.4f}]")

# %% [markdown]
# ## Replace in detail: a martingale that collapses
# With the unbiased variance, `E sigma_t^2 = sigma*^2` at every `t`, yet `sigma_t -> 0`
# almost surely: `log sigma_t^2` is a random walk with drift `digamma(k/2) + log(2/k) < 0`.
# The plain seed mean of `sigma_t^2` is carried by rarer and rarer seeds, so beyond a
# horizon set by its exact kurtosis it underestimates (theory.md 3.1).

# %%
cfg = refit_config(dim=1, n=N, generations=T - 1)
(_, m) = batch.run_sweep(refit_kernel, key, refit_params(cfg, estimator=["mle", "unbiased"]),
                         cfg, seeds=SEEDS)
tt = np.arange(1, T + 1)  # fits
var = {e: np.asarray(m["trace"])[i, :, 0] for i, e in enumerate(("mle", "unbiased"))}
horizon = theory_classic.plain_mean_horizon(N, SEEDS)
fig, axes = plt.subplots(1, 2, figsize=(13, 4.4))
for e, col in (("mle", "C0"), ("unbiased", "C3")):
    axes[0].plot(tt, var[e].mean(0), color=col, label=f"{e}: plain seed mean")
    axes[0].plot(tt, np.median(var[e], 0), color=col, ls=":", label=f"{e}: median")
    axes[0].plot(tt, theory_classic.refit_trace_ratio(N, tt, e), "k--", lw=1)
    pts = tt[::10]
    axes[1].plot(tt, (var[e] < 0.1).mean(0), color=col, label=e)
    axes[1].plot(pts, [theory_classic.refit_collapse_probability(N, int(s), 0.1, e)
                       for s in pts], "ko", ms=3)
axes[0].axvline(horizon, color="grey", ls=":")
axes[0].set_yscale("log")
axes[0].set_title(f"E sigma_t^2: exact (dashed); plain mean trusted up to t = {horizon}",
                  fontsize=10)
axes[1].set_title("fraction of seeds with sigma_t^2 < 0.1 (dots: exact law)", fontsize=10)
for ax in axes:
    ax.set_xlabel("generation t (fits)")
    ax.legend(fontsize=7)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Fixed-design OLS: replace diverges linearly, accumulate is bounded
# `d = 10`, `T = 40` rows, noise `sigma = 1`. Replace: `sigma^2 d n / (T - d - 1)`;
# accumulate: `sigma^2 d / (T - d - 1) sum 1/i^2 <= pi^2/6` of that; accumulate-subsample
# has no closed form and sits between them.

# %%
n_fits = 20
cfg = ols_config(dim=10, T=40, generations=n_fits - 1)
_, errs = batch.run(ols_kernel, key, ols_params(cfg), cfg, seeds=SEEDS)
n = np.arange(1, n_fits + 1)
fig, ax = plt.subplots(figsize=(7, 4.4))
for par, col in zip(OLS_PARADIGMS, ("C3", "C0", "C2")):
    e = np.asarray(errs[par])[:, 0]
    ax.plot(n, e.mean(0), color=col, label=par)
ax.plot(n, theory_classic.regression_replace_error(n, 40, 10), "k--", lw=1)
ax.plot(n, theory_classic.regression_accumulate_error(n, 40, 10), "k--", lw=1)
ax.axhline(theory_classic.regression_accumulate_limit(40, 10), color="grey", ls=":",
           label="pi^2/6 bound")
ax.set_xlabel("fits n")
ax.set_ylabel("E ||w_n - w*||^2")
ax.legend(fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Real mixing: stable for every finite lambda, replace in the limit
# The weighted MLE gives an exact linear recursion for `(E ||mu_t - rbar||^2, E Tr Sigma_t)`
# with contraction rate `w = lam/(1+lam) < 1`; the stationary error is `q/(1+q)`,
# `q = lam^2 / (m (1 + 2 lam))`, which grows with `lam` and tends to replace's limit 1.

# %%
lams = [0.25, 1.0, 4.0, 16.0]
cfg = refit_config(dim=1, n=20, m=20, generations=T, paradigm="mix")
fin, m = batch.run_sweep(refit_kernel, key, refit_params(cfg, lam=lams), cfg, seeds=SEEDS)
tr_real = np.trace(np.asarray(fin.real_cov), axis1=-2, axis2=-1)
err = np.asarray(m["dist_real"])[:, :, 0] / tr_real
grid = np.logspace(-2, 3, 200)
fig, ax = plt.subplots(figsize=(7, 4.4))
ax.plot(grid, [theory_classic.mixing_stationary(x, 20)[0] for x in grid], "k--", lw=1,
        label="exact stationary q/(1+q)")
ax.plot(lams, err[:, :, T // 2:].mean(axis=(1, 2)), "o", color="C3",
        label="measured (second-half average)")
ax.axhline(1.0, color="grey", ls=":", label="replace (lam = inf)")
ax.set_xscale("log")
ax.set_xlabel("lambda")
ax.set_ylabel("stationary E ||mu - rbar||^2 / Tr S")
ax.legend(fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown]
# The verdicts with confidence intervals come from the checks:
# `python -m proofs_checks.gaussian_refit`, `python -m proofs_checks.regression_paradigms`
# and `python -m proofs_checks.real_mixing` (see `docs/classic.md`).
