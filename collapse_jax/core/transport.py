"""Entropic optimal transport on point clouds, through ott-jax.

Every solve runs a fixed number of Sinkhorn iterations (``min_iterations ==
max_iterations``), so that under ``vmap`` (silos x seeds) no batch member waits on a
``while_loop`` for the slowest one, and every solve reports whether its final marginal error
is below the threshold (the ``converged`` flag of ott-jax), so that callers can surface it.

Contents (theory.md sections 1.5 and 1.6):

* :func:`solve`: Kantorovich potentials ``(f, g)``, the regularised cost and the flag.
* :func:`calibrated_scores`: the calibrated OT score of Qiao et al. (2026),
  ``S(x_i) = f(x_i) - mean_{j != i} f(x_j)``; positive means removing ``x_i`` lowers the
  transport cost to the reference, so the lowest scores are kept.
* :func:`barycentric_map` and :func:`geodesic_cloud`: the entropic Monge map
  ``T(x_i) = sum_j P_ij y_j / sum_j P_ij`` and the point-cloud McCann interpolation
  ``{(1 - tau) x_i + tau T(x_i)}``, the discrete counterpart of
  :func:`collapse_jax.core.gaussian.mccann_geodesic`.
* :func:`free_support_barycenter`: the pooled-data reference solver (ott-jax
  ``FreeWassersteinBarycenter``); the collaborative protocol that never pools data lives in
  :mod:`collapse_jax.proxy.silo_data` and reproduces it.
* :func:`sinkhorn_divergence`: the debiased divergence of Feydy et al. (2019), via ott-jax.
* :func:`batched_solve`: many independent problems under one ``vmap`` (benchmarks).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from collapse_jax.core._errors import InvalidInput
from collapse_jax.core._lazy import lazy
from collapse_jax.core._types import Array, Bool, Points, Scalar, Weights
from collapse_jax.core._validate import check_float, check_int

# ott-jax costs 1-3 s to import: its modules load on first use (collapse_jax.core._lazy), so a
# check prints its start line before.
epsilon_scheduler = lazy("ott.geometry.epsilon_scheduler")
pointcloud = lazy("ott.geometry.pointcloud")
barycenter_problem = lazy("ott.problems.linear.barycenter_problem")
linear_problem = lazy("ott.problems.linear.linear_problem")
acceleration = lazy("ott.solvers.linear.acceleration")
continuous_barycenter = lazy("ott.solvers.linear.continuous_barycenter")
sinkhorn = lazy("ott.solvers.linear.sinkhorn")
_sdiv = lazy("ott.tools.sinkhorn_divergence")

#: geomloss' epsilon-scaling factor per step (``scaling^2`` with its ``scaling = 0.9``), the
#: ``decay`` of :class:`SinkhornSettings` when annealing as Qiao et al.'s code does.
GEOMLOSS_DECAY = 0.81


def anneal_decay(anneal: float) -> float:
    """The ``decay`` that goes with an ``anneal`` start factor: none without annealing
    (``anneal == 1``), geomloss' :data:`GEOMLOSS_DECAY` per step otherwise."""
    return 1.0 if float(anneal) == 1.0 else GEOMLOSS_DECAY


class SinkhornSettings(NamedTuple):
    """Static Sinkhorn settings (hashable, so they can live in a kernel config).

    ``epsilon``: absolute entropic regularisation in squared data units (the cost is
    ``||x - y||^2``, unscaled). ``iterations``: Sinkhorn iterations, always all run.
    ``threshold``: the L1 marginal error below which a solve counts as converged.
    ``momentum``: constant over-relaxation weight ``omega`` of the dual updates
    (Thibault et al. 2021; 1 is plain Sinkhorn, values in (1, 2) accelerate). Well separated
    clusters make plain Sinkhorn slow to move mass between them; ``omega = 1.5`` reaches a
    marginal error of 1e-3 about three times sooner on the mixtures used here.
    ``anneal`` / ``decay``: epsilon-scaling (ott-jax ``Epsilon``): iteration ``k`` runs at
    ``epsilon * max(anneal * decay^k, 1)``, from a large regularisation down to ``epsilon``
    (geomloss anneals the same way, by ``scaling^2 = 0.81`` per step from the squared
    diameter); ``anneal = 1`` runs at ``epsilon`` throughout. It applies to :func:`solve`,
    :func:`transport_plan` and what is built on them.
    ``debias``: :func:`selection_scores` subtracts the candidates' self-transport potential
    (the debiased potential ``f_ba - f_aa`` of geomloss' ``SamplesLoss(debias=True,
    potentials=True)``, which Qiao et al.'s code ranks by).
    """

    epsilon: float
    iterations: int
    threshold: float
    momentum: float
    anneal: float = 1.0
    decay: float = 1.0
    debias: bool = False
    schedule: str = "fixed"


#: ``SinkhornSettings.schedule``: ``"fixed"``, ``iterations`` ott-jax iterations (annealed or
#: not, see ``anneal``); ``"geomloss"``, :func:`geomloss_potentials`' loop (geomloss'
#: epsilon schedule from the squared diameter, one symmetric step per value, no iteration
#: count or stopping rule of its own: ``iterations``, ``momentum``, ``anneal`` and ``decay``
#: do not apply to the selection scores, nor to :func:`transport_plan` and the maps and
#: geodesics built on it, which take the loop's cross plan).
SCHEDULES = ("fixed", "geomloss")


def sinkhorn_settings(epsilon: float = 0.25, iterations: int = 100,
                      threshold: float = 1e-3, momentum: float = 1.5, *, anneal: float = 1.0,
                      decay: float = 1.0, debias: bool = False,
                      schedule: str = "fixed") -> SinkhornSettings:
    """Validated :class:`SinkhornSettings`."""
    fn = "sinkhorn_settings"
    if schedule not in SCHEDULES:
        raise InvalidInput(f"{fn}: schedule={schedule!r}; allowed one of {', '.join(SCHEDULES)}")
    anneal = check_float(fn, "anneal", anneal, 1.0, 1e12)
    decay = check_float(fn, "decay", decay, 0.0, 1.0, lo_open=True)
    if anneal > 1.0 and decay == 1.0:
        raise InvalidInput(f"{fn}: anneal={anneal!r} needs decay < 1 (got decay=1.0): the "
                           "regularisation would never reach epsilon")
    return SinkhornSettings(check_float(fn, "epsilon", epsilon, 0.0, lo_open=True),
                            check_int(fn, "iterations", iterations, 1, 100_000),
                            check_float(fn, "threshold", threshold, 0.0, lo_open=True),
                            check_float(fn, "momentum", momentum, 1.0, 2.0, hi_open=True),
                            float(anneal), float(decay), bool(debias), schedule)


def _epsilon(settings: SinkhornSettings):
    """The ``epsilon`` argument of an ott-jax geometry: a number, or a schedule."""
    if settings.anneal == 1.0:
        return settings.epsilon
    return epsilon_scheduler.Epsilon(target=settings.epsilon, init=settings.anneal,
                                     decay=settings.decay)


def _solver_kwargs(settings: SinkhornSettings) -> dict:
    it = settings.iterations
    kw = {"min_iterations": it, "max_iterations": it, "inner_iterations": min(it, 10),
          "threshold": settings.threshold}
    if settings.momentum != 1.0:
        kw["momentum"] = acceleration.Momentum(start=0, value=settings.momentum)
    return kw


def solver(settings: SinkhornSettings) -> sinkhorn.Sinkhorn:
    """The ott-jax solver for ``settings``: fixed iterations (a ``scan``, not a
    ``while_loop``), error measured once, after the last iteration."""
    return sinkhorn.Sinkhorn(**_solver_kwargs(settings))


class OTSolution(NamedTuple):
    """Result of one entropic OT solve between ``x`` (weights ``a``) and ``y`` (``b``).

    ``f`` / ``g``: Kantorovich potentials (``-inf`` on zero-weight points). ``cost``: the
    regularised cost ``<C, P> + eps KL(P | a b^T)`` (ott-jax ``reg_ot_cost``). ``error``: L1
    marginal error after the last iteration; ``converged``: ``error < threshold``.
    """

    f: Array
    g: Array
    cost: Scalar
    error: Scalar
    converged: Bool[Array, ""]


def _uniform(m: int, dtype) -> Weights:
    return jnp.full((m,), 1.0 / m, dtype)


def _normalise(w: Weights | None, m: int, dtype) -> Weights:
    if w is None:
        return _uniform(m, dtype)
    w = w.astype(dtype)
    return w / jnp.sum(w)


def _output(x: Points, y: Points, a, b, settings: SinkhornSettings):
    a = _normalise(a, x.shape[0], x.dtype)
    b = _normalise(b, y.shape[0], y.dtype)
    geom = pointcloud.PointCloud(x, y, epsilon=_epsilon(settings))
    return solver(settings)(linear_problem.LinearProblem(geom, a=a, b=b))


def _solution(out) -> OTSolution:
    err = out.errors[-1, 0] if out.errors.ndim == 2 else out.errors[-1]
    return OTSolution(out.f, out.g, out.reg_ot_cost, err, jnp.asarray(out.converged))


def solve(x: Points, y: Points, a: Weights | None = None, b: Weights | None = None, *,
          settings: SinkhornSettings) -> OTSolution:
    """Entropic OT between the clouds ``x`` and ``y`` with squared Euclidean cost.

    Weights default to uniform and are normalised to sum 1; zero weights mark padding rows
    (their potentials are ``-inf`` and they carry no mass).
    """
    return _solution(_output(x, y, a, b, settings))


def transport_plan(x: Points, y: Points, a: Weights | None = None, b: Weights | None = None,
                   *, settings: SinkhornSettings) -> tuple[Array, OTSolution]:
    """Entropic plan ``P`` (``(m, k)``, sums to 1) and the solution; under
    ``settings.schedule == "geomloss"``, the plan of geomloss' loop (the authors' solver, no
    stopping rule: :func:`_geomloss_plan`)."""
    if settings.schedule == "geomloss":
        return _geomloss_plan(x, y, a, b, settings)
    out = _output(x, y, a, b, settings)
    return out.matrix, _solution(out)


def calibrated_scores(f: Array, live: Array | None = None) -> Array:
    """Calibrated OT score ``S_i = f_i - (1 / (N - 1)) sum_{j != i} f_j`` (Qiao et al. 2026).

    ``live`` (booleans) restricts the sum to the ``N`` live candidates; dead rows score
    ``+inf`` (never kept). Equals ``(1 + 1/(N-1)) f_i - sum_j f_j / (N-1)``: an increasing
    function of ``f_i``, so ranking by ``S`` is ranking by the potential, and ``S_i > 0``
    means that ``x_i`` costs more to transport than the average candidate.
    """
    if live is None:
        live = jnp.ones(f.shape, bool)
    f0 = jnp.where(live, f, 0.0)
    n = jnp.sum(live)
    s = (f0 * n - jnp.sum(f0)) / (n - 1.0)
    return jnp.where(live, s, jnp.inf)


def selection_scores(candidates: Points, reference: Points, b: Weights | None = None, *,
                     settings: SinkhornSettings) -> tuple[Array, Bool[Array, ""]]:
    """The selection score of every candidate against a reference cloud (weights ``b``) and
    whether every solve converged; keep the lowest.

    ``settings.debias`` false: :func:`calibrated_scores` of the raw potential ``f`` of
    ``OT_eps(candidates, reference)``. True: of the debiased potential ``f - f_self``, where
    ``f_self`` is the potential of the symmetric problem ``OT_eps(candidates, candidates)``
    (geomloss' ``f_ba - f_aa``). The raw potential carries the entropic blur of the
    candidates' own spread: against a perfect reference it still prefers points near the
    centre of each cluster; the self term removes that bias (docs/proxy_references.md).
    """
    if settings.schedule == "geomloss":
        # this module's cost is ||x - y||^2, geomloss' ||x - y||^2 / 2: the same plans when
        # blur^2 = epsilon / 2 (potentials halved, rankings unchanged)
        res = geomloss_potentials(candidates, reference, None, b,
                                  blur=(settings.epsilon / 2.0) ** 0.5, debias=settings.debias)
        return calibrated_scores(res.f), res.error < settings.threshold
    sol = solve(candidates, reference, None, b, settings=settings)
    f, ok = sol.f, sol.converged
    if settings.debias:
        own = _self_solution(candidates, settings)
        f, ok = f - own.f, jnp.logical_and(ok, own.converged)
    return calibrated_scores(f), ok


def _self_solution(x: Points, settings: SinkhornSettings) -> OTSolution:
    """``OT_eps(x, x)`` with uniform weights, solved the way ott-jax solves the symmetric
    terms of a Sinkhorn divergence (parallel dual updates, momentum 0.5): the alternating
    updates with over-relaxation converge slowly on a symmetric problem."""
    w = _uniform(x.shape[0], x.dtype)
    kw = {**_solver_kwargs(settings), "parallel_dual_updates": True,
          "momentum": acceleration.Momentum(start=0, value=0.5)}
    geom = pointcloud.PointCloud(x, x, epsilon=_epsilon(settings))
    return _solution(sinkhorn.Sinkhorn(**kw)(linear_problem.LinearProblem(geom, a=w, b=w)))


#: geomloss' ``scaling``: the blur shrinks by this factor per step (epsilon by its square,
#: :data:`GEOMLOSS_DECAY`).
GEOMLOSS_SCALING = 0.9


class GeomlossResult(NamedTuple):
    """:func:`geomloss_potentials`: ``f`` on ``x`` and ``g`` on ``y`` (debiased or raw),
    ``steps`` the length of the epsilon schedule, ``error`` the L1 error of the ``y``
    marginal of the final cross plan (geomloss computes none; reported here)."""

    f: Array
    g: Array
    steps: Array
    error: Scalar


def _geomloss_loop(x: Points, y: Points, a, b, blur: float, scaling: float,
                   self_terms: bool):
    """geomloss' tensorized ``sinkhorn_loop`` (see :func:`geomloss_potentials`): returns the
    final cross potentials ``(f_ba, g_ab)``; when ``self_terms``, the self potentials and the
    soft-min weights of the last step on the ``x`` side, ``(f_aa, g_bb, w_xy, w_xx)`` (rows
    sum to 1; :func:`geomloss_map` reads them), else ``None``; the final cross plan (its
    parallel last step leaves neither marginal exact); the schedule's length and the plan's
    ``y``-marginal L1 error. Cost ``||x - y||^2 / 2``, ``epsilon = blur^2``."""
    dt = x.dtype
    a = _normalise(a, x.shape[0], dt)
    b = _normalise(b, y.shape[0], dt)

    def logw(w):
        return jnp.where(w > 0, jnp.log(jnp.where(w > 0, w, 1.0)), -100000.0)

    a_log, b_log = logw(a), logw(b)

    def half_sq(u, v):
        return 0.5 * jnp.sum((u[:, None, :] - v[None, :, :]) ** 2, axis=-1)

    c_xy = half_sq(x, y)
    c_yx = c_xy.T
    costs = [(c_xy, b_log), (c_yx, a_log)]
    if self_terms:
        costs += [(half_sq(x, x), a_log), (half_sq(y, y), b_log)]

    def softmin(eps, c, h):
        return -eps * jax.scipy.special.logsumexp(h[None, :] - c / eps, axis=1)

    lo = jnp.minimum(jnp.min(x, axis=0), jnp.min(y, axis=0))
    hi = jnp.maximum(jnp.max(x, axis=0), jnp.max(y, axis=0))
    diameter = jnp.sqrt(jnp.sum((hi - lo) ** 2))
    log_d, log_b, log_s = jnp.log(diameter), jnp.log(jnp.asarray(blur, dt)), jnp.log(
        jnp.asarray(scaling, dt))
    # numpy.arange's length ceil((stop - start) / step), at least 0
    middle = jnp.maximum(jnp.ceil((2 * log_b - 2 * log_d) / (2 * log_s)), 0).astype(jnp.int32)
    steps = middle + 2
    eps_last = jnp.asarray(blur, dt) ** 2

    def eps_at(i):
        mid = jnp.exp(2 * log_d + (i - 1).astype(dt) * 2 * log_s)
        return jnp.where(i == 0, diameter**2, jnp.where(i <= middle, mid, eps_last))

    def update(eps, pots):
        # f_ba reads g_ab, g_ab reads f_ba; each self potential reads itself
        partner = (pots[1], pots[0], *pots[2:])
        return tuple(softmin(eps, c, w + h / eps) for (c, w), h in zip(costs, partner))

    e0 = diameter**2
    init = tuple(softmin(e0, c, w) for c, w in costs)

    def body(carry):
        i, pots = carry
        new = update(eps_at(i), pots)
        return i + 1, tuple(0.5 * (p + q) for p, q in zip(pots, new))

    _, before = jax.lax.while_loop(lambda c: c[0] < steps, body,
                                   (jnp.asarray(0, jnp.int32), init))
    pots = update(eps_last, before)
    f_ba, g_ab = pots[:2]
    plan = jnp.exp((f_ba[:, None] + g_ab[None, :] - c_xy) / eps_last + a_log[:, None]
                   + b_log[None, :])
    error = jnp.sum(jnp.abs(jnp.sum(plan, axis=0) - b))
    if self_terms:  # the self potentials and the x-side soft-min weights of the last step
        w_xy = jax.nn.softmax(b_log[None, :] + (before[1][None, :] - c_xy) / eps_last, axis=1)
        w_xx = jax.nn.softmax(a_log[None, :] + (before[2][None, :] - costs[2][0]) / eps_last,
                              axis=1)
        return (f_ba, g_ab), (pots[2], pots[3], w_xy, w_xx), plan, steps, error
    return (f_ba, g_ab), None, plan, steps, error


def geomloss_potentials(x: Points, y: Points, a: Weights | None = None,
                        b: Weights | None = None, *, blur: float,
                        scaling: float = GEOMLOSS_SCALING, debias: bool = True
                        ) -> GeomlossResult:
    """The dual potentials of geomloss' ``SamplesLoss("sinkhorn", p=2, blur=blur,
    scaling=scaling, debias=debias, potentials=True)`` on point clouds (its single-scale
    "tensorized" loop, ``sinkhorn_divergence.sinkhorn_loop``), the solver Qiao et al.'s
    selection code calls. Cost ``||x - y||^2 / 2``, ``epsilon = blur^2``; the diameter is
    the norm of the joint bounding box's sides; the schedule runs ``diameter^2``, then
    ``diameter^2 scaling^(2k)`` while above ``blur^2`` (geomloss' ``numpy.arange(2 log
    diameter, 2 log blur, 2 log scaling)``), then ``blur^2``, one step per value: the four
    soft-min updates ``f <- -eps log sum_j exp(log b_j + g_j / eps - C_ij / eps)``
    computed in parallel and averaged with the previous value (geomloss' symmetric
    updates), from the soft-min at ``diameter^2`` of the weights alone; then one full
    parallel update at ``blur^2``. Debiased: ``(f_ba - f_aa, g_ab - g_bb)``. There is no
    convergence test: ``error`` says how far the final plan's ``y`` marginal is from ``b``.
    Pure JAX (a ``while_loop`` over the schedule, whose length follows the data), safe under
    ``vmap``."""
    (f_ba, g_ab), own, _, steps, error = _geomloss_loop(x, y, a, b, blur, scaling, debias)
    if debias:
        f_aa, g_bb = own[:2]
        return GeomlossResult(f_ba - f_aa, g_ab - g_bb, steps, error)
    return GeomlossResult(f_ba, g_ab, steps, error)


def geomloss_map(x: Points, y: Points, a: Weights | None = None, b: Weights | None = None,
                 *, blur: float, scaling: float = GEOMLOSS_SCALING
                 ) -> tuple[Points, Scalar]:
    """Qiao et al.'s transport map ``T(X) = X - N grad_X S_eps(X, Y)`` (Scheme II's
    ``compute_transport_map``), ``S_eps`` geomloss' debiased Sinkhorn divergence
    (``SamplesLoss("sinkhorn", p=2, blur=blur, scaling=scaling, debias=True)``) and ``N``
    the number of rows of ``x`` (uniform weights ``a``). geomloss differentiates its last
    soft-min step with the partner potentials and the other cloud held fixed, so the
    gradient at ``x_i`` is ``a_i (x_i - sum_j w_ij y_j) - a_i (x_i - sum_k v_ik x_k)`` with
    ``w``, ``v`` the soft-min weights of that step (cross and self); the map is
    ``sum_j w_ij y_j + x_i - sum_k v_ik x_k``: the barycentric projection onto ``y`` plus the
    self term's correction, which vanishes as the blur does. Checked against geomloss 0.2.6
    and 0.3.1 (docs/proxy_references.md). Returns the mapped points and the ``y``-marginal
    L1 error of the final cross plan."""
    _, own, _, _, error = _geomloss_loop(x, y, a, b, blur, scaling, True)
    return _gradient_step_map(x, y, own), error


def _gradient_step_map(x: Points, y: Points, own) -> Points:
    """:func:`geomloss_map`'s map from :func:`_geomloss_loop`'s self-term outputs: the
    projection onto ``y`` by the last step's cross weights plus ``x`` minus its projection
    onto itself by the self weights."""
    _, _, w_xy, w_xx = own
    return w_xy @ y + x - w_xx @ x


def _geomloss_plan(x: Points, y: Points, a, b, settings: SinkhornSettings,
                   debiased_map: bool = False):
    """:func:`transport_plan` under ``settings.schedule == "geomloss"``: the cross plan of
    geomloss' loop at ``blur^2 = epsilon / 2`` (its cost ``||x - y||^2 / 2``: the same plan
    as this module's cost at ``epsilon``), potentials and cost in this module's units (twice
    geomloss'); ``converged``: the plan's ``y`` marginal within ``settings.threshold``.
    ``debiased_map``: also :func:`geomloss_map`'s map from the same loop."""
    (f, g), own, plan, _, error = _geomloss_loop(x, y, a, b, (settings.epsilon / 2.0) ** 0.5,
                                                 GEOMLOSS_SCALING, debiased_map)
    aw = _normalise(a, x.shape[0], x.dtype)
    bw = _normalise(b, y.shape[0], y.dtype)
    cost = 2.0 * (jnp.sum(jnp.where(aw > 0, aw * f, 0.0))
                  + jnp.sum(jnp.where(bw > 0, bw * g, 0.0)))
    sol = OTSolution(2.0 * f, 2.0 * g, cost, error, error < settings.threshold)
    if debiased_map:
        return plan, sol, _gradient_step_map(x, y, own)
    return plan, sol


def barycentric_map(x: Points, y: Points, a: Weights | None = None, b: Weights | None = None,
                    *, settings: SinkhornSettings) -> tuple[Points, OTSolution]:
    """Entropic Monge map ``T(x_i) = sum_j P_ij y_j / sum_j P_ij`` from ``x`` to ``y``.

    For Gaussians and ``eps -> 0`` this tends to the linear map of
    :func:`collapse_jax.core.gaussian.transport_matrix` (Brenier). Under
    ``settings.schedule == "geomloss"`` with ``settings.debias``, Qiao et al.'s map
    ``X - N grad_X S_eps(X, Y)`` of geomloss' debiased divergence instead
    (:func:`geomloss_map`: this projection plus the self term's correction).
    """
    if settings.schedule == "geomloss" and settings.debias:
        _, sol, mapped = _geomloss_plan(x, y, a, b, settings, debiased_map=True)
        return mapped, sol
    plan, sol = transport_plan(x, y, a, b, settings=settings)
    rows = jnp.sum(plan, axis=1, keepdims=True)
    return (plan @ y) / jnp.where(rows > 0, rows, 1.0), sol


def geodesic_cloud(x: Points, y: Points, tau, a: Weights | None = None,
                   b: Weights | None = None, *, settings: SinkhornSettings
                   ) -> tuple[Points, OTSolution]:
    """Point ``tau`` of the W2 geodesic from ``x`` toward ``y``: ``(1 - tau) x_i + tau T(x_i)``
    with the weights of ``x`` (displacement interpolation, McCann 1997)."""
    t, sol = barycentric_map(x, y, a, b, settings=settings)
    return (1.0 - tau) * x + tau * t, sol


def free_support_barycenter(x_init: Points, clouds: Array, cloud_weights: Array,
                            measure_weights: Array, rounds: int, *,
                            settings: SinkhornSettings):
    """Free-support W2 barycenter of ``K`` clouds by ott-jax (pooled data: a reference).

    ``clouds`` ``(K, m, d)`` with row weights ``(K, m)`` (zeros pad); ``measure_weights``
    ``lambda_k``. Runs exactly ``rounds`` fixed-point rounds of Cuturi and Doucet (2014),
    ``X <- sum_k lambda_k T_k(X)`` from ``x_init`` (uniform weights). Returns
    ``(support, costs)`` with ``costs[r] = sum_k lambda_k OT_eps(X_r, Q_k)`` evaluated at
    the support *before* round ``r`` is applied (the Frechet variance sequence).
    """
    cloud_weights = cloud_weights / jnp.sum(cloud_weights, axis=1, keepdims=True)
    lam = measure_weights / jnp.sum(measure_weights)
    prob = barycenter_problem.FreeBarycenterProblem(clouds, cloud_weights, weights=lam,
                                                    epsilon=settings.epsilon)
    solver_ = continuous_barycenter.FreeWassersteinBarycenter(
        linear_solver=solver(settings), min_iterations=rounds, max_iterations=rounds,
        threshold=-1.0)
    out = solver_(prob, bar_size=x_init.shape[0], x_init=x_init)
    return out.x, out.costs


def frechet_variance(x: Points, clouds: Array, cloud_weights: Array, measure_weights: Array,
                     *, settings: SinkhornSettings) -> Scalar:
    """``sum_k lambda_k OT_eps(X, Q_k)``: the objective the barycenter minimises."""
    lam = measure_weights / jnp.sum(measure_weights)
    costs = jax.vmap(lambda y, b: solve(x, y, None, b, settings=settings).cost)(clouds,
                                                                              cloud_weights)
    return jnp.sum(lam * costs)


class DivergenceResult(NamedTuple):
    """Sinkhorn divergence and whether its two live solves converged."""

    value: Scalar
    converged: Bool[Array, ""]


def sinkhorn_divergence(x: Points, y: Points, a: Weights | None = None,
                        b: Weights | None = None, *, settings: SinkhornSettings,
                        self_cost_y: Scalar | None = None) -> DivergenceResult:
    """``S_eps(x, y) = OT_eps(x, y) - (OT_eps(x, x) + OT_eps(y, y)) / 2`` (ott-jax), >= 0.

    ``self_cost_y``: ``OT_eps(y, y)`` when it is already known (a fixed reference sample,
    :func:`self_cost`), which saves one of the three solves.
    """
    kw = _solver_kwargs(settings)
    a = _normalise(a, x.shape[0], x.dtype)
    b = _normalise(b, y.shape[0], y.dtype)
    value, out = _sdiv.sinkhorn_divergence(
        pointcloud.PointCloud, x, y, a=a, b=b, epsilon=settings.epsilon, solve_kwargs=kw,
        static_b=self_cost_y is not None, offset_static_b=self_cost_y)
    conv = [c for c in out.converged if c is not None]
    return DivergenceResult(value, jnp.all(jnp.stack([jnp.asarray(c) for c in conv])))


def self_cost(y: Points, b: Weights | None = None, *, settings: SinkhornSettings) -> Scalar:
    """``OT_eps(y, y)`` solved as the symmetric term of :func:`sinkhorn_divergence` is
    (parallel dual updates, momentum 0.5, as ott-jax does)."""
    b = _normalise(b, y.shape[0], y.dtype)
    kw = {**_solver_kwargs(settings), "parallel_dual_updates": True,
          "momentum": acceleration.Momentum(start=0, value=0.5)}
    geom = pointcloud.PointCloud(y, y, epsilon=settings.epsilon)
    return sinkhorn.Sinkhorn(**kw)(linear_problem.LinearProblem(geom, a=b, b=b)).reg_ot_cost


def batched_solve(x: Array, y: Array, *, settings: SinkhornSettings) -> OTSolution:
    """Independent solves for a batch of uniform clouds ``x`` ``(B, m, d)``, ``y``
    ``(B, k, d)`` under one ``vmap`` (fixed iterations, so no member waits on another)."""
    return jax.vmap(lambda u, v: solve(u, v, settings=settings))(x, y)
