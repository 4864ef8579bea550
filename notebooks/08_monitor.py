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
# # The collapse monitor on a neural loop
#
# `python -m collapse_jax.monitor` (`docs/monitor.md`) reads the samples of successive
# generations of a recursive-training pipeline, measures their diversity (the trace of the
# covariance, with bootstrap standard errors), classifies its decay law (bounded, power,
# geometric) and raises a sequential early warning with a calibrated false-alarm rate. Its
# ground truth is Gaussian loops; here it meets the project's neural loop
# (`collapse_jax.vae`, notebook 05, `docs/vae_verification.md`): a conditional VAE on
# scikit-learn's 8x8 digits, retrained round after round on its own samples, either
# unfiltered (a random 10% of each class is kept) or filtered by a strong classifier-verifier
# that keeps the 10% of each class it is most confident about.
#
# What a practitioner would hand the monitor is each round's generated images, or their
# embeddings. We take the images every round's model generates for measurement (500, 50 per
# class) and their 32 features in the penultimate layer of the classifier that defines the
# project's Frechet distance; the reference is the held-out real digits in the same space.
# Quick settings (3 seeds, 8 retraining rounds, 500 optimiser steps) keep this notebook at a
# few minutes on a CPU.

# %%
import io
import time

import jax
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Image, display

jax.config.update("jax_enable_x64", True)

from collapse_jax.core.nets import data as nd
from collapse_jax.engine import batch
from collapse_jax.monitor import analyse
from collapse_jax.monitor.figure import make_figure
from collapse_jax.vae import kernel as nr


def show(fig, title=None):
    """Embed a figure as PNG (the monitor's figure module selects the Agg backend)."""
    if title:
        fig.suptitle(title, y=1.05)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80, bbox_inches="tight")
    plt.close(fig)
    display(Image(buf.getvalue()))


SEEDS, ROUNDS, STEPS, N_EVAL = 3, 8, 500, 500
NAMES = ["unverified", "verified (strong)"]
split = nd.stratified_split(nd.load_digits(), seed=0)
print("real pool", split.train.x.shape, "held out", split.test.x.shape)

# %% [markdown]
# ## The loop: two settings, one compiled program
# The same functions as notebook 05 and the check (`feature_network`, `retrain_config`,
# `real_set`, `retrain_params`, `retrain_kernel_shared` under `batch.run_sweep_shared`). The
# kernel returns `grid` generated images per class and round for figures; setting
# `grid = n_eval / 10` makes that *all* the images each round's model is measured on, so the
# arrays below are exactly the samples behind the Frechet distance printed here.

# %%
t0 = time.perf_counter()
feature_net = nr.feature_network(jax.random.key(1), split)
cfg = nr.retrain_config(rounds=ROUNDS, steps=STEPS, verifier_steps=STEPS, n_real=200,
                        n_keep=300, n_eval=N_EVAL, keep_min=0.1, grid=N_EVAL // 10)
real = nr.real_set(split, feature_net, cfg)
params = nr.retrain_params(cfg, real, verify=[0, 1], verifier_size=[1000, 1000],
                           keep=[0.1, 0.1], shared=True)
(final, metrics), timing = batch.run_sweep_shared(nr.retrain_kernel_shared, jax.random.key(0),
                                                  params, real, cfg, seeds=SEEDS, timed=True)
print(timing, f"(all: {time.perf_counter() - t0:.0f} s)")
images = np.asarray(final.samples)[:, :, 0]  # (setting, seed, round, image, 64 pixels)
labels = np.repeat(np.arange(10), N_EVAL // 10)  # class of each image (class-major order)
fd = np.asarray(metrics["fd_real"])[:, :, 0]
pixel_var = np.asarray(metrics["pixel_var"])[:, :, 0]
print("images per setting:", images.shape[1:])
for i, n in enumerate(NAMES):
    print(f"{n:>18}: mean FD to real per round " + " ".join(f"{v:5.1f}" for v in fd[i].mean(0)))

# %% [markdown]
# ## The arrays the monitor reads
# Per seed and round: the 500 generated images mapped to the 32 classifier features (one
# array per round, round 0 = the model trained on 200 real images). Seeds are **not** pooled:
# each seed is its own pipeline, and pooling three models' samples would add their
# between-model spread to the diversity. The figures show seed 0; a table over all three
# seeds follows. Reference: the 539 held-out real digits in the same feature space.

# %%
to_features = jax.jit(jax.vmap(feature_net.features))


def features(x):
    return np.asarray(to_features(np.asarray(x, np.float32)), np.float64)


ref_feat = features(split.test.x)
gens = {(n, s): [features(images[i, s, k]) for k in range(ROUNDS + 1)]
        for i, n in enumerate(NAMES) for s in range(SEEDS)}


def summary(res):
    e = res["exponent"]
    if e is None:
        rate = "no rate"
    else:
        lo, hi = ("?" if v is None else f"{v:.3f}" for v in e["ci"])
        rate = (f"{'psi' if e['kind'] == 'power' else 'factor'} = {e['estimate']:.3f}, "
                f"95% CI [{lo}, {hi}]")
    return f"law {res['law']:>9}; {rate}; detected_at {res['detected_at']}"


def total_variance(res):
    return np.exp([g["log_total_variance"] for g in res["generations"]])


t0 = time.perf_counter()
raw = {k: analyse(v, reference=ref_feat, reference_label="held-out real digits (features)")
       for k, v in gens.items()}
print(f"{len(raw)} analyses in {time.perf_counter() - t0:.0f} s")
for n in NAMES:
    r = raw[(n, 0)]
    print(f"{n:>18}, seed 0: {summary(r)}")
    print(" " * 20 + "total variance per round " + " ".join(f"{v:.0f}" for v in
                                                              total_variance(r)))

# %%
for n in NAMES:
    show(make_figure(raw[(n, 0)]), f"{n}, seed 0: classifier features, as generated")

# %% [markdown]
# ## Reading it
# **Unverified retraining.** The diversity of the generated features falls every round and
# the early warning fires at generation 3 (the default `accumulate` null tests from
# generation 2 on: generation 0 is the first model's training data, not a sample of it; the
# CUSUM then keeps climbing). The fitted law is a power law; its exponent says how
# fast the diversity shrinks. The k-NN panel shows recall and coverage against the real
# digits falling with it while precision stays high: the samples still look like digits but
# cover less and less of them (the Frechet distance above rises from about 15 to about 77).
# No theory line is drawn: the closed form `psi(alpha, d)` of `theory.md` 1.3 is for an
# *accumulating* pipeline with Mahalanobis top-alpha selection, and this loop replaces its
# data each round without any selection, so `alpha=` would set the fit beside a prediction
# that does not apply.
#
# **Verified retraining.** On the same kind of arrays the monitor says *bounded* and detects
# nothing: the total variance of the features *rises* from about 210 to about 345, and the
# detector only looks for drops. That is not an arithmetic slip; it is what the trace of the
# pooled covariance measures. The third panel does show trouble: precision goes to 1 while
# recall falls to 0 and coverage to about 0.2 by round 3, the signature of samples that sit
# on a few real modes. The law and the detector read only the total variance, so they
# cannot see this. The kernel's own within-class pixel variance (printed below) explains it:
# the verifier keeps the images each class is most confidently classified as, so every
# class shrinks onto a prototype while the prototypes of different classes move apart. The
# growing between-class spread outweighs the vanishing within-class spread, and a diversity
# measured on all classes together misses the collapse.

# %%
for i, n in enumerate(NAMES):
    print(f"{n:>18}: within-class pixel variance (kernel metric, mean over seeds) "
          + " ".join(f"{v:.1e}" for v in pixel_var[i].mean(0)))

# %% [markdown]
# ## Monitoring a conditional generator class by class
# The generator is conditional: every image comes with the class it was asked for. Centring
# each class on its own mean (in every generation and in the reference) removes the
# between-class spread; the trace of the covariance of the centred arrays is the within-class
# diversity, summed over features. This is a preprocessing step a user of the monitor can do
# without changing it.

# %%
def class_centred(x, y):
    x = np.array(x, np.float64)
    for c in np.unique(y):
        x[y == c] -= x[y == c].mean(0)
    return x


ref_c = class_centred(ref_feat, split.test.y)
t0 = time.perf_counter()
within = {k: analyse([class_centred(g, labels) for g in v], reference=ref_c,
                     reference_label="held-out real digits (features, class-centred)")
          for k, v in gens.items()}
print(f"{len(within)} analyses in {time.perf_counter() - t0:.0f} s")
for n in NAMES:
    r = within[(n, 0)]
    print(f"{n:>18}, seed 0: {summary(r)}")
    print(" " * 20 + "within-class total variance per round "
          + " ".join(f"{v:.2g}" for v in total_variance(r)))

# %%
for n in NAMES:
    show(make_figure(within[(n, 0)]), f"{n}, seed 0: classifier features, class-centred")

# %% [markdown]
# Pooled versus within-class diversity side by side (seed 0): their difference is the
# between-class spread, which the verifier inflates while it empties every class.

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), sharey=True)
for ax, n in zip(axes, NAMES):
    tot, win = total_variance(raw[(n, 0)]), total_variance(within[(n, 0)])
    ax.plot(tot, "o-", label="pooled (as generated)")
    ax.plot(win, "s-", label="within-class (class-centred)")
    ax.plot(tot - win, "^--", label="between-class (difference)")
    ax.set_yscale("log")
    ax.set_xlabel("generation (retraining round)")
    ax.set_title(n)
axes[0].set_ylabel("total variance of the features")
axes[0].legend(fontsize=8)
show(fig)

# %% [markdown]
# ## Over seeds
# The same analyses for every seed: as generated (left) and class-centred (right).

# %%
print(f"{'setting':>18} seed | {'as generated':<62}| class-centred")
for n in NAMES:
    for s in range(SEEDS):
        print(f"{n:>18} {s:>4} | {summary(raw[(n, s)]):<62}| {summary(within[(n, s)])}")

# %% [markdown]
# ## The same in raw pixels (seed 0)
# Without any embedding, on the 64 pixel values. The class-centred trace divided by 64 is the
# kernel's within-class pixel variance up to the unbiased covariance's factor 500/499 = 1.002:
# a check that these arrays are the samples the loop measured.

# %%
ref_pix = np.asarray(split.test.x, np.float64)
for i, n in enumerate(NAMES):
    px = [np.asarray(images[i, 0, k], np.float64) for k in range(ROUNDS + 1)]
    r_raw = analyse(px, reference=ref_pix)
    r_win = analyse([class_centred(g, labels) for g in px],
                    reference=class_centred(ref_pix, split.test.y))
    print(f"{n:>18}: as generated  {summary(r_raw)}")
    print(f"{'':>18}  class-centred {summary(r_win)}")
    ratio = total_variance(r_win) / 64 / pixel_var[i, 0]
    print(f"{'':>18}  within-class trace / 64 / kernel pixel_var: "
          f"{ratio.min():.3f} .. {ratio.max():.3f}")

# %% [markdown]
# ## What a practitioner reads from this
# * **Unverified retraining collapses, and the monitor sees it at once**, as generated and
#   class by class: detection class by class at generation 2, the first the default null
#   tests, for two of three seeds (at 3 for the third), and at 3 as generated, for every seed.
#   Pooled over classes the
#   diversity falls slowly and is fitted as a power law (`psi` about 0.2 to 0.35 in the
#   features); most of the pooled spread is between classes, and that part barely moves.
#   Within each class the fall is fast and speeds up over the rounds; the monitor calls it
#   geometric with a factor of about 0.46 to 0.69 per round, with wide intervals (0.23 to
#   0.91) at 9 generations, because the per-round drops are not constant.
# * **Verified retraining collapses too, but the pooled diversity misses it.** As generated, the
#   monitor reports *bounded* and no detection in the features and in raw pixels: the verifier
#   spreads the classes apart while each class shrinks onto a prototype. Only recall and
#   coverage in the third panel show it. Class-centred, the within-class diversity falls by more
#   than two orders of magnitude in three rounds and then stays at a floor, and the detector
#   fires at generation 2, the first it tests, for every seed. Neither law has that shape: the
#   monitor fits a power law with `psi` near its upper bound of 2 (a power curve with `psi`
#   close to 2 drops by `1 - psi/2` at once and then flattens), or for one seed a geometric
#   factor whose interval is wide (in pixels it reaches past 1). The fitted curve visibly misses
#   the three-round crash. Read these rates as a description of "crash, then plateau", not as
#   the exponent of a power law. The plateau sits at the verifier's preferred images (notebook
#   05, `theory.md` 2.3), not at a model that keeps degrading.
# * **For a conditional generator, monitor each condition** (centre per class, as here, or
#   run the monitor on each class), and read the recall/coverage panel as well as the law:
#   a diversity pooled over conditions can grow while every condition collapses, and the
#   trace-of-covariance diversity the law and the detector use cannot tell the two apart.
# * These are quick settings (500 optimiser steps, 500 images per round, 3 seeds, 9
#   generations). Across seeds the laws and detection points agree (except that one
#   verified seed comes out geometric class-centred); the rates and their intervals are a
#   description of this run, not a test of any theory.
