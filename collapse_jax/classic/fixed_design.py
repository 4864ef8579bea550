"""Fixed-design OLS retrained on its own labels (Gerstgrasser et al. 2024; Dohmatob et al.
2024; theory.md 3.2-3.3).

One seed draws a design ``X`` (``T x d``, rows ``N(0, I_d)``) and a truth ``w* ~ N(0, I_d)``.
Fit 1 is OLS on real labels ``y_1 = X w* + sigma eps_1``; fit ``i + 1`` is OLS on labels
``y_{i+1} = X w_i + sigma eps_{i+1}`` made by the previous fit, with the *same* ``X``. The
error is ``||w_i - w*||^2`` (the test error ``E ||w - w*||^2_Sigma`` with ``Sigma = I``).

* ``replace``: fit ``i`` uses only ``(X, y_i)``.
* ``accumulate``: fit ``i`` uses all ``(X, y_1), ..., (X, y_i)``; with one design this is OLS
  on the average label vector, kept as a running sum (O(T) memory).
* ``accumulate-subsample``: fit ``i`` uses a uniform random subset of ``pool_size`` rows of
  everything so far, kept by reservoir sampling (:func:`collapse_jax.core.pool.reservoir`:
  the law of the bottom-k pool, without its sort).

:func:`ols_kernel` runs any subset of the three in one scan with common random numbers
(one design, one truth, one noise sequence per fit), so one compile serves all of them.

:func:`dohmatob_kernel` is the "model trained on generation-n data" experiment.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from collapse_jax.core import _random, linalg
from collapse_jax.core import pool as pools
from collapse_jax.core._types import Key, Metrics, Silo
from collapse_jax.core._validate import (
    InvalidInput,
    check_choice,
    check_float,
    check_int,
    check_precision,
)

PARADIGMS = pools.PARADIGMS


class LabelSum(NamedTuple):
    """Sufficient statistic of label vectors on one fixed design: their sum and number
    (OLS on every ``(X, y_j)`` is OLS on ``(X, total / count)``)."""

    total: jax.Array
    count: jax.Array


def _label_sum(rows: pools.Rows) -> LabelSum:
    """One label vector (the last column of the ``(x, y)`` rows) as a :class:`LabelSum`."""
    y = rows.points[:, -1]
    return LabelSum(y, jnp.asarray(1.0, y.dtype))


def _add(a: LabelSum, b: LabelSum) -> LabelSum:
    return LabelSum(a.total + b.total, a.count + b.count)


def _pools(pool_size: int):
    """Each paradigm's pool of ``(x, y)`` rows on the fixed design."""
    return {"replace": lambda: pools.replace(_label_sum),
            "accumulate": lambda: pools.accumulate(_add, _label_sum),
            "accumulate-subsample": lambda: pools.reservoir(pool_size)}


class OLSConfig(NamedTuple):
    """Static structure (hashable); build it with :func:`ols_config`.

    ``generations`` counts refits on synthetic labels after the first fit, so every metric
    has ``generations + 1`` rows, row ``r`` being fit number ``n = r + 1``.
    """

    dim: int
    T: int
    T0: int
    generations: int
    paradigms: tuple[str, ...]
    pool_size: int
    precision: str


class OLSParams(NamedTuple):
    """Array leaves: label noise ``noise`` (``sigma``) and, for :func:`dohmatob_kernel`,
    ``noise0`` (``sigma_0``) of the chain that makes the labels."""

    noise: jax.Array
    noise0: jax.Array


def ols_config(*, dim: int = 10, T: int = 40, generations: int = 19,
               paradigms: str | tuple[str, ...] = PARADIGMS, T0: int | None = None,
               pool_size: int | None = None, precision: str = "float64") -> OLSConfig:
    """Validated :class:`OLSConfig` (``T0`` defaults to ``T``, ``pool_size`` to ``T``).

    ``paradigms``: one name or a tuple of names from :data:`PARADIGMS`. ``T >= d + 2`` keeps
    ``E tr (X^T X)^{-1} = d / (T - d - 1)`` finite.
    """
    fn = "ols_config"
    dim = check_int(fn, "dim", dim, 1, 1024)
    T = check_int(fn, "T", T, dim + 2)
    T0 = check_int(fn, "T0", T if T0 is None else T0, dim + 2)
    generations = check_int(fn, "generations", generations, 0, 10**6)
    paradigms = (paradigms,) if isinstance(paradigms, str) else tuple(paradigms)
    if not paradigms:
        raise InvalidInput(f"{fn}: paradigms=() is empty; allowed a non-empty subset of "
                         + ", ".join(PARADIGMS))
    for par in paradigms:
        check_choice(fn, "paradigm", par, PARADIGMS)
    pool_size = check_int(fn, "pool_size", T if pool_size is None else pool_size, dim + 2, T)
    check_precision(fn, precision)
    return OLSConfig(dim, T, T0, generations, paradigms, pool_size, precision)


def ols_params(cfg: OLSConfig, *, noise=1.0, noise0=1.0) -> OLSParams:
    """Validated :class:`OLSParams`; scalars or 1-D sweeps (broadcast)."""
    fn = "ols_params"
    arrays = {"noise": np.asarray(noise, dtype=float), "noise0": np.asarray(noise0, dtype=float)}
    for k, v in arrays.items():
        for x in v.ravel():
            check_float(fn, k, x, 0.0)
    try:
        shape = np.broadcast_shapes(*(a.shape for a in arrays.values()))
    except ValueError:
        raise InvalidInput(f"{fn}: parameter shapes {[a.shape for a in arrays.values()]} do "
                         "not broadcast") from None
    if len(shape) > 1:
        raise InvalidInput(f"{fn}: parameters must be scalars or 1-D sweeps, got shape {shape}")
    dtype = jnp.float64 if cfg.precision == "float64" else jnp.float32
    return OLSParams(*(jnp.asarray(np.broadcast_to(arrays[k], shape), dtype)
                       for k in ("noise", "noise0")))


def spd_solve(a, b):
    """Solve ``a z = b`` for a symmetric positive definite ``a`` (``d x d``): the toolkit's
    pure-JAX Cholesky solve (:func:`collapse_jax.core.linalg.spd_solve`, no LAPACK custom call
    under ``vmap``)."""
    return linalg.spd_solve(a, b)


def _refit_solve(a, b):
    """The accumulate-subsample refit's solve, one per generation: written out entry by
    entry up to ``d = linalg.UNROLL_MAX`` (:func:`collapse_jax.core.linalg.spd_solve_unrolled`,
    which XLA fuses under ``vmap``), :func:`spd_solve` beyond."""
    if a.shape[-1] <= linalg.UNROLL_MAX:
        return linalg.spd_solve_unrolled(a, b)
    return spd_solve(a, b)


def _ols_operator(x):
    """OLS operator ``P = (X^T X)^{-1} X^T`` (``d x T``), computed once per design so that
    every refit on the fixed design is one matrix-vector product."""
    return spd_solve(x.T @ x, x.T)


def ols_kernel(key: Key, params: OLSParams, cfg: OLSConfig, silo: Silo = 0) -> tuple[Any, Metrics]:
    """OLS retrained on its own labels under each of ``cfg.paradigms``, one seed.

    Returns ``(w_final, errors)``: ``w_final`` maps each paradigm to its last fit and
    ``errors`` maps it to ``||w_n - w*||^2`` with ``generations + 1`` rows (row ``r`` is fit
    ``n = r + 1``). Every paradigm sees the same design, ``w*`` and noise vector ``eps_n``
    at fit ``n`` (common random numbers). All randomness is drawn up front (one call per
    stream: threefry call sites dominate compile time on CPU).
    """
    dtype = jnp.float64 if cfg.precision == "float64" else jnp.float32
    d, T, G = cfg.dim, cfg.T, cfg.generations
    k_draw, k_pool = jax.random.split(jax.random.fold_in(key, silo))
    flat = _random.normal(k_draw, ((T + 1) * d + (G + 1) * T,), dtype)
    x = flat[:T * d].reshape(T, d)
    w_star = flat[T * d:(T + 1) * d]
    proj = _ols_operator(x)
    eps = params.noise * flat[(T + 1) * d:].reshape(G + 1, T)
    subsample = "accumulate-subsample" in cfg.paradigms
    prio = _random.uniform(k_pool, (G + 1, T), dtype) if subsample else None

    def fit(pooled):
        if isinstance(pooled, LabelSum):  # every label vector so far, on the one design
            return proj @ (pooled.total / pooled.count)
        # A uniform subset of the rows so far (weight 0: an empty slot).
        live = pooled.weights
        xp, yp = pooled.points[:, :-1] * live[:, None], pooled.points[:, -1] * live
        return _refit_solve(xp.T @ xp, xp.T @ yp)

    by_name = {par: pools.pool_for(par, pools=_pools(cfg.pool_size), fn="ols_kernel")
               for par in cfg.paradigms}

    def step(carry, xs):
        eps_i, prio_i = xs
        new, errs = {}, {}
        for par, (state, w) in carry.items():
            rows = pools.Rows(jnp.concatenate([x, (x @ w + eps_i)[:, None]], axis=1),
                              priority=prio_i)
            state = by_name[par].update(state, rows)
            new[par] = (state, fit(by_name[par].read(state)))
            errs[par] = jnp.sum((new[par][1] - w_star) ** 2)
        return new, errs

    # Every pool starts empty: fit 1, on the real labels X w* + eps_0, is the first step of
    # the same scan.
    like = pools.Rows(jnp.zeros((T, d + 1), dtype))
    carry0 = {par: (pool.empty(like), w_star) for par, pool in by_name.items()}
    final, errors = jax.lax.scan(step, carry0, (eps, prio))
    return {par: w for par, (_, w) in final.items()}, errors


def dohmatob_kernel(key: Key, params: OLSParams, cfg: OLSConfig, silo: Silo = 0) -> tuple[Any, Metrics]:
    """Test error of a model trained on generation-``n`` data (Dohmatob, Feng, Kempe 2024).

    A chain of replace refits on a fixed ``T0 x d`` design with label noise ``noise0``
    starts from ``w_0 = w*`` (generation 0 is the truth). For every generation ``n = 0 ..
    generations`` a final OLS is fitted on a fresh ``T x d`` design (drawn once per seed)
    with labels ``X w_n + noise eps``; row ``n`` of ``error`` is its ``||w - w*||^2``.
    """
    dtype = jnp.float64 if cfg.precision == "float64" else jnp.float32
    d, T, T0, G = cfg.dim, cfg.T, cfg.T0, cfg.generations
    flat = _random.normal(jax.random.fold_in(key, silo),
                          ((T0 + T + 1) * d + (G + 1) * (T0 + T),), dtype)
    setup = flat[:(T0 + T + 1) * d].reshape(T0 + T + 1, d)
    x0, x, w_star = setup[:T0], setup[T0:T0 + T], setup[T0 + T]
    proj0, proj = _ols_operator(x0), _ols_operator(x)
    eps = flat[(T0 + T + 1) * d:].reshape(G + 1, T0 + T)
    chain_eps = params.noise0 * eps[:, :T0]  # row 0 unused: generation 0 is w*
    final_eps = params.noise * eps[:, T0:]

    def step(w, xs):
        gen, e0, e = xs
        w = jnp.where(gen > 0, proj0 @ (x0 @ w + e0), w)
        return w, jnp.sum((proj @ (x @ w + e) - w_star) ** 2)

    w, errs = jax.lax.scan(step, w_star, (jnp.arange(G + 1), chain_eps, final_eps))
    return w, {"error": errs}
