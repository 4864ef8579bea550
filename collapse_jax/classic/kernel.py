"""Recursive Gaussian refit without selection: replace, accumulate, subsample, real mixing.

One kernel, :func:`refit_kernel`, runs the classic self-consuming loop for one seed: fit
``N(mu_0, Sigma_0)`` to ``n`` real draws from the truth ``N(mu*, Sigma*)``, then each
generation draws fresh points from the current fit and refits, under

* ``replace`` / ``accumulate`` / ``accumulate-subsample``: the data pools of
  :mod:`collapse_jax.core.pool` (``n`` new points per generation);
* ``mix``: real-data mixing (Bertrand et al. 2024): the fit maximises
  ``(1/n) sum_real log p + lam (1/m) sum_synth log p`` over the *fixed* real set and ``m``
  fresh synthetic draws, i.e. ``mu = (1 - w) rbar + w ybar``,
  ``Sigma = (1 - w) S + w C + w (1 - w)(ybar - rbar)(ybar - rbar)^T`` with
  ``w = lam / (1 + lam)`` (``lam = inf``, ``w = 1``, is replace with ``m`` points; ``m = lam
  n`` is plain MLE on the union of ``n`` real and ``lam n`` synthetic points).

It complements :func:`collapse_jax.power_law.kernel.selection_kernel` (which also runs the first three
paradigms, with ``select=False``) with what the classic laws need per generation: the mean's
step, distances to the truth and to the real data, the closed-form W2 to the truth and the
fitted model's mass beyond the truth's 2- and 3-sigma quantiles. The estimator (divide by
``count`` or ``count - 1``) is an array parameter, so MLE and unbiased share one compile.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import ndtr

from collapse_jax.core import _random
from collapse_jax.core import pool as pools
from collapse_jax.core._types import Key, Matrix, Metrics, Silo, Vector
from collapse_jax.core._validate import (
    InvalidInput,
    check_choice,
    check_int,
    check_precision,
    sweep_shape,
)
from collapse_jax.core.gaussian import Moments, cholesky, moments, sqrtm_psd, w2_squared
from collapse_jax.core.metrics import logdet_psd
from collapse_jax.core.selection import active_weights
from collapse_jax.core.silos import Truth, draw_truth

PARADIGMS = pools.PARADIGMS + ("mix",)
TRUTHS = ("standard", "random")
ESTIMATORS = {"mle": 0.0, "unbiased": 1.0}
#: Largest ``generations * batch * dim`` whose normal draws are made before the scan.
PREDRAW_LIMIT = 2048
#: Tail levels (in standard deviations of the truth) of the ``tail{c}`` metrics.
TAIL_LEVELS = (2, 3)


class RefitConfig(NamedTuple):
    """Static structure of :func:`refit_kernel` (hashable); build it with :func:`refit_config`."""

    dim: int
    n_max: int
    m_max: int
    generations: int
    paradigm: str
    pool_size: int
    truth: str
    precision: str


class RefitParams(NamedTuple):
    """Array leaves; each may carry a leading sweep axis.

    ``n``: real points (and points per generation outside ``mix``). ``ddof``: 0 (MLE) or 1
    (unbiased). ``weight``: ``w = lam / (1 + lam)`` of the synthetic part (``mix``).
    ``m``: synthetic points per generation (``mix``).
    """

    n: jax.Array
    ddof: jax.Array
    weight: jax.Array
    m: jax.Array


class RefitFinal(NamedTuple):
    """Per-seed constants and the last fit: the truth, the real data's mean and MLE
    covariance, and the final mean and covariance."""

    truth: Truth
    real_mean: Vector
    real_cov: Matrix
    mean: Vector
    cov: Matrix


def refit_config(*, dim: int = 1, n: int = 10, generations: int = 100,
                 paradigm: str = "replace", m: int | None = None, n_max: int | None = None,
                 m_max: int | None = None, pool_size: int | None = None,
                 truth: str = "standard", precision: str = "float64") -> RefitConfig:
    """Validated :class:`RefitConfig`.

    ``n_max`` / ``m_max`` size the buffers when a sweep varies ``n`` / ``m`` (defaults ``n``
    and ``m``; ``m`` defaults to ``n``). ``pool_size`` (accumulate-subsample) defaults to
    ``n_max``. ``generations`` counts refits after the fit on real data.
    """
    fn = "refit_config"
    dim = check_int(fn, "dim", dim, 1, 64)
    n = check_int(fn, "n", n, dim + 1)
    n_max = check_int(fn, "n_max", n if n_max is None else n_max, n)
    m = check_int(fn, "m", n if m is None else m, dim + 1)
    m_max = check_int(fn, "m_max", m if m_max is None else m_max, m)
    generations = check_int(fn, "generations", generations, 1, 10**6)
    check_choice(fn, "paradigm", paradigm, PARADIGMS)
    check_choice(fn, "truth", truth, TRUTHS)
    check_precision(fn, precision)
    pool_size = check_int(fn, "pool_size", n_max if pool_size is None else pool_size, dim + 1)
    if paradigm != "mix":
        m_max = 1  # no synthetic buffer beyond the n-point batch
    return RefitConfig(dim, n_max, m_max, generations, paradigm, pool_size, truth, precision)


def refit_params(cfg: RefitConfig, *, n=None, estimator="mle", lam=0.0, m=None) -> RefitParams:
    """Validated :class:`RefitParams`.

    ``estimator``: ``'mle'``, ``'unbiased'`` or a list of them; ``lam`` in ``[0, inf]``
    (``float('inf')`` allowed). Scalars give one point, 1-D sequences (broadcast against each
    other) a sweep for :func:`collapse_jax.engine.batch.run_sweep`.
    """
    fn = "refit_params"
    ests = np.atleast_1d(np.asarray(estimator, dtype=object))
    for e in ests:
        check_choice(fn, "estimator", e, tuple(ESTIMATORS))
    ddof = np.array([ESTIMATORS[e] for e in ests]).reshape(np.shape(estimator))
    lams = np.asarray(lam, dtype=float)
    for v in lams.ravel():
        if not v >= 0:
            raise InvalidInput(f"{fn}: lam={v} is out of range; allowed [0, inf]")
    weight = np.where(np.isinf(lams), 1.0, lams / (1.0 + np.where(np.isinf(lams), 0.0, lams)))
    raw = {"n": cfg.n_max if n is None else n, "ddof": ddof, "weight": weight,
           "m": (cfg.m_max if cfg.paradigm == "mix" else 1) if m is None else m}
    arrays = {k: np.asarray(v, dtype=float) for k, v in raw.items()}
    shape = sweep_shape(fn, arrays)
    for v in arrays["n"].ravel():
        if v != int(v):
            raise InvalidInput(f"{fn}: n={v} must be an integer")
        check_int(fn, "n", int(v), cfg.dim + 1, cfg.n_max)
    if cfg.paradigm == "mix":
        for v in arrays["m"].ravel():
            if v != int(v):
                raise InvalidInput(f"{fn}: m={v} must be an integer")
            check_int(fn, "m", int(v), cfg.dim + 1, cfg.m_max)
        if np.any(arrays["ddof"] != 0):
            raise InvalidInput(f"{fn}: estimator='unbiased' is not defined for paradigm='mix'; "
                             "allowed 'mle'")
    dtype = jnp.float64 if cfg.precision == "float64" else jnp.float32
    return RefitParams(*(jnp.asarray(np.broadcast_to(arrays[k], shape), dtype)
                         for k in ("n", "ddof", "weight", "m")))


def _cov(m: Moments, ddof) -> Matrix:
    return m.scatter / (m.count - ddof)


def _mix_fit(real: Moments, synth: Moments, w, ddof):
    """Weighted MLE of ``(1 - w) mean_real log p + w mean_synth log p`` over Gaussians."""
    mean = (1.0 - w) * real.mean + w * synth.mean
    delta = synth.mean - real.mean
    cov = ((1.0 - w) * _cov(real, ddof) + w * _cov(synth, ddof)
           + (w * (1.0 - w)) * jnp.outer(delta, delta))
    return mean, cov


def _tail_mass(mean, cov, truth: Truth, sd_true, c):
    """Marginal mass of ``N(mean, cov)`` beyond ``mu*_i +- c sigma*_i``, per coordinate."""
    s = jnp.sqrt(jnp.diag(cov))
    lo = (truth.mean - c * sd_true - mean) / s
    hi = (mean - truth.mean - c * sd_true) / s
    return ndtr(lo) + ndtr(hi)


def refit_kernel(key: Key, params: RefitParams, cfg: RefitConfig, silo: Silo = 0) -> tuple[Any, Metrics]:
    """Recursive Gaussian refit without selection, one seed (and one silo stream).

    Row 0 of every metric is the fit to ``n`` real draws from the truth; row ``r`` is the
    model after ``r`` refits on synthetic data (so it is fit number ``r + 1`` counting the
    first). Returns ``(RefitFinal, metrics)``, ``metrics`` mapping to arrays of leading size
    ``generations + 1``:

    * ``trace``, ``logdet``: ``Tr Sigma_r``, ``log det Sigma_r``;
    * ``dist_truth``, ``dist_real``: ``||mu_r - mu*||^2``, ``||mu_r - rbar||^2``;
    * ``step_sq``: ``||mu_r - mu_{r-1}||^2`` (row 0: ``||mu_0 - mu*||^2``);
    * ``w2_truth``: ``W2^2(N_r, N(mu*, Sigma*))``; ``w2_marginal``: the mean over
      coordinates of ``[(mu_i - mu*_i)^2 + (s_i - s*_i)^2] / Sigma*_ii``;
    * ``tail2``, ``tail3``: the mean over coordinates of the marginal mass beyond
      ``mu*_i +- c sigma*_i``; ``tail2_coord0``, ``tail3_coord0``: the same for coordinate 0
      alone (every coordinate marginal follows the one-dimensional chain exactly, but a mean
      over coordinates is dominated by the coordinate with the heaviest tail, so per-seed
      typical-run statements use one coordinate).
    """
    dtype = jnp.float64 if cfg.precision == "float64" else jnp.float32
    k_truth, k_silos = jax.random.split(key)
    truth = draw_truth(k_truth, cfg.dim, cfg.truth, dtype)
    k_draw, k_upd = jax.random.split(jax.random.fold_in(k_silos, silo))
    mix = cfg.paradigm == "mix"
    batch_size, batch_count = (cfg.m_max, params.m) if mix else (cfg.n_max, params.n)
    # All normal draws in one call when they fit the budget (every threefry call site costs
    # about a second of compile time on CPU, one inside the scan body several), else one
    # call per generation.
    n_real = cfg.n_max * cfg.dim
    predraw = cfg.generations * batch_size * cfg.dim <= PREDRAW_LIMIT
    if predraw:
        flat = _random.normal(k_draw, (n_real + cfg.generations * batch_size * cfg.dim,), dtype)
        real_z = flat[:n_real].reshape(cfg.n_max, cfg.dim)
        draws = flat[n_real:].reshape(cfg.generations, batch_size, cfg.dim)
    else:
        keys = jax.random.split(k_draw, cfg.generations + 1)
        real_z = _random.normal(keys[0], (cfg.n_max, cfg.dim), dtype)
        draws = keys[1:]
    # Real-data mixing refits on the fixed real set, not on a pool.
    pool = None if mix else pools.pool_for(cfg.paradigm, size=cfg.pool_size, fn="refit_kernel")
    subsample = pool is not None and pool.stochastic
    upd_keys = jax.random.split(k_upd, cfg.generations + 1) if subsample else None
    chol_true = cholesky(truth.cov)
    truth_sqrt = sqrtm_psd(truth.cov)
    sd_true = jnp.sqrt(jnp.diag(truth.cov))
    real = truth.mean + real_z @ chol_true.T
    w_real = active_weights(cfg.n_max, params.n, dtype)
    real_m = moments(real, w_real)
    if mix:
        state = real_m
        mean0, cov0 = real_m.mean, _cov(real_m, params.ddof)
    else:
        k_init = upd_keys[0] if subsample else None
        state = pool.init(pools.Rows(real, w_real), k_init)
        pooled = pool.read(state)
        mean0, cov0 = pooled.mean, _cov(pooled, params.ddof)
    w_batch = active_weights(batch_size, batch_count, dtype)

    def fit_metrics(mean, cov, prev_mean):
        s = jnp.sqrt(jnp.diag(cov))
        out = {
            "trace": jnp.trace(cov),
            "logdet": logdet_psd(cov),
            "dist_truth": jnp.sum((mean - truth.mean) ** 2),
            "dist_real": jnp.sum((mean - real_m.mean) ** 2),
            "step_sq": jnp.sum((mean - prev_mean) ** 2),
            "w2_truth": w2_squared(mean, cov, truth.mean, truth.cov, truth_sqrt),
            "w2_marginal": jnp.mean(((mean - truth.mean) ** 2 + (s - sd_true) ** 2)
                                    / jnp.diag(truth.cov)),
        }
        for c in TAIL_LEVELS:
            tail = _tail_mass(mean, cov, truth, sd_true, c)
            out[f"tail{c}"] = jnp.mean(tail)
            out[f"tail{c}_coord0"] = tail[0]
        return out

    def step(carry, xs):
        state, mean, cov = carry
        draw, k = xs
        z = draw if predraw else _random.normal(draw, (batch_size, cfg.dim), dtype)
        x = mean + z @ cholesky(cov).T
        batch = moments(x, w_batch)
        if mix:
            new_mean, new_cov = _mix_fit(real_m, batch, params.weight, params.ddof)
        else:
            state = pool.update(state, pools.Rows(x, w_batch, moments=batch), k)
            pooled = pool.read(state)
            new_mean, new_cov = pooled.mean, _cov(pooled, params.ddof)
        return (state, new_mean, new_cov), fit_metrics(new_mean, new_cov, mean)

    xs = (draws, upd_keys[1:] if subsample else None)
    (_, mean, cov), metrics = jax.lax.scan(step, (state, mean0, cov0), xs)
    first = fit_metrics(mean0, cov0, truth.mean)
    metrics = jax.tree.map(lambda a, b: jnp.concatenate([a[None], b]), first, metrics)
    real_cov = real_m.scatter / real_m.count
    return RefitFinal(truth, real_m.mean, real_cov, mean, cov), metrics


def lam_label(lam: float) -> str:
    """``'inf'`` or a compact number, for setting names such as ``mix:lam=4``."""
    return "inf" if math.isinf(lam) else f"{lam:g}"
