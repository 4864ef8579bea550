"""Qiao et al.'s Gaussian-mixture families: two components refit by warm-started EM, with
top-alpha selection toward the Gaussian preset's reference.

``subexperiments/NonGaussian_Modeling/non_gaussian_experiment.py`` (XinbaoQiao/When-Sample-
Selection-Bias-Precipitates-Model-Collapse), read point by point: from the Gaussian preset's
truth ``(mu*, Sigma*)``, a random unit direction ``v`` (one per family), components
``N(mu* + 0.9 v, 0.7 Sigma* + 1e-6 I)`` and ``N(mu* - 0.9 v, 0.9 Sigma* + 1e-6 I)`` with
weights ``(0.5, 0.5)`` (``gmm``) or ``(0.8, 0.2)`` (``unequal-gmm``: the minority is the
second); generation 0 = that truth with an empty pool; each generation draws ``N = n / alpha``
candidates (``n`` without selection) from the current mixture, keeps the ``n`` nearest ``u*``
under ``(0.3 Sigma*)^{-1}``, and refits by EM warm-started from the previous mixture on the
generation's kept points (replace) or on every kept point so far (accumulate, a zero-weight
padded pool): scikit-learn's loop (``GaussianMixture(reg_covar=1e-6, max_iter=100,
tol=1e-3)`` with ``weights_init``, ``means_init``, ``precisions_init``): E-step, M-step, stop
when the mean log-likelihood of the E-step changes by less than ``tol``.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from collapse_jax.core import mixture as mx
from collapse_jax.core._validate import check_choice, check_float, check_int
from collapse_jax.core.pool import Rows, growth_stages, reservoir, staged_scan
from collapse_jax.core.selection import mahalanobis_sq, threshold_n
from collapse_jax.power_law.kernel import seed_setting, selection_config, selection_precision

FAMILIES = {"gmm": (0.5, 0.5), "unequal-gmm": (0.8, 0.2)}
PARADIGMS = ("replace", "accumulate")
SHIFT, COV_SCALES, REG, TOL, MAX_ITER = 0.9, (0.7, 0.9), 1e-6, 1e-3, 100


class MixtureConfig(NamedTuple):
    sel: object  # kernel.SelectionConfig (truth, reference rule, sizes)
    family: str
    paradigm: str
    select: bool
    n: int
    candidates: int
    stages: int  # accumulate's pool grows in this many steps (core.pool.staged_scan)
    groups: int = 1  # candidate sets per generation (> 1: the deterministic equivalent)
    pool: int = 0  # accumulate: 0 = every kept point (the authors'), else a reservoir this big


def mixture_config(*, family: str, n: int, alpha: float, generations: int, paradigm: str,
                   select: bool, dim: int = 10, stages: int = 4,
                   groups: int = 1, pool: int = 0) -> MixtureConfig:
    """Validated :class:`MixtureConfig` in Qiao et al.'s setting. ``groups``: independent
    candidate sets per generation, all kept points refit together, on a random stream of their
    own when above 1 (the deterministic equivalent, as
    :func:`collapse_jax.power_law.product_laplace.laplace_config`'s). ``pool``: what
    accumulate refits on: 0 (the authors' rule) every kept point so far; a size
    ``>= n groups`` a uniform random subset of that many of them, kept by reservoir sampling
    (:func:`collapse_jax.core.pool.reservoir`, the accumulate-subsample pool: EM then costs
    ``pool`` points per step instead of up to ``generations n``); ignored by replace."""
    fn = "mixture_config"
    groups = check_int(fn, "groups", groups, 1, 64)
    n = check_int(fn, "n", n, 2, 10**5)
    pool = int(pool)
    if pool != 0:
        pool = check_int(fn, "pool", pool, n * groups, 10**6)
    stages = check_int(fn, "stages", stages, 1, 64)
    check_choice(fn, "family", family, tuple(FAMILIES))
    check_choice(fn, "paradigm", paradigm, PARADIGMS)
    dim = check_int(fn, "dim", dim, 1, 64)
    generations = check_int(fn, "generations", generations, 2, 10**4)
    alpha = check_float(fn, "alpha", alpha, 0.0, 1.0, lo_open=True)
    sel = selection_config(dim=dim, n=n, alpha=alpha, generations=generations, metric="fixed",
                           truth="random", reference="gaussian", start="truth",
                           outputs="light")
    return MixtureConfig(sel, family, paradigm, bool(select), n,
                         int(n / alpha) if select else n, stages, groups,
                         pool if paradigm == "accumulate" else 0)


def true_mixture(key, truth, family: str) -> mx.Mixture:
    """The family's generation-0 mixture around the truth ``(mu*, Sigma*)``."""
    d = truth.mean.shape[0]
    v = jax.random.normal(key, (d,), truth.mean.dtype)
    v = v / (jnp.linalg.norm(v) + 1e-12)
    eye = jnp.eye(d, dtype=truth.mean.dtype)
    means = jnp.stack([truth.mean + SHIFT * v, truth.mean - SHIFT * v])
    covs = jnp.stack([c * truth.cov + REG * eye for c in COV_SCALES])
    return mx.Mixture(jnp.asarray(FAMILIES[family], truth.mean.dtype), means, covs)


def em_refit(x, w, init: mx.Mixture) -> tuple[mx.Mixture, jax.Array]:
    """scikit-learn's warm-started EM loop: E-step and M-step until the E-step's mean
    log-likelihood changes by less than ``TOL`` (or ``MAX_ITER`` steps). Returns the fit and
    the number of steps."""
    def cond(state):
        _, _, i, done = state
        return (i < MAX_ITER) & ~done

    def body(state):
        mix, prev, i, _ = state
        new, ll = mx.em_step(x, w, mix, REG)
        return new, ll, i + 1, jnp.abs(ll - prev) < TOL

    mix, _, steps, _ = jax.lax.while_loop(
        cond, body, (init, jnp.asarray(-jnp.inf, x.dtype), 0, jnp.asarray(False)))
    return mix, steps


def mixture_kernel(key, params, cfg: MixtureConfig, silo=0):
    """One seed (module docstring). Returns ``(None, metrics)``: ``ratio`` (``Tr Cov_t /
    Tr Cov_0`` of the mixture), ``min_weight``, ``entropy`` (weights clipped at ``1e-12``,
    normalised by ``log K``) and ``em_steps``, each ``(generations + 1,)``."""
    sel = cfg.sel
    dtype = jnp.float64
    truth, reference, (k_dir, _, k_gens) = seed_setting(key, params, sel, dtype, silo)
    precision = selection_precision("fixed", params.fixed_scale, truth)
    mix0 = true_mixture(k_dir, truth, cfg.family)
    tr0 = jnp.trace(mx.moments_of(mix0)[1])
    d, n, gens, g = sel.dim, cfg.n, sel.generations, cfg.groups
    kept = g * n  # points refit per generation
    accumulate = cfg.paradigm == "accumulate"
    bounded = accumulate and cfg.pool > 0
    subsample = reservoir(cfg.pool) if bounded else None

    def metrics(mix, steps):
        w = jnp.clip(mix.weights, 1e-12, 1.0)
        return {"ratio": jnp.trace(mx.moments_of(mix)[1]) / tr0,
                "min_weight": jnp.min(mix.weights),
                "entropy": -jnp.sum(w * jnp.log(w)) / jnp.log(float(w.shape[0])),
                "em_steps": jnp.asarray(steps, dtype)}

    def step(carry, xs):
        mix, pool, wts = carry
        k, t = xs
        x, _ = mx.sample(k, mix, g * cfg.candidates)
        if cfg.select:
            x = jax.vmap(lambda xg: xg[threshold_n(mahalanobis_sq(xg, reference, precision),
                                                   n, n, cfg.candidates)[0]])(
                x.reshape(g, cfg.candidates, d)).reshape(kept, d)
        if bounded:
            # the reservoir's arrival draws come from a stream of their own, so the candidates
            # are those of the full pool's run with the same key
            pool = subsample.update(pool, Rows(x), jax.random.fold_in(k, 1))
            live = subsample.read(pool)
            fit, steps = em_refit(live.points, live.weights, mix)
        elif accumulate:
            start = ((t - 1) * kept).astype(jnp.int32)
            pool = jax.lax.dynamic_update_slice(pool, x, (start, jnp.int32(0)))
            wts = jax.lax.dynamic_update_slice(wts, jnp.ones(kept, dtype), (start,))
            fit, steps = em_refit(pool, wts, mix)
        else:
            fit, steps = em_refit(x, jnp.ones(kept, dtype), mix)
        return (fit, pool, wts), metrics(fit, steps)

    def grow(carry, hi):
        # stage (lo, hi] holds hi n rows (zero weight past t n): EM never scans beyond them
        fit, pool, wts = carry
        extra = (hi * kept if accumulate else 0) - pool.shape[0]
        return fit, jnp.pad(pool, ((0, extra), (0, 0))), jnp.pad(wts, (0, extra))

    keys = jax.random.split(k_gens if g == 1 else jax.random.fold_in(k_gens, 0xE0), gens)
    ts = jnp.arange(1, gens + 1, dtype=dtype)
    if bounded:
        carry = (mix0, subsample.empty(Rows(jnp.zeros((kept, d), dtype))), None)
        _, out = jax.lax.scan(step, carry, (keys, ts))
    else:
        carry = (mix0, jnp.zeros((0, d), dtype), jnp.zeros(0, dtype))
        stages = growth_stages(gens, cfg.stages) if accumulate else [(0, gens)]
        _, out = staged_scan(step, carry, (keys, ts), stages, grow)
    first = metrics(mix0, 0)
    return None, jax.tree.map(lambda a, b: jnp.concatenate([a[None], b]), first, out)
