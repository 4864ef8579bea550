"""Generate-verify-retrain with a neural generator: one seed, one ``lax.scan`` over rounds.

The loop of Yi et al. (2025, theory.md section 2.5) on a conditional VAE:

* round 0: a fresh CVAE is trained on ``n_real`` real images (the same number of every class);
* round ``k >= 1``: the round ``k - 1`` model generates ``N_c = round(n_keep_c / keep)``
  candidates of every class ``c``; a verifier (a classifier trained on ``verifier_size`` real
  images) scores each by its log-confidence in the conditioning class, ``log p(c | x)``, and
  the top ``n_keep_c`` of every class are kept (the top ``keep`` fraction; without a verifier
  a uniformly random ``n_keep_c``, i.e. plain self-generated data); a *fresh* CVAE is trained
  on the kept images (``replace``) or on the real images plus everything kept so far
  (``accumulate``).

After every round the model is measured against held-out real digits in the feature space of
a separate classifier trained on all real training digits: Frechet distance ``fd_real``,
class-matched precision / recall / coverage, pixel variance (of the decoder means, and of the
means thresholded at 1/2, ``binary_var``, which does not rise with sharpness alone), the
sharpness of the means (mean ``|2 x - 1|``), the verifier's acceptance rate
``accept`` (share of generated images with ``p(c | x) >= 1/2``), the feature network's
accuracy on the generated labels, and the Frechet distance ``fd_pref`` to the distribution the
verifier prefers: the real training images of the top ``keep`` fraction of each class by the
same verifier score (theory.md 2.3: verified retraining converges to the verifier's knowledge
centre, not to the truth).

The kernel follows the package contract ``kernel(key, params, cfg, silo) -> (final, metrics)``:
``cfg`` is static structure, ``params`` array leaves that :mod:`collapse_jax.engine.batch` can sweep
(the real data ride along in ``params``, broadcast over the sweep axis), and every metric has a
leading ``(rounds + 1,)`` axis whose row 0 is the model trained on real images.
"""

from __future__ import annotations

import math
from functools import partial
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from collapse_jax.core import pool as data_pool
from collapse_jax.core._types import Key, Metrics, Silo
from collapse_jax.core._validate import (
    InvalidInput,
    check_choice,
    check_float,
    check_int,
    check_precision,
    sweep_shape,
)
from collapse_jax.core.gaussian import sqrtm_psd
from collapse_jax.core.nets import metrics as nm
from collapse_jax.core.nets.classifier import (  # feature_network: used as nr.feature_network
    Classifier,
    Discriminator,
    accuracy,
    cross_entropy,
    feature_network,  # noqa: F401
    log_confidence,
)
from collapse_jax.core.nets.cvae import ARCHS, conv_side, cvae_like, generate, neg_elbo
from collapse_jax.core.nets.data import CLASSES, Split
from collapse_jax.core.nets.init import reinit
from collapse_jax.core.nets.train import TrainConfig, fit, last_loss, passes, train_config

#: ``classifier``: log-confidence of a digit classifier in the conditioning class;
#: ``discriminator``: Yi et al.'s realism verifier, log p(real | x) of a real-vs-synthetic MLP
#: trained on the verifier's real images against samples of a CVAE trained on them.
VERIFIER_KINDS = ("classifier", "discriminator")
#: The discriminator's network: ``small`` (the classifier's MLP, two outputs) or ``yi`` (Yi et
#: al.'s SyntheticDiscriminator).
DISCRIMINATORS = ("small", "yi")
METRIC_NAMES = ("fd_real", "fd_pref", "precision", "recall", "coverage", "pixel_var",
                "binary_var", "sharpness", "accept", "confidence", "judge_acc", "train_loss",
                "test_elbo", "train_size", "train_epochs")


class RetrainConfig(NamedTuple):
    """Static structure of the verified-retraining loop (hashable); see :func:`retrain_config`."""

    dim: int
    classes: int
    latent: int
    hidden: int
    noise: float
    rounds: int
    vae: TrainConfig
    verifier: TrainConfig
    verifier_hidden: int
    verifier_features: int
    n_real_c: int
    n_keep_c: int
    candidates_c: int
    n_eval_c: int
    pool: int
    verifier_max: int
    k_nn: int
    grid: int
    precision: str
    verifier_kind: str
    binary: bool
    growth: float
    n_keep_first_c: int
    arch: str
    cand_batch_c: int
    discriminator: str


class RealSet(NamedTuple):
    """The real digits a run may touch, and the fixed measuring instrument.

    ``train_x/train_y``: the real pool (initial generator data, verifier data, the verifier's
    preferred set); ``test_*``: held-out digits, never trained on; ``feature_net``: the
    classifier whose penultimate activations define the Frechet distance; ``test_feat_mean``,
    ``test_feat_cov``, ``test_feat_cov_sqrt``, ``test_feat`` and ``test_radii`` (class-matched
    k-NN radii) are precomputed on the held-out digits.
    """

    train_x: jax.Array
    train_y: jax.Array
    test_x: jax.Array
    test_y: jax.Array
    feature_net: Classifier
    test_feat: jax.Array
    test_feat_mean: jax.Array
    test_feat_cov: jax.Array
    test_feat_cov_sqrt: jax.Array
    test_radii: jax.Array


class RetrainParams(NamedTuple):
    """Array leaves (sweepable): ``keep`` fraction, ``verify`` (1.0 verifier, 0.0 random
    selection), ``verifier_size`` (real images the verifier trains on), ``accumulate`` (1.0
    accumulate, 0.0 replace), ``n_keep`` (images kept per round, a multiple of the classes up
    to the config's ``n_keep``) and the :class:`RealSet`."""

    keep: jax.Array
    verify: jax.Array
    verifier_size: jax.Array
    accumulate: jax.Array
    n_keep: jax.Array
    real: RealSet


class RetrainFinal(NamedTuple):
    """Per-run results besides the per-round metrics: the verifier's accuracy and acceptance
    rate on held-out real digits, the Frechet distance between the verifier-preferred real
    digits and the held-out ones, sample grids ``(rounds + 1, classes * grid, dim)``, and the
    passes over its data the verifier trained for (:func:`~collapse_jax.core.nets.train.
    passes`)."""

    verifier_acc: jax.Array
    real_accept: jax.Array
    fd_pref_real: jax.Array
    samples: jax.Array
    verifier_epochs: jax.Array


def retrain_config(*, dim: int = 64, latent: int = 8, hidden: int = 128, noise: float = 0.1,
                   rounds: int = 10,
                   steps: int = 1000, batch: int = 64, lr: float = 5e-3,
                   verifier_steps: int = 1000, verifier_hidden: int = 128,
                   verifier_features: int = 32, n_real: int = 200, n_keep: int = 500,
                   keep_min: float = 0.1, n_eval: int = 1000, verifier_max: int = 1000,
                   accumulate: bool = False, k_nn: int = 3, grid: int = 6,
                   precision: str = "float64", classes: int = CLASSES,
                   verifier_kind: str = "classifier", binary: bool = False,
                   growth: float = 1.0, arch: str = "mlp",
                   candidate_batch: int | None = None,
                   discriminator: str = "small", epochs: int = 0,
                   verifier_epochs: int = 0, patience: int = 5) -> RetrainConfig:
    """Validated :class:`RetrainConfig`.

    ``n_real``, ``n_keep`` and ``n_eval`` are totals over the classes and must be multiples of
    ``classes``; ``binary=True`` (with ``noise=0``, Yi et al.'s pipeline) makes the synthetic
    images the verifier filters and the next model trains on Bernoulli samples of the decoder
    (0/1 pixels; the discriminator's fake class too), while the measured images stay decoder
    means; ``keep_min`` sizes the candidate buffer (``ceil(n_keep_c / keep_min)`` per
    class), ``verifier_max`` the verifier's data buffer; ``accumulate=True`` sizes the data pool
    for the accumulate paradigm (``n_real + (rounds + 1) n_keep`` rows). ``growth`` >= 1
    grows the kept set linearly over the rounds, as Yi et al. grow theirs (30000 -> 1M over 20
    rounds, ``growth = 33.3``): round ``k = 1..T`` keeps ``n_keep (1 + (growth - 1)(k - 1) /
    (T - 1))`` images (per class rounded); the buffers are sized for the last round's.
    ``arch``: the generator's architecture (:data:`~collapse_jax.core.nets.cvae.ARCHS`): the
    one-hidden-layer MLP CVAE of ``hidden`` units, or Yi et al.'s convolutional CVAE
    (:class:`~collapse_jax.core.nets.cvae.ConvCVAE`: ``dim`` a square image whose side is a
    multiple of 4, e.g. 8x8 digits or 28x28 MNIST). ``candidate_batch``: candidates of every
    class generated and scored at a time (default: all of a round's at once); below the
    round's count a ``lax.scan`` over batches keeps a running top ``n_keep_c`` of each class
    (:func:`top_candidates`), so a round's memory holds one batch instead of every
    candidate (Yi et al.'s kept set grows to 1M images, 10M candidates a round).
    ``discriminator`` (``verifier_kind="discriminator"``): ``small``, the classifier's MLP of
    ``verifier_hidden`` and ``verifier_features`` units with two outputs, or ``yi``, Yi et
    al.'s ``SyntheticDiscriminator`` (:class:`~collapse_jax.core.nets.classifier.
    Discriminator`: 512, 256, 128 and 64 units, LeakyReLU 0.2).
    ``epochs`` / ``verifier_epochs`` > 0 train the generators (every round's, and the
    discriminator's reference CVAE) / the verifier by epochs with early stopping after
    ``patience`` epochs without a lower training loss, as Yi et al. train every network
    (200 / 80 epochs, patience 5; :func:`~collapse_jax.core.nets.train.fit`); 0 (default)
    trains ``steps`` / ``verifier_steps`` minibatch steps.
    """
    fn = "retrain_config"
    dim = check_int(fn, "dim", dim, 1)
    classes = check_int(fn, "classes", classes, 2)
    latent = check_int(fn, "latent", latent, 1, 512)
    hidden = check_int(fn, "hidden", hidden, 1, 65536)
    rounds = check_int(fn, "rounds", rounds, 1, 10**4)
    for name, v in (("n_real", n_real), ("n_keep", n_keep), ("n_eval", n_eval)):
        check_int(fn, name, v, 2 * classes)
        if v % classes:
            raise InvalidInput(f"{fn}: {name}={v} is out of range; allowed a multiple of "
                             f"classes={classes}")
    keep_min = check_float(fn, "keep_min", keep_min, 0.0, 1.0, lo_open=True)
    verifier_max = check_int(fn, "verifier_max", verifier_max, classes)
    k_nn = check_int(fn, "k_nn", k_nn, 1, n_eval // classes - 1)
    grid = check_int(fn, "grid", grid, 1, n_eval // classes)
    check_precision(fn, precision)
    check_choice(fn, "verifier_kind", verifier_kind, VERIFIER_KINDS)
    growth = check_float(fn, "growth", growth, 1.0, 1e4)
    check_choice(fn, "arch", arch, ARCHS)
    check_choice(fn, "discriminator", discriminator, DISCRIMINATORS)
    if arch == "conv" and conv_side(dim) is None:
        raise InvalidInput(f"{fn}: arch='conv' is out of range for dim={dim}; allowed with "
                           "square images whose side is a multiple of 4 (8x8, 28x28)")
    n_keep_first_c = n_keep // classes
    n_keep_c = int(round(n_keep_first_c * growth))  # the last round's: the buffers' size
    if classes * n_keep_c > (2**31 - 1) // max(dim, 1):
        raise InvalidInput(f"{fn}: growth={growth:g} is out of range; allowed up to "
                           f"{(2**31 - 1) // max(dim, 1) / (classes * n_keep_first_c):.4g} "
                           "(the last round's kept images stay within int32 indices)")
    candidates_c = int(math.ceil(n_keep_c / keep_min - 1e-9))
    cand_batch_c = candidates_c if candidate_batch is None else check_int(
        fn, "candidate_batch", candidate_batch, 1, candidates_c)
    n_keep_max = classes * n_keep_c
    pool = n_real + (rounds + 1) * n_keep_max if accumulate else max(n_real, n_keep_max)
    noise = check_float(fn, "noise", noise, 0.0, 10.0)
    return RetrainConfig(
        dim, classes, latent, hidden, noise, rounds,
        train_config(steps=steps, batch=batch, lr=lr, epochs=epochs, patience=patience),
        train_config(steps=verifier_steps, batch=batch, lr=lr, weight_decay=1e-4,
                     epochs=verifier_epochs, patience=patience),
        check_int(fn, "verifier_hidden", verifier_hidden, 1),
        check_int(fn, "verifier_features", verifier_features, 1),
        n_real // classes, n_keep_c, candidates_c, n_eval // classes, pool, verifier_max,
        k_nn, grid, precision, verifier_kind, bool(binary), growth, n_keep_first_c, arch,
        cand_batch_c, discriminator)


def _dtype(cfg):
    return jnp.float64 if cfg.precision == "float64" else jnp.float32


def real_set(split: Split, feature_net: Classifier, cfg: RetrainConfig) -> RealSet:
    """Precompute the held-out statistics of the measuring instrument."""
    dt = _dtype(cfg)
    tx, ty = jnp.asarray(split.test.x), jnp.asarray(split.test.y)
    if tx.shape[1] != cfg.dim:
        raise InvalidInput(f"real_set: image size {tx.shape[1]} differs from cfg.dim={cfg.dim}")
    feat = jax.vmap(feature_net.features)(tx).astype(dt)
    mean, cov = nm.feature_gaussian(feat)
    return RealSet(jnp.asarray(split.train.x), jnp.asarray(split.train.y), tx, ty, feature_net,
                   feat, mean, cov, sqrtm_psd(cov), nm.knn_radii(feat, ty, cfg.k_nn))


def retrain_params(cfg: RetrainConfig, real: RealSet, *, keep=0.1, verify=1.0,
                   verifier_size=1000, accumulate=0.0, n_keep=None,
                   shared: bool = False) -> RetrainParams:
    """Validated :class:`RetrainParams`; 1-D arrays give a sweep.

    ``n_keep`` (default: the config's) is the number of images kept in the first round (later
    rounds scale it by the config's ``growth``), a multiple of the classes up to the
    config's: one compiled sweep can vary the ratio of kept synthetic to real images (the
    config's ``n_keep`` sizes the buffers).

    With ``shared=True`` the ``real`` field is left empty (``None``): pass ``real`` as the
    shared argument of :func:`collapse_jax.engine.batch.run_sweep_shared` with
    :func:`retrain_kernel_shared`, so every sweep point reads one copy of the data. Otherwise
    the data ride in ``params`` (scalars only: a sweep would copy them per point).
    """
    fn = "retrain_params"
    n_keep_max = cfg.classes * cfg.n_keep_first_c  # the first round's
    raw = {"keep": keep, "verify": verify, "verifier_size": verifier_size,
           "accumulate": accumulate, "n_keep": n_keep_max if n_keep is None else n_keep}
    arrays = {k: np.asarray(v, dtype=float) for k, v in raw.items()}
    shape = sweep_shape(fn, arrays)
    if shape and not shared:
        raise InvalidInput(f"{fn}: a sweep (shape {shape}) needs shared=True and "
                         "batch.run_sweep_shared, so the data are not copied per point")
    keep_min = cfg.n_keep_c / cfg.candidates_c
    for v in arrays["keep"].ravel():
        check_float(fn, "keep", v, keep_min - 1e-12, 1.0)
    for v in arrays["verify"].ravel():
        if v not in (0.0, 1.0):
            raise InvalidInput(f"{fn}: verify={v} is out of range; allowed 0 or 1")
    n_train = int(real.train_y.shape[0])
    for v in arrays["verifier_size"].ravel():
        check_int(fn, "verifier_size", int(v), cfg.classes, min(cfg.verifier_max, n_train))
    for v in arrays["n_keep"].ravel():
        check_int(fn, "n_keep", int(v), cfg.classes, n_keep_max)
        if v != int(v) or int(v) % cfg.classes:
            raise InvalidInput(f"{fn}: n_keep={v:g} is out of range; allowed a multiple of "
                             f"classes={cfg.classes} up to {n_keep_max}")
    for v in arrays["accumulate"].ravel():
        if v not in (0.0, 1.0):
            raise InvalidInput(f"{fn}: accumulate={v} is out of range; allowed 0 or 1")
        if v == 1.0 and cfg.pool < cfg.classes * (cfg.n_real_c + (cfg.rounds + 1) * cfg.n_keep_c):
            raise InvalidInput(f"{fn}: accumulate=1 needs retrain_config(accumulate=True)")
    counts = np.bincount(np.asarray(real.train_y), minlength=cfg.classes)
    if counts.min() < cfg.n_real_c:
        raise InvalidInput(f"{fn}: the real pool has {counts.min()} images of some class; "
                         f"n_real needs {cfg.n_real_c} per class")
    leaves = {k: jnp.asarray(np.broadcast_to(a, shape), jnp.float32) for k, a in arrays.items()}
    return RetrainParams(leaves["keep"], leaves["verify"], leaves["verifier_size"],
                         leaves["accumulate"], leaves["n_keep"], None if shared else real)


def retrain_kernel_shared(key: Key, params_shared, cfg: RetrainConfig, silo=0):
    """:func:`retrain_kernel` for :func:`collapse_jax.engine.batch.run_sweep_shared`:
    ``params_shared = (params without data, RealSet)``."""
    params, real = params_shared
    return retrain_kernel(key, params._replace(real=real), cfg, silo)


def balanced_order(key: Key, y, classes: int):
    """Indices of ``y`` in random order with classes interleaved: any prefix of length
    ``r * classes`` holds ``r`` items of each class (while every class has ``r``)."""
    n = y.shape[0]
    u = jax.random.uniform(key, (n,), jnp.float32)
    perm = jnp.lexsort((u, y))
    ys = y[perm]
    counts = jnp.bincount(y, length=classes)
    starts = jnp.cumsum(counts) - counts
    rank = jnp.arange(n) - starts[ys]
    return perm[jnp.lexsort((u[perm], rank))]


def top_fraction_mask(score, y, keep, classes: int):
    """Row mask of the top ``ceil(keep * n_c)`` scores within every class ``c``."""
    n = y.shape[0]
    perm = jnp.lexsort((-score, y))
    ys = y[perm]
    counts = jnp.bincount(y, length=classes)
    starts = jnp.cumsum(counts) - counts
    rank = jnp.arange(n) - starts[ys]
    kept_sorted = rank < jnp.ceil(keep * counts[ys])
    return jnp.zeros(n, bool).at[perm].set(kept_sorted)


def binarise(x):
    """Pixels thresholded at 1/2 (0/1 images stay as they are): what Yi et al.'s discriminator
    sees in training (``x = (x > 0.5).float()`` in ``SyntheticDiscriminator.loss``)."""
    return (x > 0.5).astype(jnp.float32)


def _verifier(k_init, k_fit, r: RealSet, v_order, vae_like, size, cfg: RetrainConfig):
    """Train the verifier on the first ``size`` real images of ``v_order``; returns
    ``(network, held-out accuracy, score, passes)`` with ``score(x, y)`` the log-score it ranks
    by and ``passes`` the passes over its data it trained for.

    ``classifier``: a digit classifier, score ``log p(y | x)``, accuracy on held-out digits.
    ``discriminator`` (Yi et al.'s kind): a CVAE is trained on those real images (the
    generator's own recipe), the same number of its samples (decoder means, or Bernoulli
    samples with ``cfg.binary``; the labels of the real images) are the fake class, and a
    two-class MLP of the classifier's shape learns real against fake; score ``log p(real |
    x)`` whatever the class, accuracy the mean of its held-out real and fresh-fake accuracies.
    As in the authors' ``SyntheticDiscriminator.loss``, every image the discriminator sees is
    first thresholded at 1/2 (:func:`binarise`): otherwise grey real pixels against 0/1
    samples would teach it the pixel format instead of the digit's shape."""
    C = cfg.classes
    vx, vy = r.train_x[v_order], r.train_y[v_order]
    if cfg.verifier_kind == "classifier":
        like = eqx.filter_eval_shape(Classifier, cfg.dim, cfg.verifier_hidden,
                                     cfg.verifier_features, C, key=k_init)
        net, losses = fit(k_fit, reinit(like, k_init), cross_entropy, vx, vy, size, cfg.verifier)
        return (net, accuracy(net, r.test_x, r.test_y), partial(log_confidence, net),
                passes(losses, cfg.verifier, size))
    k_ref_init, k_ref_fit, k_fake, k_fake_test = jax.random.split(jax.random.fold_in(k_fit, 1), 4)
    ref, _ = fit(k_ref_fit, reinit(vae_like, k_ref_init), neg_elbo, vx, vy, size, cfg.vae)
    fake = generate(ref, k_fake, vy, cfg.binary)
    # rows alternate real / fake, so the first 2 size rows hold size of each
    xd = binarise(jnp.stack([vx.astype(jnp.float32), fake], axis=1).reshape(-1, cfg.dim))
    yd = jnp.tile(jnp.array([1, 0], jnp.int32), vx.shape[0])
    if cfg.discriminator == "yi":
        like = eqx.filter_eval_shape(Discriminator, cfg.dim, key=k_init)
    else:
        like = eqx.filter_eval_shape(Classifier, cfg.dim, cfg.verifier_hidden,
                                     cfg.verifier_features, 2, key=k_init)
    net, losses = fit(k_fit, reinit(like, k_init), cross_entropy, xd, yd, 2 * size,
                      cfg.verifier)

    def score(x, y):
        return log_confidence(net, binarise(x), jnp.ones_like(y))

    n_test = r.test_y.shape[0]
    acc = 0.5 * (accuracy(net, binarise(r.test_x), jnp.ones(n_test, jnp.int32))
                 + accuracy(net, binarise(generate(ref, k_fake_test, r.test_y, cfg.binary)),
                            jnp.zeros(n_test, jnp.int32)))
    return net, acc, score, passes(losses, cfg.verifier, 2 * size)


def top_candidates(model, vscore, key: Key, verify, n_cand, cfg: RetrainConfig):
    """The top ``cfg.n_keep_c`` of each class among the first ``n_cand`` candidates of every
    class that ``model`` generates, by ``vscore(x, y)`` (``verify > 0``) or by uniform random
    scores (plain self-generated data): ``(C, n_keep_c, dim)`` images, best first; ranks
    beyond ``n_cand`` are unusable (score ``-inf``).

    With ``cfg.cand_batch_c < cfg.candidates_c`` the candidates come in batches of
    ``cand_batch_c`` per class (batch ``j`` drawn from ``fold_in`` of the keys, the last one
    cut at ``candidates_c``), and a ``lax.scan`` keeps the running top of every class: the
    top of the union of the batches (tested), holding one batch at a time."""
    C, dim = cfg.classes, cfg.dim
    k_draw, k_rand = jax.random.split(key)

    def scored(kd, kr, b, first):
        y = jnp.repeat(jnp.arange(C), b)
        cand = generate(model, kd, y, cfg.binary)
        score_v = vscore(cand, y).astype(jnp.float32)
        score_r = jax.random.uniform(kr, score_v.shape, jnp.float32)
        score = jnp.where(verify > 0, score_v, score_r).reshape(C, b)
        live = (first + jnp.arange(b))[None, :] < jnp.minimum(n_cand, cfg.candidates_c)
        return jnp.where(live, score, -jnp.inf), cand.reshape(C, b, dim)

    def best(score, cand):
        _, idx = jax.lax.top_k(score, cfg.n_keep_c)  # (C, n_keep_c), best first
        rows = jnp.arange(C)[:, None]
        return score[rows, idx], cand[rows, idx]

    b = cfg.cand_batch_c
    if b >= cfg.candidates_c:  # every candidate at once
        return best(*scored(k_draw, k_rand, cfg.candidates_c, 0))[1]

    def step(carry, j):
        top_s, top_x = carry
        s_j, x_j = scored(jax.random.fold_in(k_draw, j), jax.random.fold_in(k_rand, j), b, j * b)
        return best(jnp.concatenate([top_s, s_j], 1), jnp.concatenate([top_x, x_j], 1)), None

    init = (jnp.full((C, cfg.n_keep_c), -jnp.inf, jnp.float32),
            jnp.zeros((C, cfg.n_keep_c, dim), jnp.float32))
    batches = -(-cfg.candidates_c // b)
    (_, kept), _ = jax.lax.scan(step, init, jnp.arange(batches))
    return kept


def retrain_kernel(key: Key, params: RetrainParams, cfg: RetrainConfig,
                   silo: Silo = 0) -> tuple[Any, Metrics]:
    """One seed of the generate-verify-retrain loop (module docstring); ``silo`` is unused.

    Returns ``(RetrainFinal, metrics)``; ``metrics`` maps each name of :data:`METRIC_NAMES`
    to a ``(rounds + 1,)`` array and ``samples`` to ``(rounds + 1, classes * grid, dim)``
    generated images (``grid`` per class) for figures.
    """
    del silo
    dt = _dtype(cfg)
    r = params.real
    C = cfg.classes
    k_gen_real, k_ver_real, k_ver_init, k_ver_fit, k_rounds = jax.random.split(key, 5)

    # Real images: the generator's balanced initial set and the verifier's (balanced) set.
    order = balanced_order(k_gen_real, r.train_y, C)[: C * cfg.n_real_c]
    real_x, real_y = r.train_x[order], r.train_y[order]
    v_order = balanced_order(k_ver_real, r.train_y, C)
    v_order = v_order[: min(cfg.verifier_max, v_order.shape[0])]
    vae_like = cvae_like(cfg.arch, cfg.dim, cfg.latent, cfg.hidden, C, cfg.noise, k_ver_init)
    _, verifier_acc, vscore, verifier_epochs = _verifier(
        k_ver_init, k_ver_fit, r, v_order, vae_like, params.verifier_size.astype(jnp.int32), cfg)
    real_accept = jnp.mean(vscore(r.test_x, r.test_y) >= jnp.log(0.5))

    # What the verifier prefers: the top keep fraction of each class of the real pool.
    pref = top_fraction_mask(vscore(r.train_x, r.train_y), r.train_y, params.keep, C)
    train_feat = jax.vmap(r.feature_net.features)(r.train_x).astype(dt)
    pref_mean, pref_cov = nm.feature_gaussian(train_feat, pref.astype(dt))
    pref_cov_sqrt = nm.sqrtm_newton_schulz(pref_cov)
    fd_pref_real = nm.frechet_from_moments(pref_mean, pref_cov, r.test_feat_mean,
                                           r.test_feat_cov, r.test_feat_cov_sqrt)

    eval_y = jnp.repeat(jnp.arange(C), cfg.n_eval_c)
    n_keep_first_c = jnp.round(params.n_keep / C)  # this point's first-round kept per class
    growth_t = max(cfg.rounds - 1, 1)

    # The generator's data: a buffer of cfg.pool (image, label) rows; params.accumulate (an
    # array, so that one sweep covers both paradigms) appends each round's kept images or
    # replaces the pool with them.
    pool = data_pool.buffer(cfg.pool, accumulate=params.accumulate)
    state = pool.init(data_pool.Rows((real_x.astype(jnp.float32), real_y.astype(jnp.int32))))

    def measure(model, k):
        k_eval, k_elbo = jax.random.split(k)
        g = generate(model, k_eval, eval_y)  # decoder means, as Yi et al. measure FID
        feat = jax.vmap(r.feature_net.features)(g).astype(dt)
        prec, rec, cov = nm.precision_recall_coverage(feat, eval_y, r.test_feat, r.test_y,
                                                      r.test_radii, cfg.k_nn)
        conf = jnp.exp(vscore(g, eval_y))
        out = {
            "fd_real": nm.frechet_distance(feat, r.test_feat_mean, r.test_feat_cov,
                                           r.test_feat_cov_sqrt),
            "fd_pref": nm.frechet_distance(feat, pref_mean, pref_cov, pref_cov_sqrt),
            "precision": prec, "recall": rec, "coverage": cov,
            "pixel_var": nm.pixel_variance(g, eval_y, C),
            "binary_var": nm.binary_pixel_variance(g, eval_y, C),
            "sharpness": nm.sharpness(g),
            "accept": jnp.mean(conf >= 0.5), "confidence": jnp.mean(conf),
            "judge_acc": accuracy(r.feature_net, g, eval_y),
            "test_elbo": neg_elbo(model, k_elbo, r.test_x, r.test_y),
        }
        grid = g.reshape(C, cfg.n_eval_c, cfg.dim)[:, : cfg.grid].reshape(-1, cfg.dim)
        return {k: v.astype(dt) for k, v in out.items()}, grid

    def select(model, k, i):
        """Candidates of the round-``i`` model and the top of each class for round ``i + 1``:
        ``(rows, live)``, the first ``C`` x (this point's count for that round) rows live."""
        factor = 1.0 + (cfg.growth - 1.0) * jnp.minimum(i, growth_t) / growth_t
        n_keep_c = jnp.minimum(jnp.round(n_keep_first_c * factor), cfg.n_keep_c)
        n_cand = jnp.minimum(jnp.round(n_keep_c / params.keep), cfg.candidates_c)
        kept = top_candidates(model, vscore, k, params.verify, n_cand, cfg)
        # Rank-major rows (the best of every class, then the second best, ...): the first
        # C * n_keep_c rows of this point hold its top n_keep_c of every class.
        rows = (jnp.swapaxes(kept, 0, 1).reshape(-1, cfg.dim),
                jnp.tile(jnp.arange(C), cfg.n_keep_c))
        row_live = (jnp.arange(cfg.n_keep_c) < n_keep_c).repeat(C).astype(jnp.float32)
        return rows, row_live

    def round_step(state, xs):
        k, i = xs
        (pool_x, pool_y), count = pool.read(state)
        k_init, k_fit, k_meas, k_sel = jax.random.split(k, 4)
        model, losses = fit(k_fit, reinit(vae_like, k_init), neg_elbo, pool_x, pool_y, count,
                            cfg.vae)
        out, grid = measure(model, k_meas)
        out["train_loss"] = last_loss(losses, cfg.vae).astype(dt)
        out["train_epochs"] = passes(losses, cfg.vae, count).astype(dt)
        out["train_size"] = count.astype(dt)  # the images this round's model trained on
        state = pool.update(state, data_pool.Rows(*select(model, k_sel, i)))
        return state, (out, grid)

    keys = jax.random.split(k_rounds, cfg.rounds + 1)
    _, (metrics, grids) = jax.lax.scan(round_step, state, (keys, jnp.arange(cfg.rounds + 1)))
    return RetrainFinal(verifier_acc.astype(dt), real_accept.astype(dt), fd_pref_real,
                        grids, verifier_epochs.astype(dt)), metrics
