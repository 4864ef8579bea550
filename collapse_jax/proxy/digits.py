"""The paper's Table 1 at laptop scale: real digits over ten parties, a neural generator
retrained under selection.

Qiao et al. (2026, theory.md section 1.4) retrain a DDPM on CIFAR-10 for 10 generations under
accumulate-subsample, keep ``n`` of ``N = 4 n`` candidates per generation (alpha = 0.25) with
one of six rules, split the real data over 10 parties by ExDir(1, 0.1) and score FID,
precision and recall. This module runs the same loop on the scikit-learn digits (1797 images
of 8 x 8, held out 30% per class for the metrics), one seed per call, one ``lax.scan`` over
generations; every strategy keeps its own generator and pool, and all strategies see the same
candidate latents (common random numbers).

* **Parties.** ``exdir_split``: party ``k`` holds the classes ``perm[(k C + j) mod M]``,
  ``j < C`` (``perm`` a random permutation of the ``M`` classes, so that every class is held
  when ``K C >= M``), and the images of each class are dealt to the parties that hold it
  with Dirichlet(``concentration``) proportions (ExDir(C, alpha) as the federated-learning
  literature defines it; the authors' split code is not in their repository,
  docs/proxy_authors_rules.md section 7). With ``K = M = 10`` and ``C = 1`` every party holds
  one whole class and the concentration plays no role. ``iid = 1`` deals every image to a
  uniformly random party instead. The reference party ("local") is party 0, the authors'
  ``biased_client_id``.
* **Generator.** A VAE (the package's CVAE module with a single label, i.e. unconditional,
  as the authors' DDPM is; Gaussian likelihood, latent 8) trained at generation 0 on real
  images of every party (the authors' ``initial_data = self.dataset``,
  ``biased_verification_experiment.py:542-546``; ``start="party"`` trains it on party 0's
  images instead), then trained ``steps`` more Adam steps on its pool each generation from
  the previous weights (the authors' weights carry over) and a fresh Adam state. Its
  samples are decoder means: blurred, so selection has something to remove.
* **Pool.** Accumulate-subsample with a budget ``B = pool`` (default ``n``: the authors keep
  ``target_N = len(dataset)`` images per generation, the size of the generator's data): the
  generation-0 VAE trains on ``B`` real images drawn uniformly from the training set, and
  every later pool is a uniform subsample of ``B`` rows of those and every kept image so far
  (bottom-``B`` of uniform priorities), so the real share of the pool falls like
  ``1 / (t + 1)``. The parties hold every training image as their references.
* **Rules.** Those of :mod:`collapse_jax.proxy.kernel` (``_select``), in the 64 pixel
  coordinates (the authors score raw pixels, no feature extractor): the OT scores use the
  debiased potential with epsilon annealed (by 0.81 per iteration, geomloss' rule) from
  ``anneal_from = 10`` (about the median squared distance between two digits) down to
  ``epsilon`` (default 0.1: a tenth of the median squared distance from a digit to its nearest
  neighbour, a fiftieth of the median within-class one; 0.02 leaves up to 9 in 10 of Scheme
  II's rounds unconverged on an IID deal at 300 iterations, 0.1 converges in 200), every
  solve carrying a ``converged`` flag.
* **Metrics** (every generation, on ``n_eval`` samples of every strategy's model): Frechet
  distance and k-NN precision / recall (Kynkaanniemi et al. 2019) against the held-out
  digits in the 32-d features of a classifier trained once on the real training set (the
  stand-in for Inception), the share of samples that classifier assigns to party 0's class
  (the tilt of the paper's Fig. 5 left), the share of its most frequent class and the whole
  class histogram.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from collapse_jax.core import _random, transport
from collapse_jax.core._types import Key, Metrics, Silo
from collapse_jax.core._validate import InvalidInput, check_choice, check_float, check_int
from collapse_jax.core.nets import metrics as nm
from collapse_jax.core.nets.classifier import Classifier
from collapse_jax.core.nets.cvae import CVAE, generate, neg_elbo
from collapse_jax.core.nets.data import CLASSES, Split
from collapse_jax.core.nets.init import reinit
from collapse_jax.core.nets.train import TrainConfig, fit, train_config
from collapse_jax.proxy import kernel as proxy_kernel_mod
from collapse_jax.proxy import sample_metrics, silo_data

#: The paper's six methods, then the two references a reader compares them with: ``local``
#: (party 0's data, OT score) and ``global-oracle`` (all real training data; breaks privacy).
SIX = ("random", "kmeans-pool", "center-match", "cov-match-greedy", "barycenter",
       "party-scores")
STRATEGIES = (*SIX, "local", "global-oracle")
#: The paper's Table 1 on CIFAR-10 after 10 generations: (FID, recall).
TABLE1_CIFAR10 = {"random": (106.0, 0.48), "kmeans-pool": (102.0, 0.40),
                  "center-match": (116.0, 0.35), "cov-match-greedy": (115.0, 0.47),
                  "barycenter": (85.0, 0.57), "party-scores": (71.0, 0.58)}
LABELS = {"random": "Random", "kmeans-pool": "K-means", "center-match": "CenterMatch",
          "cov-match-greedy": "CovMatch", "barycenter": "Scheme II",
          "party-scores": "Scheme I", "local": "Local (party 0, OT)",
          "global-oracle": "Oracle (all real, OT)"}
STARTS = ("full", "party")
METRIC_NAMES = ("fd", "precision", "recall", "owner_share", "top_share", "converged")


class DigitsConfig(NamedTuple):
    """Static structure of the digits tier (hashable); build with :func:`digits_config`.

    The field names ``n``, ``kmeans_clusters``, ``sinkhorn``, ``tau``, ``rounds``, ``support``
    and ``silo_weights`` are those :func:`collapse_jax.proxy.kernel._select` reads."""

    dim: int
    n: int
    candidates: int
    pool: int
    parties: int
    classes: int
    classes_per_party: int
    generations: int
    strategies: tuple
    start: str
    latent: int
    hidden: int
    noise: float
    vae0: TrainConfig
    vae: TrainConfig
    n_eval: int
    k_nn: int
    sinkhorn: transport.SinkhornSettings
    tau: float
    rounds: int
    support: int
    kmeans_clusters: int
    silo_weights: str
    party_rows: int


class DigitsParams(NamedTuple):
    """Array leaves (sweepable): ExDir's Dirichlet ``concentration`` and ``iid`` (1: every
    image to a uniformly random party)."""

    concentration: jax.Array
    iid: jax.Array


class DigitsData(NamedTuple):
    """The real digits and the fixed measuring instrument (shared by every seed)."""

    train_x: jax.Array
    train_y: jax.Array
    feature_net: Classifier
    test_feat: jax.Array
    test_mean: jax.Array
    test_cov: jax.Array
    test_cov_sqrt: jax.Array
    test_radii: jax.Array


def digits_config(*, n: int = 128, alpha: float = 0.25, pool: int | None = None,
                  parties: int = 10,
                  classes_per_party: int = 1, generations: int = 10,
                  strategies=STRATEGIES, start: str = "full", latent: int = 8,
                  hidden: int = 128, noise: float = 0.1, steps0: int = 1500,
                  steps: int = 1000, batch: int = 64, lr: float = 2e-3,
                  lr_tune: float = 2e-3, n_eval: int = 500,
                  k_nn: int = 3, epsilon: float = 0.1, anneal_from: float = 10.0,
                  sinkhorn_iterations: int = 200, threshold: float = 1e-2,
                  momentum: float = 1.5, schedule: str = "fixed",
                  tau: float = 0.5, rounds: int = 10, support: int | None = None,
                  kmeans_clusters: int = 8, silo_weights: str = "uniform",
                  dim: int = 64, classes: int = CLASSES) -> DigitsConfig:
    """Validated :class:`DigitsConfig` (``N = round(n / alpha)`` candidates per generation;
    ``pool``: the generator's data budget, default ``n``: generation 0 trains on ``pool``
    real images and every later pool is a uniform subsample of that many rows of everything
    so far, as the authors keep ``target_N = len(dataset)`` per generation; ``support`` of
    Scheme II defaults to all ``N``, the authors' rule)."""
    fn = "digits_config"
    n = check_int(fn, "n", n, 8, 4096)
    alpha = check_float(fn, "alpha", alpha, 0.0, 1.0, lo_open=True)
    cand = int(round(n / alpha))
    if cand > 16384:
        raise InvalidInput(f"{fn}: n / alpha = {cand} candidates is out of range; allowed "
                           "<= 16384 (the OT cost matrices grow as its square)")
    pool = check_int(fn, "pool", n if pool is None else pool, 8, 100_000)
    parties = check_int(fn, "parties", parties, 1, 100)
    classes = check_int(fn, "classes", classes, 2, 100)
    cpp = check_int(fn, "classes_per_party", classes_per_party, 1, classes)
    if parties * cpp < classes:
        raise InvalidInput(f"{fn}: parties * classes_per_party = {parties * cpp} is out of "
                           f"range; allowed >= classes = {classes} (every class held)")
    generations = check_int(fn, "generations", generations, 1, 1000)
    if isinstance(strategies, str):
        strategies = (strategies,)
    strategies = tuple(strategies)
    if not strategies:
        raise InvalidInput(f"{fn}: strategies=() is empty; allowed any of "
                           f"{', '.join(STRATEGIES)}")
    for st in strategies:
        check_choice(fn, "strategies", st, STRATEGIES)
    if len(set(strategies)) != len(strategies):
        raise InvalidInput(f"{fn}: strategies={strategies!r} has duplicates")
    check_choice(fn, "start", start, STARTS)
    n_eval = check_int(fn, "n_eval", n_eval, 20, 20000)
    k_nn = check_int(fn, "k_nn", k_nn, 1, n_eval - 1)
    check_float(fn, "epsilon", epsilon, 0.0, lo_open=True)
    anneal = max(1.0, check_float(fn, "anneal_from", anneal_from, 0.0, lo_open=True) / epsilon)
    settings = transport.sinkhorn_settings(epsilon, sinkhorn_iterations, threshold, momentum,
                                           anneal=anneal,
                                           decay=transport.anneal_decay(anneal),
                                           debias=True, schedule=schedule)
    support = check_int(fn, "support", cand if support is None else support, 2, cand)
    check_choice(fn, "silo_weights", silo_weights, ("uniform", "sizes"))
    return DigitsConfig(
        check_int(fn, "dim", dim, 1), n, cand, pool, parties, classes, cpp, generations,
        strategies, start, check_int(fn, "latent", latent, 1, 512),
        check_int(fn, "hidden", hidden, 1, 65536), check_float(fn, "noise", noise, 0.0, 10.0),
        train_config(steps=steps0, batch=batch, lr=lr),
        train_config(steps=steps, batch=batch, lr=lr_tune), n_eval, k_nn, settings,
        check_float(fn, "tau", tau, 0.0, 1.0, lo_open=True),
        check_int(fn, "rounds", rounds, 1, 200), support,
        check_int(fn, "kmeans_clusters", kmeans_clusters, 1), silo_weights, 0)


def digits_params(*, concentration=0.1, iid=0.0) -> DigitsParams:
    """Validated :class:`DigitsParams`; 1-D arrays of one length give a sweep."""
    fn = "digits_params"
    c = np.atleast_1d(np.asarray(concentration, float))
    i = np.atleast_1d(np.asarray(iid, float))
    for v in c:
        silo_data.check_beta(fn, v)
    for v in i:
        if v not in (0.0, 1.0):
            raise InvalidInput(f"{fn}: iid={v} is out of range; allowed 0 or 1")
    if np.ndim(concentration) == 0 and np.ndim(iid) == 0:
        return DigitsParams(jnp.asarray(float(concentration)), jnp.asarray(float(iid)))
    c, i = np.broadcast_arrays(c, i)
    return DigitsParams(jnp.asarray(c), jnp.asarray(i))


def party_rows_bound(train_y, classes: int, parties: int, per_party: int) -> int:
    """Most rows any party can hold: ``per_party`` whole classes under ExDir, an equal share
    ``ceil(n / K)`` under the IID deal (the static row count of every party's data)."""
    counts = np.bincount(np.asarray(train_y), minlength=classes)
    n = int(counts.sum())
    top = int(np.sort(counts)[::-1][:per_party].sum())
    return max(min(n, top), -(-n // parties))


def digits_data(split: Split, feature_net: Classifier, cfg: DigitsConfig
                ) -> tuple[DigitsConfig, DigitsData]:
    """``cfg`` with its party row count set (:func:`party_rows_bound`), and the shared real
    data with the held-out statistics of the measuring instrument."""
    tx = jnp.asarray(split.test.x)
    if tx.shape[1] != cfg.dim:
        raise InvalidInput(f"digits_data: image size {tx.shape[1]} differs from "
                           f"cfg.dim={cfg.dim}")
    if int(np.max(split.train.y)) >= cfg.classes:
        raise InvalidInput(f"digits_data: labels reach {int(np.max(split.train.y))}; allowed "
                           f"< classes={cfg.classes}")
    cfg = cfg._replace(party_rows=party_rows_bound(split.train.y, cfg.classes, cfg.parties,
                                                   cfg.classes_per_party))
    feat = jax.vmap(feature_net.features)(tx).astype(jnp.float32)
    mean, cov = nm.feature_gaussian(feat)
    return cfg, DigitsData(jnp.asarray(split.train.x, jnp.float32),
                      jnp.asarray(split.train.y, jnp.int32), feature_net, feat, mean, cov,
                      nm.sqrtm_newton_schulz(cov),
                      sample_metrics.knn_radii(feat, cfg.k_nn))


def exdir_split(key: Key, labels, classes: int, parties: int, per_party: int,
                concentration, iid):
    """Party index of every row (module docstring); returns ``(party_of, perm)`` with
    ``perm[k * per_party]`` the first class of party ``k``."""
    k_perm, k_dir, k_deal, k_iid = jax.random.split(key, 4)
    perm = jax.random.permutation(k_perm, classes)
    slots = (jnp.arange(parties)[:, None] * per_party + jnp.arange(per_party)[None]) % classes
    holds = jnp.zeros((classes, parties), bool).at[perm[slots], jnp.arange(parties)[:, None]
                                                   ].set(True)
    lg = silo_data.log_gamma_variates(k_dir, concentration, (classes, parties))
    logits = jnp.where(holds, lg, -jnp.inf)
    exdir = _random.categorical(k_deal, logits[labels])
    # IID: a uniformly random deal into equal shares (row of rank r goes to party r mod K)
    rank = jnp.argsort(jnp.argsort(jax.random.uniform(k_iid, labels.shape)))
    return jnp.where(iid > 0, rank % parties, exdir), perm


def party_data(x, party_of, parties: int, rows: int):
    """Every party's rows ``(K, rows, d)`` and 0/1 weights ``(K, rows)`` (padding 0)."""
    idx = jax.vmap(lambda k: jnp.nonzero(party_of == k, size=rows, fill_value=0)[0])(
        jnp.arange(parties))
    counts = jnp.sum(party_of[None, :] == jnp.arange(parties)[:, None], axis=1)
    w = (jnp.arange(rows)[None, :] < counts[:, None]).astype(x.dtype)
    return x[idx], w


def _pool_take(x, prio, budget: int):
    """The ``budget`` rows of lowest priority, ascending (live rows, finite priority, first)
    and their count."""
    _, idx = jax.lax.top_k(-prio, budget)
    p = prio[idx]
    return x[idx], p, jnp.sum(jnp.isfinite(p)).astype(jnp.int32)


def digits_kernel_shared(key: Key, params_shared, cfg: DigitsConfig, silo: Silo = 0):
    """:func:`digits_kernel` for :func:`collapse_jax.engine.batch.run_sweep_shared`."""
    params, data = params_shared
    return digits_kernel(key, params, data, cfg, silo)


def digits_kernel(key: Key, params: DigitsParams, data: DigitsData, cfg: DigitsConfig,
                  silo: Silo = 0) -> tuple[Any, Metrics]:
    """One seed of the digits tier under every strategy of ``cfg.strategies`` (module
    docstring). Returns ``(final, metrics)``: ``final`` holds the party sizes ``(K,)``, party
    0's first class, its share of the training set and a sample grid ``(S, 16, dim)`` of
    every strategy's last model; ``metrics`` maps each of :data:`METRIC_NAMES` to
    ``(T + 1, S)`` and ``classes`` to ``(T + 1, S, classes)`` (row 0: the generation-0
    model; ``converged``: the fraction of the generation's Sinkhorn solves that met the
    threshold, 1 for rules that solve nothing)."""
    del silo
    S = len(cfg.strategies)
    x_train, y_train = data.train_x, data.train_y
    n_train = x_train.shape[0]
    k_split, k_init, k_fit0, k_prio, k_gens, k_start = jax.random.split(key, 6)

    party_of, perm = exdir_split(k_split, y_train, cfg.classes, cfg.parties,
                                 cfg.classes_per_party, params.concentration, params.iid)
    owner_class = perm[0]
    p_x, p_w = party_data(x_train, party_of, cfg.parties, cfg.party_rows)
    channel = silo_data.Channel(silo_data.SiloBank(p_x, p_w, cfg.sinkhorn), record=False)

    # generation 0: the start set, a VAE trained on it
    live0 = jnp.ones(n_train, bool) if cfg.start == "full" else party_of == 0
    prio0 = jnp.where(live0, jax.random.uniform(k_prio, (n_train,)), jnp.inf)
    px, pp, count = _pool_take(x_train, prio0, cfg.pool)
    # the start set is the whole history at generation 0: fresh uniform priorities (those
    # that chose it are the smallest of n_train and would never be displaced)
    pp = jnp.where(jnp.isfinite(pp), jax.random.uniform(k_start, (cfg.pool,)), jnp.inf)
    zeros_pool = jnp.zeros(cfg.pool, jnp.int32)
    like = eqx.filter_eval_shape(CVAE, cfg.dim, cfg.latent, cfg.hidden, 2, cfg.noise,
                                 key=k_init)
    model0, _ = fit(k_fit0, reinit(like, k_init), neg_elbo, px, zeros_pool, count, cfg.vae0)

    def stack(a):
        return jnp.broadcast_to(a, (S,) + a.shape)

    models = jax.tree.map(stack, model0)
    pools = (stack(px), stack(pp), stack(count))
    eval_y = jnp.zeros(cfg.n_eval, jnp.int32)

    def measure(models, k):
        g = jax.vmap(lambda m: generate(m, k, eval_y))(models)  # (S, n_eval, dim)

        def one(gs):
            feat = jax.vmap(data.feature_net.features)(gs).astype(jnp.float32)
            prec, rec = sample_metrics.precision_recall(feat, data.test_feat, cfg.k_nn,
                                                        data.test_radii)
            cls = jnp.argmax(jax.vmap(data.feature_net)(gs), axis=-1)
            hist = jnp.bincount(cls, length=cfg.classes) / cls.shape[0]
            return {"fd": nm.frechet_distance(feat, data.test_mean, data.test_cov,
                                              data.test_cov_sqrt),
                    "precision": prec, "recall": rec,
                    "owner_share": hist[owner_class], "top_share": jnp.max(hist),
                    "classes": hist}

        return jax.vmap(one)(g), g[:, :16]

    k_meas0, k_gens = jax.random.split(k_gens)
    first, _ = measure(models, k_meas0)
    first["converged"] = jnp.ones((S,), jnp.float32)
    first["classes"] = first["classes"].astype(jnp.float32)

    def step(carry, k):
        models, (px, pp, count) = carry
        k_draw, k_prio, k_fit, k_meas = jax.random.split(k, 4)
        cands = jax.vmap(lambda m: generate(m, k_draw, jnp.zeros(cfg.candidates,
                                                                 jnp.int32)))(models)
        kept, conv = [], []
        for i, strategy in enumerate(cfg.strategies):
            idx, c, _ = proxy_kernel_mod._select(cfg, strategy, cands[i], channel, 0, x_train)
            kept.append(cands[i][idx])
            conv.append(c.astype(jnp.float32))
        kept = jnp.stack(kept)  # (S, n, dim)
        # accumulate-subsample: the kept rows arrive with fresh uniform priorities
        u = jax.random.uniform(k_prio, (cfg.n,))
        px, pp, count = jax.vmap(lambda x, p, xk: _pool_take(
            jnp.concatenate([x, xk]), jnp.concatenate([p, u]), cfg.pool))(px, pp, kept)
        # one training key for every strategy: the same minibatch positions and latent
        # noise (common random numbers), so that paired differences see the kept sets only
        models = jax.vmap(lambda m, x, c: fit(k_fit, m, neg_elbo, x, zeros_pool, c,
                                              cfg.vae)[0])(models, px, count)
        out, grid = measure(models, k_meas)
        out["converged"] = jnp.stack(conv)
        out["classes"] = out["classes"].astype(jnp.float32)
        return (models, (px, pp, count)), (out, grid)

    keys = jax.random.split(k_gens, cfg.generations)
    _, (outs, grids) = jax.lax.scan(step, (models, pools), keys)
    metrics = jax.tree.map(lambda a, b: jnp.concatenate([a[None], b]), first, outs)
    final = {"party_sizes": jnp.sum(p_w, axis=1), "owner_class": owner_class,
             "owner_share_real": jnp.mean(y_train == owner_class), "grid": grids[-1]}
    return final, metrics
