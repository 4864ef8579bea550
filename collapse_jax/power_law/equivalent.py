"""Deterministic equivalent of the selection recursion: E Tr Sigma_t without the simulation.

Top-alpha selection is a function of the current fit only through the standardised
quantities of one generation: with ``x = m + L z`` (``Sigma = L L^T``, ``z ~ N(0, I_d)``) the
score of a candidate is ``(x - u)^T P (x - u)`` for the metric's precision ``P``, so which
``z`` are kept depends on ``(L^T P L, L^{-1}(u - m))`` alone. Given the fit, the expected
moments of the kept batch (its mean ``b``, its MLE covariance ``C`` and ``E[b b^T]``, all in
``z`` coordinates) follow from the Gaussian law; this module computes them exactly at finite
``n`` by Monte Carlo over ``groups`` independent candidate sets of ``N = round(n / alpha)``
draws each (the top ``n`` of each set, as the kernel keeps them), on its own key stream.

Iterating the expected update of the fit gives the deterministic equivalent (mean-field
limit) of the recursion:

* replace: ``m' = m + L b``, ``Sigma' = L C L^T + ridge I``;
* accumulate, pool of ``K`` points growing by ``n`` per generation:
  ``M' = M + (n / K') L b``, ``S' = (K / K') S + (n / K') L C L^T + (K n / K'^2) L E[b b^T] L^T``
  (``K' = K + n``; the fit is ``Sigma = S + ridge I``).

One generation is exact in expectation given the fit (up to the Monte Carlo error of the
groups). Iterating it replaces ``E f(Sigma_t)`` by ``f`` of the iterated expectation, an
approximation whose error shrinks as the pool grows (accumulate) and does not vanish under
replace, where the fit wanders. Without selection every generation is linear in the fit and
the equivalent is exact (:func:`collapse_jax.core.accumulation.accumulate_trace_ratio` for
accumulate). For the centred current-fit metric ``A = I`` and ``c = 0``: the kept covariance
tends to ``(1 - psi(alpha, d)) I`` as ``n`` grows and the trace follows
``prod (1 - psi / (s + 1))`` (theory.md 1.3).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from collapse_jax.core import _random, linalg
from collapse_jax.core._types import Key, Matrix, Vector
from collapse_jax.core._validate import InvalidInput, check_choice, check_float, check_int
from collapse_jax.core.gaussian import covariance, moments
from collapse_jax.core.selection import active_weights, order_stat_window, threshold_n, window_mass
from collapse_jax.power_law.kernel import (
    family_draws,
    frame_rotate,
    frame_scores,
    score_frame,
    seed_setting,
    selection_precision,
)

PARADIGMS = ("replace", "accumulate")
METRICS = ("current-fit", "fixed", "euclidean")


class EquivalentConfig(NamedTuple):
    """Static structure of :func:`deterministic_equivalent` (hashable)."""

    dim: int
    n: int
    candidates: int
    generations: int
    paradigm: str
    metric: str
    select: bool
    groups: int
    start_count: int
    sample_precision: str = "float64"
    estimator: str = "mle"


def equivalent_config(*, dim: int, n: int, alpha: float, generations: int,
                      paradigm: str = "accumulate", metric: str = "current-fit",
                      select: bool = True, groups: int = 8,
                      start_count: int | None = None,
                      sample_precision: str = "float64",
                      estimator: str = "mle") -> EquivalentConfig:
    """Validated :class:`EquivalentConfig`. ``start_count``: points in the accumulate pool at
    generation 0 (``n``: the fit of ``n`` real draws, as in the selection kernel; ``0``: the
    generation-0 model is given and the pool starts empty, as in Qiao et al.'s script).
    ``sample_precision``: of the standardised Monte Carlo draws and their scores (the kept
    moments are summed in float64), as the selection kernel's ``sample_precision``.
    ``groups``: independent candidate sets per generation; ``1`` makes the recursion a replicate
    of the simulation in law (one kept batch per generation), larger values remove
    ``1 - 1/groups`` of its fluctuation (:func:`fluctuation_extrapolated`). ``estimator``:
    the refit's covariance, ``mle`` or ``unbiased`` (as the kernel's)."""
    fn = "equivalent_config"
    dim = check_int(fn, "dim", dim, 1, 512)
    n = check_int(fn, "n", n, dim + 1)
    alpha = check_float(fn, "alpha", alpha, 0.0, 1.0, lo_open=True)
    generations = check_int(fn, "generations", generations, 1, 10**6)
    check_choice(fn, "paradigm", paradigm, PARADIGMS)
    check_choice(fn, "metric", metric, METRICS)
    check_choice(fn, "sample_precision", sample_precision, ("float64", "float32"))
    groups = check_int(fn, "groups", groups, 1, 10**6)
    check_choice(fn, "estimator", estimator, ("mle", "unbiased"))
    start_count = check_int(fn, "start_count", n if start_count is None else start_count, 0)
    candidates = int(round(n / alpha)) if select else n
    if candidates < n:
        raise InvalidInput(f"{fn}: round(n / alpha) = {candidates} < n = {n}")
    return EquivalentConfig(dim, n, candidates, generations, paradigm, metric, bool(select),
                            groups, start_count, sample_precision, estimator)


class KeptMoments(NamedTuple):
    """Expected moments of one generation's kept batch in ``z`` coordinates."""

    mean: Vector   # E b
    cov: Matrix    # E C (MLE covariance within the batch)
    outer: Matrix  # E b b^T


def kept_moments(key: Key, mean: Vector, chol: Matrix, reference: Vector, precision: Matrix,
                 cfg: EquivalentConfig) -> KeptMoments:
    """Expected kept-batch moments of one generation from the fit ``N(mean, chol chol^T)``:
    the top ``n`` of ``N`` candidates by the metric's score, averaged over ``cfg.groups``
    independent candidate sets (no selection: the closed form ``0``, ``(n-1)/n I``, ``I/n``)."""
    dtype = mean.dtype
    d, n = cfg.dim, cfg.n
    eye = jnp.eye(d, dtype=dtype)
    if not cfg.select:
        return KeptMoments(jnp.zeros(d, dtype), (n - 1.0) / n * eye, eye / n)
    sdtype = jnp.float32 if cfg.sample_precision == "float32" else dtype
    if d == 1:  # every metric ranks by |z - c|: the exact order-statistics draw, O(n)
        c = linalg.solve_lower(chol, reference - mean)
        k_mass, k_win = jax.random.split(key)
        masses = window_mass(k_mass, n, cfg.candidates, (cfg.groups,), dtype)
        kept = jax.vmap(lambda k, m: order_stat_window(k, c[0], m, n, n, sdtype)[0])(
            jax.random.split(k_win, cfg.groups), masses).astype(dtype)[..., None]
        return _kept_moments(kept)
    frame = score_frame(mean, chol, reference, precision, cfg.metric)
    w = family_draws(key, (cfg.groups, cfg.candidates, d), sdtype,
                     fast=sdtype == jnp.float32)
    # the kernel's rule: the n smallest scores of each set (top_k's rows, found by a threshold)
    idx = jax.vmap(lambda s: threshold_n(s, n, n, cfg.candidates)[0])(frame_scores(w, frame))
    kept = jnp.take_along_axis(w, idx[..., None], axis=1).astype(dtype)
    return _kept_moments(frame_rotate(kept, frame))


def _kept_moments(kept) -> KeptMoments:
    """:class:`KeptMoments` averaged over the groups of ``kept`` ``(G, n, d)``."""
    n = kept.shape[1]
    b = jnp.mean(kept, axis=1)
    centred = kept - b[:, None, :]
    cov = jnp.einsum("gni,gnj->gij", centred, centred) / n
    return KeptMoments(jnp.mean(b, axis=0), jnp.mean(cov, axis=0),
                       jnp.mean(jnp.einsum("gi,gj->gij", b, b), axis=0))


def deterministic_equivalent(key: Key, mean0: Vector, cov0: Matrix, reference: Vector,
                             precision: Matrix, cfg: EquivalentConfig, ridge=0.0) -> dict:
    """Iterate the expected update of the fit for ``cfg.generations`` generations (module
    docstring) from the generation-0 model ``N(mean0, cov0)``.

    ``precision``: the ``fixed`` / ``euclidean`` metric's ``P`` (ignored by ``current-fit``);
    ``ridge``: added to every fitted covariance (Qiao et al.'s script adds ``1e-6 I``).
    Returns ``trace`` (``Tr Sigma_t``), ``dist_ref`` (``||m_t - u||^2``) and ``mean``
    (``m_t``), each with a leading ``(generations + 1,)`` axis.
    """
    dtype = mean0.dtype
    eye = jnp.eye(cfg.dim, dtype=dtype)
    ridge = jnp.asarray(ridge, dtype)

    def fit(s, count):
        if cfg.estimator == "unbiased":
            s = s * (count / (count - 1.0))
        return s + ridge * eye

    def step(carry, k):
        m, s, count = carry  # s: the pool's (or the batch's) MLE covariance
        cov = fit(s, count)
        chol = linalg.cholesky(cov)
        km = kept_moments(k, m, chol, reference, precision, cfg)
        batch_mean = m + chol @ km.mean
        batch_cov = chol @ km.cov @ chol.T
        if cfg.paradigm == "replace":
            m_new, s_new, count_new = batch_mean, batch_cov, jnp.asarray(float(cfg.n), dtype)
        else:
            new = count + cfg.n
            spread = chol @ km.outer @ chol.T
            m_new = m + (cfg.n / new) * (chol @ km.mean)
            s_new = (count / new) * s + (cfg.n / new) * batch_cov + (count * cfg.n / new**2) * spread
            count_new = new
        out = {"trace": jnp.trace(fit(s_new, count_new)),
               "dist_ref": jnp.sum((m_new - reference) ** 2), "mean": m_new}
        return (m_new, s_new, count_new), out

    keys = jax.random.split(key, cfg.generations)
    count0 = jnp.asarray(float(cfg.start_count), dtype)
    # the generation-0 model is N(mean0, cov0): its pool's MLE covariance is cov0 minus the
    # ridge (times (K - 1) / K for the unbiased estimator)
    s0 = cov0 - ridge * eye
    if cfg.estimator == "unbiased" and cfg.start_count > 1:
        s0 = s0 * ((cfg.start_count - 1.0) / cfg.start_count)
    _, out = jax.lax.scan(step, (mean0, s0, count0), keys)
    first = {"trace": jnp.trace(cov0), "dist_ref": jnp.sum((mean0 - reference) ** 2),
             "mean": mean0}
    return jax.tree.map(lambda a, b: jnp.concatenate([a[None], b]), first, out)


def equivalent_kernel(key: Key, params, cfg: tuple, silo=0) -> tuple[None, dict]:
    """The deterministic equivalent for the truth and reference that
    :func:`collapse_jax.power_law.kernel.selection_kernel` draws from the same ``key``
    (:func:`~collapse_jax.power_law.kernel.seed_setting`), from the same generation-0 model:
    the truth (``start='truth'``) or the fit of the same ``n`` real draws (``start='real'``).

    ``params``: the kernel's :class:`~collapse_jax.power_law.kernel.SelectionParams`; ``cfg``:
    ``(EquivalentConfig, SelectionConfig)``, or a tuple of ``EquivalentConfig`` in place of
    the first. The Monte Carlo of the kept moments runs on its
    own stream (``fold_in`` of the kernel's generation key), so no sample of the simulation
    enters the prediction: only the setting it starts from. With a tuple of configurations
    each recursion runs in the same program, with the numbers a program of that
    configuration alone gives, and each output has a leading axis over the configurations.
    """
    eq_cfgs, sel_cfg = cfg
    dtype = jnp.float64 if sel_cfg.precision == "float64" else jnp.float32
    truth, reference, (k_real, _, k_gens) = seed_setting(key, params, sel_cfg, dtype, silo)
    if sel_cfg.start == "truth":
        mean0, cov0 = truth.mean, truth.cov
    else:  # the kernel's generation-0 fit of its n real draws (the setting, not a selection)
        real = (truth.mean + _random.normal(k_real, (sel_cfg.n_max, sel_cfg.dim), dtype)
                @ linalg.cholesky(truth.cov).T)
        m0 = moments(real, active_weights(sel_cfg.n_max, params.n, dtype))
        mean0 = m0.mean
        cov0 = covariance(m0, sel_cfg.estimator) + params.ridge * jnp.eye(sel_cfg.dim, dtype=dtype)
    precision = selection_precision(sel_cfg.metric, params.fixed_scale, truth)
    k_eq = jax.random.fold_in(k_gens, 0xE0)

    def recursion(cfg):
        return deterministic_equivalent(k_eq, mean0, cov0, reference, precision, cfg,
                                        ridge=params.ridge)

    if isinstance(eq_cfgs, EquivalentConfig):
        out = recursion(eq_cfgs)
    else:
        out = jax.tree.map(lambda *a: jnp.stack(a), *(recursion(c) for c in eq_cfgs))
    return None, {"ratio": out["trace"] / jnp.trace(truth.cov), "trace": out["trace"]}


#: Candidate sets per generation of the two equivalents :func:`fluctuation_extrapolated`
#: combines.
GROUPS = (2, 4)


def fluctuation_extrapolated(at_2, at_4):
    """A quantity of the equivalent extrapolated to ``groups = 1`` from ``groups = 2, 4``.

    With ``G`` independent candidate sets per generation the expected kept moments carry
    ``1/G`` of the fluctuation of one kept batch, the simulation's (``G = 1`` is a replicate of
    the simulation in law, ``G -> inf`` the mean-field limit). To first order in that variance a
    smooth function of the trajectory (a window slope) is ``f(G) = f_inf + b / G``, so
    ``f(1) = 3 f(2) - 2 f(4)`` and ``f_inf = 2 f(4) - f(2)``. Returns ``(f(1), f_inf)``.
    """
    return 3.0 * at_2 - 2.0 * at_4, 2.0 * at_4 - at_2


def equivalent_curves(key: Key, params, sel_cfg, *, n: int, alpha: float, seeds: int,
                      paradigm: str | None = None, chunk_size=None, options=None
                      ) -> tuple[dict, dict]:
    """Run :func:`equivalent_kernel` with each candidate-set count of :data:`GROUPS` for the
    first ``seeds`` seeds of the selection kernel's ``sel_cfg`` / ``params`` under ``key`` (one
    sweep point; ``n`` and ``alpha`` its values).

    Returns ``({groups: {"ratio", "trace"}: (seeds, generations + 1) arrays}, timing)`` with
    ``timing`` the ``compile_s`` and ``run_s`` of the run. Gaussian generators only (its kept
    moments are a Gaussian Monte Carlo). The counts are recursions of one compiled program
    (a tuple of configurations, :func:`equivalent_kernel`), with the numbers of one program
    per count, compiled once instead of once per count (docs/speed.md)."""
    import numpy as np

    from collapse_jax.engine import batch

    if sel_cfg.family != "gaussian":
        raise InvalidInput(f"equivalent_curves: the deterministic equivalent draws Gaussian "
                           f"candidates (got family={sel_cfg.family!r}); allowed 'gaussian'")

    eq_cfgs = tuple(equivalent_config(
        dim=sel_cfg.dim, n=n, alpha=alpha, generations=sel_cfg.generations,
        paradigm=sel_cfg.paradigm if paradigm is None else paradigm, metric=sel_cfg.metric,
        groups=g, start_count=0 if sel_cfg.start == "truth" else n,
        sample_precision=sel_cfg.sample_precision, estimator=sel_cfg.estimator)
        for g in GROUPS)
    red = batch.SeedSummary(lambda out, start: {k: np.asarray(v)[:, 0]
                                                 for k, v in out[1].items()})
    tm = batch.stream(equivalent_kernel, key, params, (eq_cfgs, sel_cfg), seeds=seeds,
                      reduce=red, chunk_size=chunk_size, options=options)
    joint = red.kept()  # {"ratio", "trace"}: (seeds, len(GROUPS), generations + 1)
    curves = {g: {k: v[:, i] for k, v in joint.items()} for i, g in enumerate(GROUPS)}
    return curves, {"compile_s": tm.compile_s, "run_s": tm.run_s}
