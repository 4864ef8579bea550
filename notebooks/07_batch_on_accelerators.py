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
# # Batch runs on a TPU, a GPU or many CPU devices (Colab-ready)
#
# This notebook installs collapse_jax where it is missing (Colab), detects the devices JAX
# sees, runs the main check (`proofs_checks.power_law`) with its seeds sharded over all of
# them (`--devices`), saves the verdict, the tidy curves and the figure, and plots the curves
# from the saved CSV. Seed `i` always uses `fold_in(key, i)`, so the numbers do not depend on
# the number of devices (docs/scale_out.md).
#
# On Colab: *Runtime > Change runtime type* picks a TPU or a GPU. Set `SOURCE` below to where
# your copy of collapse_jax lives (a `git+https://...` URL or a folder you uploaded); on a TPU
# runtime install `jax[tpu]` first, on a GPU runtime `jax[cuda12]` (docs/scale_out.md).
# `COLLAPSE_JAX_NOTEBOOK_QUICK=1` runs the check's `--quick` size (how the test suite runs
# this notebook on CPU with `XLA_FLAGS=--xla_force_host_platform_device_count=4`).

# %%
import importlib.util
import os
import subprocess
import sys

SOURCE = os.environ.get("COLLAPSE_JAX_SOURCE", "")  # e.g. "git+https://.../collapse_jax.git"
if importlib.util.find_spec("collapse_jax") is None:
    if not SOURCE:
        raise RuntimeError("collapse_jax is not installed: set SOURCE (or $COLLAPSE_JAX_SOURCE) "
                           "to a git URL or folder of the project, then rerun this cell")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", SOURCE], check=True)

# %% [markdown]
# ## The devices

# %%
import jax

devices = jax.devices()
platform = devices[0].platform
print(f"{len(devices)} x {platform}: {[d.device_kind for d in devices]}")
print("jax", jax.__version__)

# %% [markdown]
# ## The main check, sharded over every device
#
# 10^4 seeds on an accelerator (a few seconds of simulation after the compile), 1000 on CPU
# devices; the seed count is rounded up to a multiple of the devices. `--chunk-size` bounds
# memory for larger runs. The check's exit code is 0 when every claim passes, 1 when one fails.

# %%
from pathlib import Path

from proofs_checks import power_law

QUICK = os.environ.get("COLLAPSE_JAX_NOTEBOOK_QUICK", "") == "1"
n_dev = len(devices)
seeds = 10_000 if platform in ("gpu", "tpu") else 1000
seeds = -(-seeds // n_dev) * n_dev
out = Path("results") / f"power_law_{platform}_{n_dev}"
out.mkdir(parents=True, exist_ok=True)
argv = ["--devices", str(n_dev), "--json", str(out / "report.json"),
        "--curves", str(out / "curves.csv"), "--plot", str(out / "figure.png")]
argv += ["--quick"] if QUICK else ["--seeds", str(seeds)]
print("python -m proofs_checks.power_law", " ".join(argv))
code = power_law.main(argv)
print("exit code", code)
assert code in (0, 1), f"the check did not run (exit {code})"

# %% [markdown]
# ## What was saved, read back

# %%
import json

report = json.loads((out / "report.json").read_text())
print("device:", report.get("device"), "| seeds:", report["config"].get("seeds"))
rel = {"equal": "=", "below": "<", "above": ">"}
for c in report["claims"]:
    lo, hi = c["ci"]
    print(f"{c['id']:>4} {'PASS' if c['passed'] else 'FAIL'}  predicted "
          f"{rel.get(c['relation'], c['relation'])} {c['predicted']:.4g}  measured "
          f"{c['measured']:.4g}  CI [{lo:.4g}, {hi:.4g}]")

# %%
import matplotlib.pyplot as plt

from collapse_jax.verdict import read_curves

df = read_curves(out / "curves.csv")
fig, ax = plt.subplots(figsize=(6, 4))
for setting, g in df[df.metric == df.metric.iloc[0]].groupby("setting"):
    g = g[g.generation > 0]
    ax.plot(g.generation, g["mean"], label=setting)
ax.set(xscale="log", yscale="log", xlabel="generation t", ylabel=df.metric.iloc[0],
       title=f"power_law on {n_dev} x {platform}")
ax.legend(fontsize=7)
plt.show()
