"""Recursion kernels: one seed, one silo, a ``lax.scan`` over generations.

A kernel is a pure function ``kernel(key, params, cfg, silo) -> (final, metrics)``; ``cfg``
is static structure (sizes, method names), ``params`` are array leaves that can be vmapped
for sweeps, and every array in ``metrics`` has a leading ``(generations + 1,)`` axis whose
row 0 is the model fitted to the real data. Seeds, silos and sweeps are added by
:mod:`collapse_jax.engine.batch`.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from collapse_jax.core import _random, linalg
from collapse_jax.core import pool as pools
from collapse_jax.core._types import Key, Matrix, Metrics, Silo, Vector
from collapse_jax.core._validate import (
    InvalidInput,
    check_choice,
    check_float,
    check_int,
    check_precision,
    sweep_shape,
)
from collapse_jax.core.gaussian import Moments, cholesky, covariance, moments, sqrtm_psd
from collapse_jax.core.metrics import dissipation, gaussian_fit_metrics, min_eigenvalue
from collapse_jax.core.selection import (
    active_weights,
    mahalanobis_sq,
    order_stat_window,
    threshold_n,
    top_n,
    window_mass,
)
from collapse_jax.core.silos import Truth, biased_reference, draw_truth

METRICS = ("current-fit", "fixed", "euclidean")
TRUTHS = ("standard", "random")
SAMPLERS = ("auto", "order-stat", "sort", "threshold")
#: generator families: the Gaussian, and the symmetric multivariate Laplace
#: ``x = mean + L sqrt(W) g`` (``W ~ Exp(1)``, ``g ~ N(0, I)``: covariance ``L L^T``, heavier
#: tails, kurtosis 6 per coordinate), both refit by their moments (mean and covariance)
FAMILIES = ("gaussian", "laplace")
#: Generation 0: a fit of ``n`` real draws (``real``), or the truth itself (``truth``: the
#: accumulate pool starts empty, as in Qiao et al.'s script).
STARTS = ("real", "truth")
#: The silo reference rule (:func:`collapse_jax.core.silos.biased_reference`).
REFERENCES = ("scaled", "gaussian")
ESTIMATORS = ("mle", "unbiased")
#: Per-generation outputs: ``full`` (every metric of :func:`selection_kernel`) or ``light``
#: (``trace``, ``dist_ref``, ``dist_truth``, ``psi_trace``, ``kept_fraction``: no matrix
#: function of the fit, which in ten dimensions costs as much as the draws).
OUTPUTS = ("full", "light")


class SelectionConfig(NamedTuple):
    """Static structure of the Gaussian top-alpha selection loop (hashable).

    Build it with :func:`selection_config`, which validates and fills derived sizes.
    """

    dim: int
    n_max: int
    candidates_max: int
    generations: int
    paradigm: str
    metric: str
    select: bool
    estimator: str
    pool_size: int
    truth: str
    sampler: str
    precision: str
    sample_precision: str
    start: str = "real"
    reference: str = "scaled"
    outputs: str = "full"
    family: str = "gaussian"


class SelectionParams(NamedTuple):
    """Array leaves of the loop; any of them can carry a leading sweep axis.

    ``alpha``: kept fraction (``N = round(n / alpha)`` candidates). ``n``: points kept per
    generation (and size of the real set), at most ``cfg.n_max``. ``offset``: silo bias of the
    reference in standard deviations of the truth. ``fixed_scale``: ``c`` in the ``fixed``
    metric, whose precision is ``(c Sigma*)^{-1}``. ``ridge``: added to the diagonal of every
    fitted covariance (Qiao et al.'s script adds ``1e-6``).
    """

    alpha: jax.Array
    n: jax.Array
    offset: jax.Array
    fixed_scale: jax.Array
    ridge: jax.Array


class SelectionFinal(NamedTuple):
    """What a run leaves besides its per-generation metrics."""

    truth: Truth
    reference: Vector
    mean0: Vector
    cov0: Matrix
    mean: Vector
    cov: Matrix


def selection_config(
    *,
    dim: int = 1,
    n: int = 200,
    alpha: float = 0.25,
    generations: int = 200,
    paradigm: str = "accumulate",
    metric: str = "current-fit",
    select: bool = True,
    estimator: str = "mle",
    pool_size: int | None = None,
    truth: str = "standard",
    sampler: str = "auto",
    precision: str = "float64",
    sample_precision: str | None = None,
    n_max: int | None = None,
    alpha_min: float | None = None,
    start: str = "real",
    reference: str = "scaled",
    outputs: str = "full",
    family: str = "gaussian",
) -> SelectionConfig:
    """Validated :class:`SelectionConfig`.

    ``n_max`` / ``alpha_min`` size the arrays when a sweep varies ``n`` / ``alpha`` (defaults:
    ``n`` and ``alpha``). ``sampler='auto'`` uses the exact order-statistics sampler in one
    dimension and sorting otherwise. ``sampler='threshold'`` (any dimension, float32 draws):
    as many candidates as ``sort``, drawn in the eigenframe of the score
    (:class:`ScoreFrame`) with :func:`collapse_jax.core._random.normal_f32`, scored in float32
    (``sort`` scores the data coordinates in the fit's precision) and kept by a bisection
    threshold (:func:`collapse_jax.core.selection.threshold_n`: the same rows as ``lax.top_k``
    for the same scores, without a sort); several times faster in ten dimensions, the same
    law, another stream. ``pool_size``
    (accumulate-subsample) defaults to ``n``.
    ``start``: :data:`STARTS`; ``reference``: :data:`REFERENCES`; ``outputs``: :data:`OUTPUTS`;
    ``family``: :data:`FAMILIES` (``laplace`` draws every candidate and real point as
    ``sqrt(W) g``; the order-statistics sampler is Gaussian, so ``auto`` sorts).
    """
    fn = "selection_config"
    dim = check_int(fn, "dim", dim, 1, 512)
    generations = check_int(fn, "generations", generations, 2, 10**6)
    n = check_int(fn, "n", n, dim + 1)
    n_max = check_int(fn, "n_max", n if n_max is None else n_max, n)
    alpha = check_float(fn, "alpha", alpha, 0.0, 1.0, lo_open=True)
    alpha_min = check_float(fn, "alpha_min", alpha if alpha_min is None else alpha_min,
                            0.0, alpha, lo_open=True)
    check_choice(fn, "paradigm", paradigm, pools.PARADIGMS)
    check_choice(fn, "metric", metric, METRICS)
    check_choice(fn, "estimator", estimator, ESTIMATORS)
    check_choice(fn, "truth", truth, TRUTHS)
    check_choice(fn, "sampler", sampler, SAMPLERS)
    check_choice(fn, "start", start, STARTS)
    check_choice(fn, "reference", reference, REFERENCES)
    check_choice(fn, "outputs", outputs, OUTPUTS)
    check_choice(fn, "family", family, FAMILIES)
    check_precision(fn, precision)
    sample_precision = precision if sample_precision is None else sample_precision
    check_precision(fn, sample_precision)
    pool_size = check_int(fn, "pool_size", n_max if pool_size is None else pool_size, dim + 1)
    if sampler == "auto":
        sampler = "order-stat" if dim == 1 and family == "gaussian" else "sort"
    if sampler == "order-stat" and dim != 1:
        raise InvalidInput(f"{fn}: sampler='order-stat' needs dim=1 (got dim={dim}); use 'sort'")
    if sampler == "order-stat" and family != "gaussian":
        raise InvalidInput(f"{fn}: sampler='order-stat' draws Gaussian order statistics (got "
                           f"family={family!r}); use 'sort' or 'threshold'")
    if sampler == "threshold" and sample_precision != "float32":
        raise InvalidInput(f"{fn}: sampler='threshold' needs sample_precision='float32' (got "
                           f"{sample_precision!r}): it bisects over 32-bit scores")
    drawn = sampler in ("sort", "threshold")
    candidates_max = int(round(n_max / alpha_min)) if drawn and select else n_max
    # lax.top_k ranks the candidates with int32 indices: N = round(n_max / alpha_min) must fit.
    if candidates_max > 2**31 - 1:
        raise InvalidInput(f"{fn}: round(n_max / alpha_min) = {candidates_max} candidates "
                           f"(n_max={n_max}, alpha_min={alpha_min:g}) is out of range; allowed "
                           "<= 2**31 - 1 (lax.top_k indexes in int32)")
    return SelectionConfig(dim, n_max, candidates_max, generations, paradigm, metric,
                           bool(select), estimator, pool_size, truth, sampler, precision,
                           sample_precision, start, reference, outputs, family)


def selection_params(cfg: SelectionConfig, *, alpha=0.25, n=None, offset=0.0, fixed_scale=1.0,
                     ridge=0.0):
    """Validated :class:`SelectionParams`.

    Scalars give one point; 1-D arrays (broadcast against each other) give a sweep whose
    points :func:`collapse_jax.engine.batch.run_sweep` runs under one compile.
    """
    fn = "selection_params"
    raw = {"alpha": alpha, "n": cfg.n_max if n is None else n, "offset": offset,
           "fixed_scale": fixed_scale, "ridge": ridge}
    arrays = {k: np.asarray(v, dtype=float) for k, v in raw.items()}
    shape = sweep_shape(fn, arrays)
    for v in arrays["alpha"].ravel():
        check_float(fn, "alpha", v, 0.0, 1.0, lo_open=True)
    for v in arrays["n"].ravel():
        if v != int(v):
            raise InvalidInput(f"{fn}: n={v} must be an integer")
        check_int(fn, "n", int(v), cfg.dim + 1, cfg.n_max)
    for v in arrays["offset"].ravel():
        check_float(fn, "offset", v, 0.0)
    for v in arrays["fixed_scale"].ravel():
        check_float(fn, "fixed_scale", v, 0.0, lo_open=True)
    for v in arrays["ridge"].ravel():
        check_float(fn, "ridge", v, 0.0)
    n_cand = np.round(arrays["n"] / arrays["alpha"])
    if cfg.select and cfg.sampler in ("sort", "threshold") and np.any(n_cand > cfg.candidates_max):
        raise InvalidInput(f"{fn}: round(n / alpha)={int(n_cand.max())} exceeds the candidate "
                         f"buffer {cfg.candidates_max} of the config; raise n_max or lower "
                         "alpha_min in selection_config")
    dtype = jnp.float64 if cfg.precision == "float64" else jnp.float32
    return SelectionParams(*(jnp.asarray(np.broadcast_to(arrays[k], shape), dtype)
                             for k in ("alpha", "n", "offset", "fixed_scale", "ridge")))


def _draw_standardised(key: Key, mass, mean, chol, reference, metric_precision, params, cfg):
    """Kept batch of one generation in the fit's standardised coordinates ``z``
    (``x = mean + chol @ z``), in the sampling precision (the ``threshold`` sampler's rotated
    rows in the fit's), with row weights."""
    dtype = mean.dtype
    sdtype = jnp.float64 if cfg.sample_precision == "float64" else jnp.float32
    if not cfg.select:
        return (family_draws(key, (cfg.n_max, cfg.dim), sdtype, cfg.family),
                active_weights(cfg.n_max, params.n, sdtype))
    if cfg.sampler == "order-stat":
        c = (reference[0] - mean[0]) / chol[0, 0]
        z, w = order_stat_window(key, c, mass, cfg.n_max, params.n, sdtype)
        return z[:, None], w
    n_cand = jnp.round(params.n / params.alpha)
    if cfg.sampler == "threshold":  # score the draws in the eigenframe of the score's form
        frame = score_frame(mean, chol, reference, metric_precision, cfg.metric)
        w_all = family_draws(key, (cfg.candidates_max, cfg.dim), sdtype, cfg.family, fast=True)
        idx, w = threshold_n(frame_scores(w_all, frame), cfg.n_max, params.n, n_cand)
        return frame_rotate(w_all[idx], frame), w.astype(dtype)
    z_all = family_draws(key, (cfg.candidates_max, cfg.dim), sdtype, cfg.family)
    if cfg.metric == "current-fit":
        scores = frame_scores(z_all, score_frame(mean, chol, reference, metric_precision,
                                                 cfg.metric))
    else:  # sort scores the data coordinates in the fit's precision
        scores = mahalanobis_sq(mean + z_all.astype(dtype) @ chol.T, reference, metric_precision)
    idx, w = top_n(scores, cfg.n_max, params.n, n_cand)
    return z_all[idx], w.astype(sdtype)


def family_draws(key: Key, shape: tuple[int, ...], sdtype, family: str = "gaussian",
                 fast: bool = False):
    """Standardised rows (zero mean, identity covariance) of the generator family: i.i.d.
    N(0, 1) (``fast``: float32 through :func:`collapse_jax.core._random.normal_f32`), times
    ``sqrt(W)``, ``W ~ Exp(1)`` per row (the last axis is the dimension), for the symmetric
    multivariate Laplace. Any rotation of the rows has the same law (both families are
    spherical), which the eigenframe of the ``threshold`` sampler relies on. The Gaussian
    draws come from ``key`` itself (the streams of the Gaussian kernel are unchanged); the
    Laplace splits it."""
    if family == "gaussian":
        return _random.normal_f32(key, shape) if fast else _random.normal(key, shape, sdtype)
    k_g, k_w = jax.random.split(key)
    g = _random.normal_f32(k_g, shape) if fast else _random.normal(k_g, shape, sdtype)
    w = _random.exponential(k_w, tuple(shape[:-1]), sdtype)
    return g * jnp.sqrt(w)[..., None]


class ScoreFrame(NamedTuple):
    """The selection score of standardised candidates ``z`` (``x = mean + chol z``) as a
    weighted sum of squares: ``s = sum_i lam_i (w_i - centre_i)^2`` with ``z = rotation w``.

    ``(x - u)^T P (x - u) = (z - c)^T A (z - c)`` with ``A = chol^T P chol`` and
    ``c = chol^{-1} (u - mean)``; ``A = Q diag(lam) Q^T`` (:func:`collapse_jax.core.linalg.eigh`,
    pure JAX) gives ``w = Q^T z``, ``centre = Q^T c``. Since ``Q`` is orthogonal, i.i.d. N(0, 1)
    draws ``w`` are as good as i.i.d. draws ``z``: scoring ``w`` costs ``d`` multiply-adds per
    candidate, fused with the draw, where the quadratic form ``(z - c)^T A (z - c)`` is a
    batched ``(N, d) @ (d, d)`` product that costs as much as the draw itself on the CPU
    backend. Only the kept rows are rotated back. ``current-fit`` (``A = I``) has no rotation.
    """

    lam: Vector
    centre: Vector
    rotation: Matrix | None


#: Pairs of the score's form below this relative size are not rotated by the frame's Jacobi
#: (:func:`collapse_jax.core.linalg.eigh`'s ``rtol``). The preset starts from the truth, where
#: ``A = chol^T (0.3 Sigma*)^{-1} chol = I / 0.3`` up to rounding: without it the frame's
#: eigenvectors were spun by the noise, which XLA rounds differently with the chunk a seed runs
#: in, and 2 of 1000 seeds drew other candidates with an automatic chunk than with 32 seeds per
#: chunk. Far below the float32 scores' resolution (6e-8), so it changes no ranking.
FRAME_RTOL = 1e-12


def score_frame(mean, chol, reference, precision, metric: str) -> ScoreFrame:
    """:class:`ScoreFrame` of the metric's score for the fit ``N(mean, chol chol^T)``, in the
    fit's precision. Shared by the ``threshold`` sampler and the deterministic equivalent, so
    both rank alike."""
    c = linalg.solve_lower(chol, reference - mean)
    if metric == "current-fit":
        return ScoreFrame(jnp.ones_like(c), c, None)
    lam, q = linalg.eigh(chol.T @ precision @ chol, rtol=FRAME_RTOL, sort=False)
    return ScoreFrame(lam, q.T @ c, q)


def frame_scores(w, frame: ScoreFrame):
    """Scores ``sum_i lam_i (w_i - centre_i)^2`` of frame coordinates ``w`` (``(..., N, d)``),
    in the precision of ``w``."""
    sdtype = w.dtype
    return jnp.sum(frame.lam.astype(sdtype) * (w - frame.centre.astype(sdtype)) ** 2, axis=-1)


def frame_rotate(w, frame: ScoreFrame):
    """Standardised coordinates ``z = Q w`` of frame rows ``w`` (``(..., m, d)``), rotated and
    returned in the fit's precision (a cast back to float32 would round ``z`` to an ulp that
    depends on the last bit of the rotation, which XLA may round differently with the batch
    size)."""
    if frame.rotation is None:
        return w
    return w.astype(frame.rotation.dtype) @ frame.rotation.T


def _to_data_coordinates(mz: Moments, mean, chol) -> Moments:
    """Moments of ``x = mean + chol @ z`` from the moments of ``z`` (promoted to the fit's
    precision): the batch reductions run on the cheap standardised draws."""
    dtype = mean.dtype
    mz = jax.tree.map(lambda a: a.astype(dtype), mz)
    return Moments(mz.count, mean + chol @ mz.mean, chol @ mz.scatter @ chol.T)


def seed_setting(key: Key, params: SelectionParams, cfg: SelectionConfig, dtype,
                 silo: Silo = 0) -> tuple[Truth, Vector, tuple]:
    """What one seed draws before its first generation: the truth, the silo's reference and
    the keys of the real draws, the pool and the generations. The one derivation from the
    seed's key, shared by :func:`selection_kernel` and the deterministic equivalent
    (:func:`collapse_jax.power_law.equivalent.equivalent_kernel`), so both see the same
    setting."""
    k_truth, k_silos = jax.random.split(key)
    truth = draw_truth(k_truth, cfg.dim, cfg.truth, dtype)
    k_ref, k_real, k_pool, k_gens = jax.random.split(jax.random.fold_in(k_silos, silo), 4)
    reference = biased_reference(k_ref, truth, params.offset, rule=cfg.reference)
    return truth, reference, (k_real, k_pool, k_gens)


def selection_precision(metric: str, fixed_scale, truth: Truth) -> Matrix:
    """Precision ``P`` of the score ``(x - u)^T P (x - u)``: ``(c Sigma*)^{-1}`` for the
    ``fixed`` metric, ``I`` otherwise (``current-fit`` scores in the fit's own coordinates)."""
    if metric == "fixed":
        return linalg.spd_inv(fixed_scale * truth.cov)
    return jnp.eye(truth.mean.shape[0], dtype=truth.mean.dtype)


def selection_kernel(key: Key, params: SelectionParams, cfg: SelectionConfig,
                     silo: Silo = 0) -> tuple[Any, Metrics]:
    """Recursive Gaussian refit with top-alpha selection toward a silo's reference.

    Generation 0 fits ``n`` real draws from the truth (``cfg.start='truth'``: the generation-0
    model is the truth and the pool starts empty). Generation ``t >= 1`` draws
    ``N = round(n / alpha)`` candidates from the current fit ``N(mu_{t-1}, Sigma_{t-1})``,
    keeps the ``n`` closest to the silo reference ``u*`` under ``cfg.metric`` (or ``n`` fresh
    draws when ``cfg.select`` is False), adds them to the pool (``cfg.paradigm``) and refits
    mean and covariance (``cfg.estimator``). Qiao et al. (2026), theory.md section 1.

    Returns ``(SelectionFinal, metrics)``; ``metrics`` maps ``trace``, ``logdet``,
    ``dist_ref``, ``dist_truth``, ``w2_init`` (to the generation-0 model), ``psi`` (the
    ``(d, d)`` dissipation matrix of the kept batch; NaN at row 0), ``psi_min`` (its smallest
    eigenvalue) and ``psi_trace`` (the trace-weighted dissipation
    ``1 - (Tr C + t/(t+1) ||m - mu||^2) / Tr Sigma``, i.e. ``Tr(Sigma^{1/2} Psi Sigma^{1/2}) /
    Tr Sigma`` with the exact accumulate weight on the mean shift, so that under accumulate
    ``Tr Sigma_t = Tr Sigma_{t-1} (1 - psi_trace / (t + 1))`` generation by generation)
    and ``kept_fraction`` (``Tr C / Tr Sigma_{t-1}``: the kept batch's share of the variance,
    the per-generation factor of the trace under replace) to arrays of leading size
    ``generations + 1``.
    """
    dtype = jnp.float64 if cfg.precision == "float64" else jnp.float32
    truth, reference, (k_real, k_pool, k_gens) = seed_setting(key, params, cfg, dtype, silo)
    chol_true = cholesky(truth.cov)
    real = truth.mean + family_draws(k_real, (cfg.n_max, cfg.dim), dtype, cfg.family) @ chol_true.T
    w_real = active_weights(cfg.n_max, params.n, dtype)
    pool = pools.pool_for(cfg.paradigm, size=cfg.pool_size, fn="selection_kernel")
    eye = jnp.eye(cfg.dim, dtype=dtype)
    if cfg.start == "truth":  # the generation-0 model is the truth; nothing pooled yet
        state = pool.empty(pools.Rows(real, w_real))
        mean0, cov0 = truth.mean, truth.cov
    else:
        state = pool.init(pools.Rows(real, w_real), k_pool)
        pooled = pool.read(state)
        mean0 = pooled.mean
        cov0 = covariance(pooled, cfg.estimator) + params.ridge * eye
    full = cfg.outputs == "full"
    cov0_sqrt = sqrtm_psd(cov0) if full else None
    metric_precision = selection_precision(cfg.metric, params.fixed_scale, truth)

    def fit_metrics(mean, cov):
        if not full:
            return {"trace": jnp.trace(cov), "dist_ref": jnp.sum((mean - reference) ** 2),
                    "dist_truth": jnp.sum((mean - truth.mean) ** 2)}
        return gaussian_fit_metrics(mean, cov, reference, truth.mean, mean0, cov0, cov0_sqrt)

    def step(carry, xs):
        state, mean, cov = carry
        k, mass, gen = xs
        k_draw, k_upd = jax.random.split(k)
        chol = cholesky(cov)
        z, w = _draw_standardised(k_draw, mass, mean, chol, reference, metric_precision,
                                  params, cfg)
        # The kept batch's moments in the fit's precision: float32 sums over the batch round
        # with the summation order, which XLA may change with the chunk size.
        batch = _to_data_coordinates(moments(z.astype(dtype), w.astype(dtype)), mean, chol)
        delta = batch.mean - mean
        # Exact accumulate weights: Sigma_t = t/(t+1) Sigma + C/(t+1) + t/(t+1)^2 delta delta^T.
        shift_w = gen / (gen + 1.0)
        psi_trace = 1.0 - (jnp.trace(batch.scatter) / batch.count
                           + shift_w * (delta @ delta)) / jnp.trace(cov)
        # The points themselves are needed only by a pool that stores them (XLA drops
        # them otherwise).
        x = mean + z.astype(dtype) @ chol.T
        state = pool.update(state, pools.Rows(x, w.astype(dtype), moments=batch), k_upd)
        pooled = pool.read(state)
        new_mean = pooled.mean
        new_cov = covariance(pooled, cfg.estimator) + params.ridge * eye
        out = fit_metrics(new_mean, new_cov)
        if full:
            psi = dissipation(batch, mean, cov)
            out["psi"] = psi
            out["psi_min"] = min_eigenvalue(psi)
        out["psi_trace"] = psi_trace
        out["kept_fraction"] = jnp.trace(batch.scatter) / batch.count / jnp.trace(cov)
        return (state, new_mean, new_cov), out

    k_mass, k_gens = jax.random.split(k_gens)
    keys = jax.random.split(k_gens, cfg.generations)
    if cfg.select and cfg.sampler == "order-stat":
        n_cand = jnp.round(params.n / params.alpha)
        masses = window_mass(k_mass, params.n, n_cand, (cfg.generations,), dtype)
    else:
        masses = jnp.zeros((cfg.generations,), dtype)
    (state, mean, cov), metrics = jax.lax.scan(step, (state, mean0, cov0),
                                               (keys, masses, jnp.arange(1, cfg.generations + 1,
                                                                        dtype=dtype)))
    first = fit_metrics(mean0, cov0)
    if full:
        first["psi"] = jnp.full((cfg.dim, cfg.dim), jnp.nan, dtype)
        first["psi_min"] = jnp.asarray(jnp.nan, dtype)
    first["psi_trace"] = jnp.asarray(jnp.nan, dtype)
    first["kept_fraction"] = jnp.asarray(jnp.nan, dtype)
    metrics = jax.tree.map(lambda a, b: jnp.concatenate([a[None], b]), first, metrics)
    return SelectionFinal(truth, reference, mean0, cov0, mean, cov), metrics
