"""Recursive training of a mixture generator with siloed or collaborative selection.

One seed: a skewed Gaussian-mixture truth (:func:`collapse_jax.core.mixture.truth_mixture`), a
private real sample split across ``K`` silos by a Dirichlet(beta) label split, a public
initial sample on which generation 0 is fitted, and a ``lax.scan`` over generations. At
generation ``t`` the model draws ``N = round(n / alpha)`` candidates, a selection strategy
keeps ``n`` of them, the pool is updated (replace / accumulate / accumulate-subsample) and
the generator is refitted (a Gaussian mixture by warm-started EM, or a KDE). The owner of the
generator is the silo with the most real points (``local`` strategies use its data).

The kernel returns, per generation, an evaluation sample of the model (``n_eval`` points),
its exact trace of covariance and the selection diagnostics; the distributional metrics are
computed afterwards, batched, by :func:`collapse_jax.proxy.sample_metrics.evaluate`. Qiao et al.
(2026), theory.md sections 1.4-1.6.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from collapse_jax.core import linalg, mixture, transport
from collapse_jax.core import pool as data_pool
from collapse_jax.core._types import Key, Metrics, Silo
from collapse_jax.core._validate import (
    InvalidInput,
    check_choice,
    check_float,
    check_int,
    check_precision,
)
from collapse_jax.proxy import references as proxies
from collapse_jax.proxy import sample_metrics, silo_data

STRATEGIES = ("random", "local", "global-oracle", "interpolation", "barycenter", "kmeans",
              "center-match", "cov-match", "kmeans-pool", "cov-match-greedy", "party-scores")
GENERATORS = ("gmm", "kde")
POOLS = ("replace", "accumulate", "accumulate-subsample")
LOCAL_RULES = {"local": "ot", "kmeans": "kmeans", "center-match": "center-match",
               "cov-match": "cov-match", "cov-match-greedy": "cov-match-greedy"}


class ProxyConfig(NamedTuple):
    """Static structure of one strategy's recursion (hashable). Build with
    :func:`proxy_config`."""

    dim: int
    modes: int
    skew: float
    radius: float
    scale: float
    n: int
    candidates: int
    pool: int
    n_real: int
    silos: int
    generations: int
    strategies: tuple
    paradigm: str
    generator: str
    components: int
    em_iterations: int
    em_reg: float
    kde_bandwidth: float
    junk: float
    n_eval: int
    sinkhorn: transport.SinkhornSettings
    tau: float
    rounds: int
    support: int
    kmeans_clusters: int
    precision: str
    silo_weights: str


class ProxyParams(NamedTuple):
    """Array leaves: ``beta`` (Dirichlet concentration of the silo split)."""

    beta: jax.Array


def proxy_config(*, dim: int = 2, modes: int = 6, skew: float = 0.6, radius: float = 4.0,
                 scale: float = 0.5, n: int = 50, alpha: float = 0.25, pool: int | None = None,
                 n_real: int = 200,
                 silos: int = 5, generations: int = 10, strategies=STRATEGIES,
                 paradigm: str = "accumulate-subsample", generator: str = "gmm",
                 components: int | None = None, em_iterations: int = 10,
                 em_reg: float = 1e-3, kde_bandwidth: float = 0.2, junk: float = 0.0,
                 n_eval: int = 200,
                 epsilon: float = 0.25, sinkhorn_iterations: int = 100,
                 threshold: float = 1e-3, momentum: float = 1.5, anneal: float = 1.0,
                 debias: bool = False, schedule: str = "fixed", tau: float = 0.5,
                 rounds: int = 6,
                 support: int | None = None, kmeans_clusters: int = 8,
                 precision: str = "float32", silo_weights: str = "sizes") -> ProxyConfig:
    """Validated :class:`ProxyConfig` (``N = round(n / alpha)`` candidates).

    ``pool``: size of the public initial sample that generation 0 is fitted on and of the
    accumulate-subsample pool (default ``4 n``); ``replace`` refits on the ``n`` kept points,
    ``accumulate`` on the public sample plus everything kept so far. ``support`` (Scheme II)
    defaults to ``n``; ``silo_weights`` ``"sizes"`` or ``"uniform"`` (Scheme II's
    ``lambda_k``, :func:`collapse_jax.proxy.references.barycenter_protocol`). ``debias``:
    every selection score uses the debiased potential
    (:func:`collapse_jax.core.transport.selection_scores`); ``anneal``: epsilon-scaling from
    ``anneal * epsilon`` down by 0.81 per iteration (1: none); ``schedule="geomloss"``: the
    selection scores come from geomloss' own loop instead
    (:func:`collapse_jax.core.transport.geomloss_potentials`, the authors' solver).
    """
    fn = "proxy_config"
    dim = check_int(fn, "dim", dim, 1, 64)
    modes = check_int(fn, "modes", modes, 2, 64 if dim == 2 else 2 * dim)
    n = check_int(fn, "n", n, dim + 2)
    alpha = check_float(fn, "alpha", alpha, 0.0, 1.0, lo_open=True)
    cand = int(round(n / alpha))
    pool = check_int(fn, "pool", 4 * n if pool is None else pool, n)
    n_real = check_int(fn, "n_real", n_real, 2)
    silos = check_int(fn, "silos", silos, 1, 1000)
    generations = check_int(fn, "generations", generations, 1, 10_000)
    if isinstance(strategies, str):
        strategies = (strategies,)
    strategies = tuple(strategies)
    if not strategies:
        raise InvalidInput(f"{fn}: strategies=() is empty; allowed any of {', '.join(STRATEGIES)}")
    for st in strategies:
        check_choice(fn, "strategies", st, STRATEGIES)
    if len(set(strategies)) != len(strategies):
        raise InvalidInput(f"{fn}: strategies={strategies!r} has duplicates")
    check_choice(fn, "paradigm", paradigm, POOLS)
    check_choice(fn, "generator", generator, GENERATORS)
    components = check_int(fn, "components", modes if components is None else components, 1)
    em_iterations = check_int(fn, "em_iterations", em_iterations, 1)
    em_reg = check_float(fn, "em_reg", em_reg, 0.0)
    kde_bandwidth = check_float(fn, "kde_bandwidth", kde_bandwidth, 0.0, lo_open=True)
    junk = check_float(fn, "junk", junk, 0.0, 1.0, hi_open=True)
    n_eval = check_int(fn, "n_eval", n_eval, 10)
    settings = transport.sinkhorn_settings(epsilon, sinkhorn_iterations, threshold, momentum,
                                           anneal=anneal,
                                           decay=transport.anneal_decay(anneal),
                                           debias=debias, schedule=schedule)
    tau = check_float(fn, "tau", tau, 0.0, 1.0, lo_open=True)
    rounds = check_int(fn, "rounds", rounds, 1, 200)
    support = check_int(fn, "support", n if support is None else support, 2, cand)
    kmeans_clusters = check_int(fn, "kmeans_clusters", kmeans_clusters, 1)
    check_precision(fn, precision)
    check_choice(fn, "silo_weights", silo_weights, proxies.SILO_WEIGHTS)
    for name, v in (("skew", skew), ("radius", radius), ("scale", scale)):
        check_float(fn, name, v, 0.0, lo_open=True)
    return ProxyConfig(dim, modes, float(skew), float(radius), float(scale), n, cand, pool,
                       n_real,
                       silos, generations, strategies, paradigm, generator, components,
                       em_iterations, float(em_reg), float(kde_bandwidth), float(junk), n_eval,
                       settings,
                       float(tau), rounds, support, kmeans_clusters, precision, silo_weights)


def proxy_params(cfg: ProxyConfig, *, beta=0.1) -> ProxyParams:
    """Validated :class:`ProxyParams`; a 1-D ``beta`` gives a sweep (one compile)."""
    arr = np.asarray(beta, dtype=float)
    if arr.ndim > 1:
        raise InvalidInput(f"proxy_params: beta must be a scalar or a 1-D sweep, got shape "
                         f"{arr.shape}")
    for v in arr.ravel():
        silo_data.check_beta("proxy_params", v)
    dtype = jnp.float64 if cfg.precision == "float64" else jnp.float32
    return ProxyParams(jnp.asarray(arr, dtype))


def truth_of(cfg: ProxyConfig) -> mixture.Mixture:
    """The ground-truth mixture of ``cfg`` (the same for every seed)."""
    dtype = jnp.float64 if cfg.precision == "float64" else jnp.float32
    return mixture.truth_mixture(cfg.dim, cfg.modes, skew=cfg.skew, radius=cfg.radius,
                                 scale=cfg.scale, dtype=dtype)


class ProxyFinal(NamedTuple):
    """What a run leaves besides its per-generation outputs."""

    silo_counts: jax.Array      # (K, modes): real points of each mode in each silo
    owner: jax.Array            # index of the owner silo
    models: mixture.Mixture     # every strategy's last mixture (GMM generator), axis 0 = S
    pools: jax.Array            # every strategy's last pool points, axis 0 = S


def _pools(cfg: ProxyConfig):
    """Each paradigm's :class:`~collapse_jax.core.pool.Pool` of the kept points; every one
    reads out ``(points, weights)`` of a fixed number of rows.

    ``replace``: the ``n`` kept points, padded to ``cfg.pool`` rows with zero weights.
    ``accumulate``: the public sample and every kept point, appended into a buffer of
    ``cfg.pool + n generations`` rows. ``accumulate-subsample``: a bottom-k uniform subsample
    of ``cfg.pool`` rows of the history (the priorities come from the caller's uniform
    stream); the public sample fills it as drawn.
    """

    def pad(rows):
        x = rows.points
        size = cfg.pool - x.shape[0]
        if size >= 0:
            return (jnp.concatenate([x, jnp.zeros((size, cfg.dim), x.dtype)]),
                    (jnp.arange(cfg.pool) < x.shape[0]).astype(x.dtype))
        return x[: cfg.pool], jnp.ones((cfg.pool,), x.dtype)

    def buffer_read(state):
        pts = state.rows
        return pts, (jnp.arange(pts.shape[0]) < state.count).astype(pts.dtype)

    def filled(rows, key=None):
        return data_pool.SubsamplePool(rows.points, rows.priority)

    return {
        "replace": lambda: data_pool.replace(pad),
        "accumulate": lambda: data_pool.buffer(cfg.pool + cfg.n * cfg.generations)._replace(
            read=buffer_read),
        "accumulate-subsample": lambda: data_pool.accumulate_subsample(
            cfg.pool, read=lambda s: (s.points, jnp.ones_like(s.priority)))._replace(
                init=filled),
    }


def _fit(cfg: ProxyConfig, pooled, init: mixture.Mixture, iterations: int):
    pts, w = pooled
    if cfg.generator == "kde":
        return init
    mix, _ = mixture.em_fit(pts, w, init, iterations, cfg.em_reg)
    return mix


def _moments(cfg: ProxyConfig, model, pooled):
    if cfg.generator == "kde":
        pts, w = pooled
        return mixture.kde_moments(pts, w, cfg.kde_bandwidth)
    return mixture.moments_of(model)


def _draw(cfg: ProxyConfig, stream, model, pooled, size: int):
    """``size`` outputs of the generator, from a :class:`collapse_jax.core.mixture.Uniforms`
    stream. With ``cfg.junk = eta > 0`` a fraction ``eta`` of them (each independently) are
    low-quality "blurred" samples from the single Gaussian with the generator's own mean
    and covariance (mode averaging), which leaves the generator's mean and covariance
    unchanged. ``pooled``: the pool's ``(points, weights)``."""
    if cfg.generator == "kde":
        pts, w = pooled
        x = mixture.kde_sample_from(stream, pts, w, cfg.kde_bandwidth, size)
    else:
        x = mixture.sample_from(stream, model, size)[0]
    if cfg.junk == 0.0:
        return x
    mean, cov = _moments(cfg, model, pooled)
    chol = linalg.cholesky(cov + 1e-9 * jnp.eye(cfg.dim, dtype=cov.dtype))
    blur = mean + stream.normals((size, cfg.dim)).astype(x.dtype) @ chol.T
    return jnp.where(stream.take((size, 1)) < cfg.junk, blur, x)


def _draw_uniforms(cfg: ProxyConfig, size: int) -> int:
    """How many uniforms :func:`_draw` takes for ``size`` outputs."""
    pairs = 2 * ((size * cfg.dim + 1) // 2)
    return size + pairs + (pairs + size if cfg.junk > 0.0 else 0)


def _trace(cfg: ProxyConfig, model, pooled):
    return jnp.trace(_moments(cfg, model, pooled)[1])



def _select(cfg: Any, strategy: str, cand, channel, owner, real):
    """Kept indices, the fraction of converged Sinkhorn solves and the Frechet curve.

    ``cfg``: a :class:`ProxyConfig`, or any config with its selection fields ``n``,
    ``kmeans_clusters``, ``sinkhorn``, ``tau``, ``rounds``, ``support`` and ``silo_weights``
    (the digits tier's :class:`collapse_jax.proxy.digits.DigitsConfig`)."""
    dtype = cand.dtype
    nan_curve = jnp.full((cfg.rounds + 1,), jnp.nan, dtype)
    one = jnp.asarray(1.0, dtype)
    if strategy == "random":  # candidates are i.i.d.: the first n are a uniform subset
        return jnp.arange(cfg.n), one, nan_curve
    if strategy == "kmeans-pool":  # the authors' K-means: no reference at all
        return proxies.kmeans_pool_select(cand, cfg.n), one, nan_curve
    if strategy in LOCAL_RULES:
        msg = channel.scores(LOCAL_RULES[strategy], cand, owner, cfg.kmeans_clusters, cfg.n)
        return proxies.keep_lowest(msg.values, cfg.n), msg.converged.astype(dtype), nan_curve
    if strategy == "global-oracle":  # pooled real data: breaks privacy by construction
        scores, ok = transport.selection_scores(cand, real, settings=cfg.sinkhorn)
        return proxies.keep_lowest(scores, cfg.n), ok.astype(dtype), nan_curve
    if strategy == "party-scores":  # the authors' Scheme I
        res = proxies.scheme_party_scores(channel, cand, cfg.n)
        return res.indices, res.converged, nan_curve
    if strategy == "interpolation":
        res = proxies.scheme_interpolation(channel, cand, cfg.n, cfg.tau, cfg.sinkhorn)
        return res.indices, res.converged, nan_curve
    res = proxies.scheme_barycenter(channel, cand, cfg.n, cfg.rounds, cfg.support,
                                    cfg.sinkhorn, weights=cfg.silo_weights)
    return res.indices, res.converged, res.frechet


def proxy_kernel(key: Key, params: ProxyParams, cfg: ProxyConfig, silo: Silo = 0) -> tuple[Any, Metrics]:
    """One seed of recursive training under every strategy of ``cfg.strategies``.

    The seed's truth sample, silo split and public sample are shared by all strategies;
    each strategy then keeps its own generator and pool. Every generation's candidate,
    pool and evaluation draws use the same keys for every strategy (common random numbers:
    at generation 1 all strategies choose among the very same candidates). Sampling, pool
    updates and refits are ``vmap``-ed over strategies; only the selection rules differ.
    ``silo`` is unused (the ``K`` silos live inside one seed).

    Returns ``(ProxyFinal, out)``; ``out`` holds, with leading axes ``(T + 1, S)``:
    ``eval`` ``(n_eval, d)`` samples of every generation's model (row 0: the model fitted to
    the public sample), ``trace`` its exact ``Tr Sigma`` and ``converged`` the fraction of
    the generation's Sinkhorn solves whose marginal error met the threshold (1 at row 0 and
    for rules that solve nothing), ``pool_modes`` ``(M,)`` each mode's share of the pool the
    generator is refit on (rows in its 99% ellipsoid, weighted) over its true mass; and
    ``frechet`` ``(T + 1, rounds + 1)``: Scheme II's
    Frechet variance after each barycenter round (NaN when ``barycenter`` is not run).
    """
    del silo
    dtype = jnp.float64 if cfg.precision == "float64" else jnp.float32
    n_s = len(cfg.strategies)
    truth = truth_of(cfg)
    k_setup, k_gens = jax.random.split(key)

    def setup(stream):
        real, labels = mixture.sample_from(stream, truth, cfg.n_real)
        silo_of = silo_data.dirichlet_split_from(stream, labels, cfg.modes, cfg.silos,
                                                 params.beta)
        x0, _ = mixture.sample_from(stream, truth, cfg.pool)
        prio = stream.take((cfg.pool,))
        return real, labels, silo_of, x0, prio, stream.take((_draw_uniforms(cfg, cfg.n_eval),))

    stream = mixture.uniform_block(k_setup, mixture.uniforms_needed(setup), dtype)
    real, labels, silo_of, x0, prio, u_eval0 = setup(stream)
    members = silo_data.membership(silo_of, cfg.silos, dtype)
    counts = members @ jax.nn.one_hot(labels, cfg.modes, dtype=dtype)
    owner = jnp.argmax(jnp.sum(members, axis=1))
    channel = silo_data.Channel(silo_data.SiloBank(real, members, cfg.sinkhorn), record=False)

    pool = data_pool.pool_for(cfg.paradigm, pools=_pools(cfg), fn="proxy_kernel")
    state = pool.init(data_pool.Rows(x0, priority=prio.astype(dtype)))
    if cfg.generator == "gmm":
        pts, w = pooled = pool.read(state)
        init = mixture.farthest_point_init(pts, w, cfg.components, cfg.em_reg)
        model = _fit(cfg, pooled, init, 5 * cfg.em_iterations)
    else:
        model = mixture.Mixture(jnp.ones((1,), dtype), jnp.zeros((1, cfg.dim), dtype),
                                jnp.eye(cfg.dim, dtype=dtype)[None])
    models = jax.tree.map(lambda a: jnp.broadcast_to(a, (n_s,) + a.shape), model)
    pools = jax.tree.map(lambda a: jnp.broadcast_to(a, (n_s,) + a.shape), state)

    def draw_all(u, models, pools, size):
        # Every strategy transforms the same uniforms: common random numbers.
        return jax.vmap(lambda m, p: _draw(cfg, mixture.Uniforms(u), m, pool.read(p),
                                           size))(models, pools)

    def trace_all(models, pools):
        return jax.vmap(lambda m, p: _trace(cfg, m, pool.read(p)))(models, pools)

    def pool_modes(pools):
        # each mode's share of the pool's live rows (its 99% ellipsoid) over its true mass
        def one(p):
            pts, w = pool.read(p)
            return sample_metrics.mode_mass_ratio(pts, truth, w)

        return jax.vmap(one)(pools)

    nan_curve = jnp.full((cfg.rounds + 1,), jnp.nan, dtype)
    first = {"eval": draw_all(u_eval0, models, pools, cfg.n_eval),
             "trace": trace_all(models, pools), "converged": jnp.ones((n_s,), dtype),
             "frechet": nan_curve, "pool_modes": pool_modes(pools)}
    sizes = (_draw_uniforms(cfg, cfg.candidates), _draw_uniforms(cfg, cfg.n_eval), cfg.n)

    def step(carry, xs):
        models, pools = carry
        k = xs
        stream = mixture.uniform_block(k, sum(sizes), dtype)
        u_cand, u_eval, u_pool = (stream.take((m,)) for m in sizes)
        cands = draw_all(u_cand, models, pools, cfg.candidates)
        kept, conv, frechet = [], [], nan_curve
        for i, strategy in enumerate(cfg.strategies):
            idx, c, fr = _select(cfg, strategy, cands[i], channel, owner, real)
            kept.append(cands[i][idx])
            conv.append(c)
            if strategy == "barycenter":
                frechet = fr
        kept = jnp.stack(kept)
        # u_pool: the kept rows' arrival priorities (read by accumulate-subsample only).
        pools = jax.vmap(lambda p, x: pool.update(p, data_pool.Rows(x, priority=u_pool)))(
            pools, kept)
        models = jax.vmap(lambda p, m: _fit(cfg, pool.read(p), m, cfg.em_iterations))(pools,
                                                                                     models)
        out = {"eval": draw_all(u_eval, models, pools, cfg.n_eval),
               "trace": trace_all(models, pools), "converged": jnp.stack(conv),
               "frechet": frechet, "pool_modes": pool_modes(pools)}
        return (models, pools), out

    keys = jax.random.split(k_gens, cfg.generations)
    (models, pools), outs = jax.lax.scan(step, (models, pools), keys)
    outs = jax.tree.map(lambda a, b: jnp.concatenate([a[None], b]), first, outs)
    return ProxyFinal(counts, owner, models, jax.vmap(pool.read)(pools)[0]), outs
