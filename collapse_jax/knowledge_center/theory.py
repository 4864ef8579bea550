"""Closed forms for verifier-filtered retraining of linear regression (Yi et al. 2025).

Host-side numpy/scipy; imports no kernels. theory.md section 2 (Yi, Liu, Cheng, Xu, arXiv
2510.16657): ``y = x^T theta* + xi``, ``xi ~ N(0, sigma^2)``; round ``k`` labels synthetic
rows with ``theta_k`` and the verifier keeps a row iff
``|y - x^T theta_c| <= r ||x|| + sigma_c``; OLS on the kept rows gives ``theta_{k+1}``.

**The one-dimensional toolkit (theory.md 2.4, INFERRED).** With the block design every row is
``x = s v_j``, so direction ``j`` decouples. In the standardised coordinate
``u = s (a - theta_{c,j}) / sigma`` of the current coefficient ``a`` a synthetic label is
``u + N(0, 1)`` and the verifier window is ``[-w, w]`` with ``w = (r s + sigma_c) / sigma``.
``Z_u ~ N(u, 1)`` truncated to the window has

* ``P_acc(u) = Phi(w - u) - Phi(-w - u)`` (acceptance probability),
* ``G(u) = E Z_u`` (the map of the mean), ``V(u) = Var Z_u = G'(u)``,
* ``rho(w) = sup_u V(u) = V(0) = 1 - 2 w phi(w) / (2 Phi(w) - 1)`` (the contraction).

The accepted mean gives ``T_j(a) = theta_{c,j} + (sigma / s) G(s (a - theta_{c,j}) / sigma)``,
whose only fixed point is ``theta_{c,j}``. A round with ``m`` accepted rows moves ``u`` to a
value with conditional mean ``G(u)`` and variance ``V(u) / m``, ``m ~ Bin(n, P_acc(u))``; a
direction with ``m = 0`` keeps its coefficient (the kernel's rule).

**Exact predictions.** :func:`propagate` carries the law of ``u_k`` itself through the rounds
(starting from the exact Student-t law of an OLS coordinate on Gaussian real rows), with the
exact conditional mean ``G(u)``, the exact conditional variance ``V(u) E[1/m; m >= 1]`` and the
exact failure probability ``(1 - P_acc(u))^n``. Only the *shape* of the conditional law of the
accepted mean is taken normal (a central limit over ``m ~ 10^3`` rows); the moments of
``u_{k+1}`` given the law of ``u_k`` are exact. The linearised forms (``rho^2`` per round,
``p sigma^2 rho / (n_acc (1 - rho^2))``) are kept as separate functions so that a check can
say which prediction it uses.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from collapse_jax.core._lazy import lazy
from collapse_jax.core._types import (
    ArrayLike,
    Float,
    FloatArray,
    IntScalar,
    Real,
    RealArray,
    RealInput,
    RealScalar,
)
from collapse_jax.core._validate import InvalidInput, check_float, check_int

integrate = lazy("scipy.integrate")
special = lazy("scipy.special")
stats = lazy("scipy.stats")

_SQRT2 = np.sqrt(2.0)
_SQRT_2_PI = np.sqrt(2.0 / np.pi)
#: A float array shaped like the argument ``u`` (annotation of the truncated-Gaussian maps).
_FU = Float[ArrayLike, "*u"]


# --------------------------------------------------------------------------------------
# The truncated-Gaussian toolkit
# --------------------------------------------------------------------------------------

def window(r: RealInput, sigma_c: RealInput, sigma: RealArray, s: RealArray = 1.0) -> FloatArray:
    """Standardised half-width ``w = (r s + sigma_c) / sigma`` of the verifier window for a
    row of norm ``s``."""
    return (np.asarray(r, dtype=float) * s + np.asarray(sigma_c, dtype=float)) / sigma


def truncated_moments(u: Real[ArrayLike, "*u"], w: RealArray) -> tuple[_FU, _FU, _FU]:
    """``(P_acc(u), G(u), V(u))`` for ``Z_u ~ N(u, 1)`` truncated to ``[-w, w]``.

    Numerically stable for any ``u`` (the window may lie deep in a tail): ``G`` is odd and
    ``V``, ``P_acc`` are even in ``u``, and for ``|u| > w`` the ratios use the scaled
    complementary error function. ``V`` is clipped to ``[0, 1]`` against rounding.
    """
    u = np.asarray(u, dtype=float)
    w = np.broadcast_to(np.asarray(w, dtype=float), u.shape) if np.ndim(w) else float(w)
    sign = np.where(u < 0, -1.0, 1.0)
    a = np.abs(u)
    # X' = -(Z_u - u) ~ N(0, 1) truncated to [lo, hi] = [a - w, a + w]; G = u - sign * E X'.
    lo, hi = a - w, a + w
    with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
        # Window straddling 0 (a <= w): Z >= Phi(w) - 1/2, the direct formulas are safe.
        z_d = special.ndtr(hi) - special.ndtr(lo)
        phi_lo, phi_hi = _phi(lo), _phi(hi)
        m_d = (phi_lo - phi_hi) / z_d
        v_d = 1.0 + (lo * phi_lo - hi * phi_hi) / z_d - m_d**2
        # Window in the upper tail (lo > 0): Z = phi(lo) * D with the Mills ratio
        # M(x) = Phibar(x) / phi(x) = sqrt(pi / 2) erfcx(x / sqrt 2).
        lo_t = np.maximum(lo, 0.0)
        e = np.exp(-0.5 * (hi**2 - lo_t**2))
        d = _mills(lo_t) - _mills(hi) * e
        m_t = (1.0 - e) / d
        v_t = 1.0 + (lo_t - hi * e) / d - m_t**2
        p_t = np.exp(_log_phi(lo_t)) * d
    tail = lo > 0
    p = np.where(tail, p_t, z_d)
    mean_x = np.where(tail, m_t, m_d)
    v = np.where(tail, v_t, v_d)
    g = u - sign * mean_x
    return p, g, np.clip(v, 0.0, 1.0)


def acceptance(u: Real[ArrayLike, "*u"], w: RealArray) -> _FU:
    """``P_acc(u) = Phi(w - u) - Phi(-w - u)``: chance that a synthetic row is kept."""
    return truncated_moments(u, w)[0]


def mean_map(u: Real[ArrayLike, "*u"], w: RealArray) -> _FU:
    """``G(u)``: mean of ``N(u, 1)`` truncated to ``[-w, w]`` (the map of one round)."""
    return truncated_moments(u, w)[1]


def variance_map(u: Real[ArrayLike, "*u"], w: RealArray) -> _FU:
    """``V(u) = G'(u)``: variance of ``N(u, 1)`` truncated to ``[-w, w]``."""
    return truncated_moments(u, w)[2]


def rho(w: RealInput) -> FloatArray:
    """Contraction ``rho(w) = V(0) = 1 - 2 w phi(w) / (2 Phi(w) - 1)`` (theory.md 2.4).

    ``sup_u V(u) = V(0)``: the map ``T_j`` is a contraction with this Lipschitz constant.
    """
    w = np.asarray(w, dtype=float)
    return 1.0 - 2.0 * w * _phi(w) / special.erf(w / _SQRT2)


def acceptance_at_center(w: RealInput) -> FloatArray:
    """``P_acc(0) = 2 Phi(w) - 1``: acceptance rate once the model sits at ``theta_c``."""
    return special.erf(np.asarray(w, dtype=float) / _SQRT2)


def direction_map(a: RealInput, theta_c: RealArray, w: RealArray, sigma: RealArray,
                  s: RealArray = 1.0) -> FloatArray:
    """Exact per-direction map ``T_j(a) = theta_c + (sigma/s) G(s (a - theta_c) / sigma)``:
    the expected next coefficient of direction ``j`` given the current one ``a`` (block
    design, infinitely many rows)."""
    a = np.asarray(a, dtype=float)
    return theta_c + (sigma / s) * mean_map(s * (a - theta_c) / sigma, w)


def direction_fixed_point(theta_c: RealScalar, w: RealScalar, sigma: RealScalar, s: RealScalar = 1.0,
                          bracket: RealScalar = 50.0) -> float:
    """Solve ``T_j(a) = a`` numerically (Brent). ``G(u) - u`` is strictly decreasing
    (``G' = V < 1``) and vanishes at ``u = 0``, so the root is ``theta_c`` itself: the
    verifier's knowledge centre, not the truth."""
    from scipy.optimize import brentq

    span = bracket * sigma / s
    return float(brentq(lambda a: direction_map(a, theta_c, w, sigma, s) - a,
                        theta_c - span, theta_c + span, xtol=1e-14, rtol=1e-14))


def linear_stationary_error(p: RealArray, sigma: RealArray, n: RealArray, w: RealInput,
                            s: RealArray = 1.0) -> FloatArray:
    """Linearised stationary ``E||theta_inf - theta_c||^2 = p sigma^2 rho / (s^2 n_acc
    (1 - rho^2))`` with ``n_acc = n P_acc(0)`` accepted rows per direction (theory.md 2.4,
    INFERRED). It ignores the curvature of ``G``/``V`` and the spread of the accepted count
    (``E[1/m] > 1/E[m]``); :func:`propagate` keeps both."""
    r_ = rho(w)
    n_acc = n * acceptance_at_center(w)
    return p * sigma**2 * r_ / (s**2 * n_acc * (1.0 - r_**2))


def theorem41_bound(rounds: IntScalar, err0: RealScalar, p: RealScalar, sigma: RealScalar,
                    w: RealScalar, n: RealScalar, s: RealScalar = 1.0
                    ) -> Float[np.ndarray, " k"]:
    """Theorem 4.1 (Yi et al., READ) for ``k = 0 .. rounds``:
    ``E||theta_k - theta_c||^2 <= rho^{2k} E||theta_0 - theta_c||^2
    + p sigma^2 / s^2 sum_{j<k} rho^{2(k-j)-1} / n_j``.

    ``n_j`` is read as the accepted rows per direction, ``n P_acc(0)`` (the reading under
    which the bound's limit equals the linearised stationary error); ``err0`` is
    ``E||theta_0 - theta_c||^2``.
    """
    r_ = float(rho(w))
    n_acc = n * float(acceptance_at_center(w))
    k = np.arange(rounds + 1)
    noise = p * sigma**2 / (s**2 * n_acc) * np.array(
        [np.sum(r_ ** (2 * (kk - np.arange(kk)) - 1)) for kk in k])
    return r_ ** (2 * k) * err0 + noise


def inverse_count_moment(n: IntScalar, prob: RealInput) -> Float[np.ndarray, "..."]:
    """``E[1/m; m >= 1]`` for ``m ~ Binomial(n, prob)`` (elementwise in ``prob``).

    ``E[1/m; m >= 1] = int_0^inf [(1 - P + P e^{-z})^n - (1 - P)^n] dz``. For ``n P >= 30``
    the integral runs by 64-point Gauss-Laguerre quadrature in ``y = n P z`` (relative
    error below 1e-12); otherwise the binomial sum is taken directly.
    """
    prob = np.clip(np.asarray(prob, dtype=float), 0.0, 1.0)
    out = np.zeros_like(prob)
    mu = n * prob
    big = mu >= 30.0
    if np.any(big):
        y, wt = _laguerre()
        pb = prob[big][:, None]
        c = mu[big][:, None]
        z = y[None, :] / c
        with np.errstate(divide="ignore"):
            log_q0 = n * np.log1p(-np.minimum(pb, 1.0 - 1e-300))
            val = np.exp(n * np.log1p(-pb * (-np.expm1(-z)))) - np.exp(log_q0)
        out[big] = np.sum(wt[None, :] * np.exp(y)[None, :] * val, axis=1) / c[:, 0]
    small = ~big & (prob > 0)
    if np.any(small):
        top = int(min(n, np.ceil(np.max(mu[small]) + 12.0 * np.sqrt(np.max(mu[small])) + 40)))
        m = np.arange(1, top + 1, dtype=float)[None, :]
        ps = prob[small][:, None]
        log_pmf = (special.gammaln(n + 1.0) - special.gammaln(m + 1.0)
                   - special.gammaln(n - m + 1.0) + m * np.log(ps)
                   + (n - m) * np.log1p(-np.minimum(ps, 1.0 - 1e-16)))
        out[small] = np.sum(np.where(m <= n, np.exp(log_pmf), 0.0) / m, axis=1)
    return out


# --------------------------------------------------------------------------------------
# The initial OLS error and the exact propagation of the per-direction law
# --------------------------------------------------------------------------------------

def ols_coordinate_dof(n0: IntScalar, p: IntScalar) -> int:
    """Degrees of freedom ``nu = n0 - p + 1`` of an OLS coordinate on ``n0`` Gaussian rows.

    With rows ``x ~ N(0, I_p)``, ``e = theta_0 - theta*`` has ``e_j = sigma Z / sqrt(chi2_nu)``
    (``1 / [(X^T X)^{-1}]_jj ~ chi2_nu``), i.e. ``e_j ~ (sigma / sqrt nu) t_nu``, and
    ``E||e||^2 = p sigma^2 / (n0 - p - 1)``.
    """
    return int(n0) - int(p) + 1


def ols_error(p: IntScalar, n0: IntScalar, sigma: RealArray) -> FloatArray:
    """``E||theta_0 - theta*||^2 = p sigma^2 / (n0 - p - 1)`` (Gaussian real rows, OLS)."""
    return p * sigma**2 / (n0 - p - 1.0)


def student_t_nodes(nu: RealScalar, size: IntScalar = 801
                    ) -> tuple[Float[np.ndarray, " k"], Float[np.ndarray, " k"]]:
    """Quadrature nodes and weights of the Student-t law ``t_nu`` (a sinh-spaced trapezoid
    rule that resolves the centre and reaches the tails; weights sum to 1)."""
    xi = np.linspace(-1.0, 1.0, size) * np.arcsinh(4000.0)
    t = np.sinh(xi)
    wt = stats.t.pdf(t, nu) * np.cosh(xi)
    return t, wt / wt.sum()


class DirectionLaw(NamedTuple):
    """Moments of the standardised coordinate ``u_k`` of one direction, ``k = 0 .. K``.

    ``mean = E u_k``, ``second = E u_k^2``, ``accept = E P_acc(u_{k-1})`` (row 0: 1, the real
    rows), ``cross = E u_k u_{k-1}`` (row 0: NaN), ``fail = P(m_k = 0)`` (row 0: 0).
    """

    mean: np.ndarray
    second: np.ndarray
    accept: np.ndarray
    cross: np.ndarray
    fail: np.ndarray


def propagate(nodes: Real[ArrayLike, " m"], weights: Real[ArrayLike, " m"], w: RealScalar, n: IntScalar,
              rounds: IntScalar) -> DirectionLaw:
    """Carry the law of ``u_k`` (one block direction, replace paradigm) through ``rounds``.

    ``(nodes, weights)`` is the law of ``u_0``. Given ``u`` a round keeps
    ``m ~ Bin(n, P_acc(u))`` rows; if ``m >= 1`` the new coordinate has mean ``G(u)`` and
    variance ``V(u) E[1/m | m >= 1]`` (exact), taken normal in shape; if ``m = 0`` it stays
    at ``u``. The continuous part is re-gridded every round (spacing a quarter of the
    narrowest component's standard deviation, nine standard deviations of margin); point
    masses left by failed rounds are carried as nodes.
    """
    nodes = np.asarray(nodes, dtype=float)
    weights = np.asarray(weights, dtype=float)
    mean = [float(weights @ nodes)]
    second = [float(weights @ nodes**2)]
    accept, cross, fail = [1.0], [np.nan], [0.0]
    for _ in range(rounds):
        moments, nodes, weights = _step(nodes, weights, w, n)
        for lst, v in zip((mean, second, accept, cross, fail), moments):
            lst.append(v)
    return DirectionLaw(*(np.asarray(x) for x in (mean, second, accept, cross, fail)))


def _step(nodes: Float[np.ndarray, " m"], weights: Float[np.ndarray, " m"], w: RealScalar, n: IntScalar,
          grid_max: int = 3000, sd_per_step: float = 4.0, tail_sd: float = 9.0
          ) -> tuple[tuple[float, ...], Float[np.ndarray, " k"], Float[np.ndarray, " k"]]:
    """One round of :func:`propagate`: ``(moments, new_nodes, new_weights)`` with moments
    ``(E u', E u'^2, E P_acc(u), E u' u, P(m = 0))``."""
    moments, (g, sd, cont, stay) = _round_moments(nodes, weights, w, n)
    nodes, weights = _regrid(g, sd, cont, nodes, stay, grid_max, sd_per_step, tail_sd)
    return moments, nodes, weights


def _round_moments(nodes: Float[np.ndarray, " m"], weights: Float[np.ndarray, " m"], w: RealScalar,
                   n: IntScalar) -> tuple[tuple[float, ...], tuple[Float[np.ndarray, " m"], ...]]:
    """Exact moments of ``u'`` after one round from the law ``(nodes, weights)`` of ``u``,
    and the mixture ``(means, sds, weights)`` of the continuous part plus the weights that
    stay put (no accepted row)."""
    p_acc, g, v = truncated_moments(nodes, w)
    with np.errstate(divide="ignore"):
        q0 = np.exp(n * np.log1p(-np.minimum(p_acc, 1.0)))
    inv_m = inverse_count_moment(n, p_acc)               # E[1/m; m >= 1]
    cont = weights * (1.0 - q0)
    var_c = np.where(1.0 - q0 > 0, v * inv_m / np.maximum(1.0 - q0, 1e-300), 0.0)
    stay = weights * q0
    moments = (float(cont @ g + stay @ nodes),
               float(cont @ (g**2 + var_c) + stay @ nodes**2),
               float(weights @ p_acc),
               float(cont @ (g * nodes) + stay @ nodes**2),
               float(weights @ q0))
    return moments, (g, np.sqrt(var_c), cont, stay)


def _regrid(means: Float[np.ndarray, " c"], sds: Float[np.ndarray, " c"], cw: Float[np.ndarray, " c"],
            point_nodes: Float[np.ndarray, " q"], point_w: Float[np.ndarray, " q"], grid_max: IntScalar,
            sd_per_step: RealScalar, tail_sd: RealScalar
            ) -> tuple[Float[np.ndarray, " k"], Float[np.ndarray, " k"]]:
    """Mixture ``sum_i cw_i N(means_i, sds_i^2)`` on a uniform grid plus point masses.

    The grid spans the components heavier than ``_LIGHT``; lighter ones (whose variance
    times weight is below 1e-12) are deposited on the nearest grid node, or carried as a
    point mass at their mean when they lie outside the grid.
    """
    pkeep = point_w > _NEGLIGIBLE
    pts, pws = point_nodes[pkeep], point_w[pkeep]
    heavy = cw > _LIGHT
    light = (cw > _NEGLIGIBLE) & ~heavy
    if not np.any(heavy):
        return np.concatenate([pts, means[light]]), np.concatenate([pws, cw[light]])
    mu, sd, c = means[heavy], np.maximum(sds[heavy], 1e-300), cw[heavy]
    lo = np.min(mu - tail_sd * sd)
    hi = np.max(mu + tail_sd * sd)
    dx = max(np.min(sd) / sd_per_step, (hi - lo) / (grid_max - 1))
    grid = np.arange(lo, hi + dx, dx)
    dens = np.zeros_like(grid)
    for start in range(0, mu.size, 512):  # bounded memory: grid x 512 components at a time
        sl = slice(start, start + 512)
        z = (grid[:, None] - mu[None, sl]) / sd[None, sl]
        dens += np.exp(-0.5 * z**2) @ (c[sl] / sd[sl])
    gw = dens * (c.sum() / dens.sum())
    lm, lw = means[light], cw[light]
    inside = (lm >= grid[0]) & (lm <= grid[-1])
    idx = np.clip(np.rint((lm[inside] - grid[0]) / dx).astype(int), 0, grid.size - 1)
    np.add.at(gw, idx, lw[inside])
    return (np.concatenate([grid, pts, lm[~inside]]),
            np.concatenate([gw, pws, lw[~inside]]))


class Setting(NamedTuple):
    """A point of the simulation in physical units (block design, replace paradigm)."""

    p: int
    n0: int
    n: int
    sigma: float
    sigma_c: float
    r: float
    delta: float
    s: float = 1.0


class Prediction(NamedTuple):
    """Exact per-round predictions ``k = 0 .. K`` for a :class:`Setting` (block, replace).

    ``err_center = E||theta_k - theta_c||^2``, ``err_star = E||theta_k - theta*||^2``,
    ``offset = E(theta_k - theta_c) . e`` along the bias direction ``e``, ``acc_rate`` the
    expected acceptance rate of round ``k`` (row 0: 1), ``lag = sum_j E[u_k u_{k-1}]`` and
    ``prev = sum_j E u_{k-1}^2`` in standardised units (row 0: NaN) for the lag-1
    contraction, ``fail`` the probability that some direction keeps no row in round ``k``.
    """

    err_center: np.ndarray
    err_star: np.ndarray
    offset: np.ndarray
    acc_rate: np.ndarray
    lag: np.ndarray
    prev: np.ndarray
    fail: np.ndarray


def predict(setting: Setting, rounds: IntScalar, *, t_nodes: IntScalar = 801) -> Prediction:
    """Exact (see :func:`propagate`) per-round moments of the block-design replace loop.

    The truth ``theta*`` and the centre ``theta_c = theta* + delta e_1`` differ in one block
    direction; the other ``p - 1`` directions are unbiased and identical in law. Row 0 is the
    OLS fit on ``n0`` Gaussian real rows (Student-t coordinates, :func:`ols_coordinate_dof`).
    """
    st = _check_setting("predict", setting)
    rounds = check_int("predict", "rounds", rounds, 0)
    w = float(window(st.r, st.sigma_c, st.sigma, st.s))
    nu = ols_coordinate_dof(st.n0, st.p)
    t, tw = student_t_nodes(nu, t_nodes)
    scale = st.s / np.sqrt(nu)                      # u = s e_j / sigma = (s / sqrt nu) t_nu
    u_star = -st.s * st.delta / st.sigma           # theta* - theta_c along e_1, standardised
    biased = propagate(u_star + scale * t, tw, w, st.n, rounds)
    if st.delta == 0.0:
        plain = biased
    else:
        plain = propagate(scale * t, tw, w, st.n, rounds)
    unit = (st.sigma / st.s) ** 2
    q = st.p - 1
    second = biased.second + q * plain.second
    err_center = unit * second
    err_star = unit * (biased.second - 2 * u_star * biased.mean + u_star**2 + q * plain.second)
    offset = (st.sigma / st.s) * biased.mean
    acc = (biased.accept + q * plain.accept) / st.p
    lag = biased.cross + q * plain.cross
    prev = np.concatenate([[np.nan], second[:-1]])
    fail = 1.0 - (1.0 - biased.fail) * (1.0 - plain.fail) ** q
    return Prediction(err_center, err_star, offset, acc, lag, prev, fail)


def stationary_error(setting: Setting, *, tol: RealScalar = 1e-10, max_rounds: IntScalar = 20000
                     ) -> tuple[float, float]:
    """Exact stationary ``E||theta_inf - theta_c||^2`` (block, replace) and the stationary
    lag-1 coefficient ``E[u_k u_{k-1}] / E[u_{k-1}^2]`` (``rho`` up to the curvature of
    ``G``).

    The law of one direction is iterated from the linearised stationary law
    ``N(0, rho / (n_acc (1 - rho^2)))`` until the remaining change, ``|E u_k^2 - E u_{k-1}^2|
    / (1 - rho^2)`` for a geometric approach, is below ``tol`` (relative). The stationary
    law does not depend on the start (the map contracts), so every direction contributes the
    same; compare :func:`linear_stationary_error`.
    """
    st = _check_setting("stationary_error", setting)
    w = float(window(st.r, st.sigma_c, st.sigma, st.s))
    r2 = float(rho(w)) ** 2
    v_lin = float(linear_stationary_error(1, 1.0, st.n, w))
    z = np.linspace(-12.0, 12.0, 241)
    nodes, wts = np.sqrt(v_lin) * z, np.exp(-0.5 * z**2)
    wts = wts / wts.sum()
    prev = float(wts @ nodes**2)
    for _ in range(max_rounds):
        (_, cur, _, cross, _), nodes, wts = _step(nodes, wts, w, st.n)
        if abs(cur - prev) <= tol * cur * max(1.0 - r2, 1e-12):
            break
        prev = cur
    return st.p * (st.sigma / st.s) ** 2 * cur, cross / prev


def one_step_error(setting: Setting, *, t_nodes: IntScalar = 801) -> float:
    """Exact ``E||theta_1 - theta*||^2`` by quadrature of the 1-D map over the Student-t law
    of the initial OLS error (block design): the near-term prediction of Theorem 3.1."""
    return float(predict(setting, 1, t_nodes=t_nodes).err_star[1])


def one_step_improvement(p: IntScalar, n0: IntScalar, n: IntScalar, sigma: RealScalar,
                         sigma_c: RealScalar, r_values: RealInput, delta_values: RealInput,
                         s: RealScalar = 1.0, *, t_nodes: IntScalar = 401
                         ) -> Float[np.ndarray, "n_delta n_r"]:
    """``E||theta_1 - theta*||^2 - E||theta_0 - theta*||^2`` on the grid
    ``(len(delta_values), len(r_values))`` by quadrature over the initial OLS error: negative
    where one verified round improves on the OLS fit. Its zero contour is the predicted
    improvement boundary of Theorem 3.1's landscape."""
    nu = ols_coordinate_dof(n0, p)
    t, tw = student_t_nodes(nu, t_nodes)
    scale = s / np.sqrt(nu)
    unit = (sigma / s) ** 2
    err0 = ols_error(p, n0, sigma)
    out = np.empty((len(delta_values), len(r_values)))
    for j, r_ in enumerate(r_values):
        _check_setting("one_step_improvement", Setting(p, n0, n, sigma, sigma_c, float(r_),
                                                        0.0, s))
        w = float(window(r_, sigma_c, sigma, s))
        plain = _round_moments(scale * t, tw, w, n)[0]
        for i, d in enumerate(delta_values):
            u_star = -s * float(d) / sigma
            b = _round_moments(u_star + scale * t, tw, w, n)[0] if d else plain
            err1 = unit * (b[1] - 2 * u_star * b[0] + u_star**2 + (p - 1) * plain[1])
            out[i, j] = err1 - err0
    return out


# --------------------------------------------------------------------------------------
# No verifier, isotropic design
# --------------------------------------------------------------------------------------

def no_verifier_slope(p: IntScalar, n: IntScalar, sigma: RealArray, s: RealArray = 1.0,
                      design: str = "block") -> FloatArray:
    """Growth of ``E||theta_k - theta*||^2`` per round without a verifier (T = identity).

    Each round adds an independent OLS error: ``p sigma^2 / (s^2 n)`` for the block design
    (``n`` rows of norm ``s`` per direction) and ``sigma^2 p^2 / (s^2 (p n - p - 1))`` for
    ``p n`` isotropic rows ``x ~ N(0, s^2 / p I)`` (``E (X^T X)^{-1} = p / (s^2 (N - p - 1))``).
    """
    if design == "block":
        return p * sigma**2 / (s**2 * n)
    if design == "isotropic":
        return sigma**2 * p**2 / (s**2 * (p * n - p - 1.0))
    raise InvalidInput(f"no_verifier_slope: design={design!r} is unknown; allowed one of "
                     "block, isotropic")


def _isotropic_row_law(p: IntScalar, r: RealScalar, sigma_c: RealScalar, sigma: RealScalar, s: RealScalar
                       ) -> tuple[Callable, Callable]:
    """``(moment, wx)`` for rows ``x ~ N(0, s^2 / p I)``: ``moment(f) = E f(||x||)`` by
    quadrature over the chi law of the norm, ``wx(norm)`` the verifier window of that row."""
    scale = s / np.sqrt(p)

    def moment(f):
        val, _ = integrate.quad(lambda c: stats.chi.pdf(c, p) * f(scale * c), 0.0, np.inf,
                                epsabs=0, epsrel=1e-11, limit=200)
        return val

    def wx(norm):
        return (r * norm + sigma_c) / sigma

    return moment, wx


def isotropic_contraction(p: IntScalar, r: RealScalar, sigma_c: RealScalar, sigma: RealScalar,
                          s: RealScalar = 1.0
                          ) -> tuple[float, float, float]:
    """Linearised contraction of the isotropic design (INFERRED here, not from the paper).

    Rows ``x ~ N(0, s^2 / p I)``: row ``x`` sees the window ``w(x) = (r ||x|| + sigma_c) /
    sigma``. Linearising the OLS map at ``theta_c`` gives ``(E[x x^T P_0])^{-1}
    E[x x^T P_0 rho]``, a multiple of the identity by symmetry:
    ``rho_iso = E[||x||^2 P_0(w) rho(w)] / E[||x||^2 P_0(w)]``, ``P_0(w) = 2 Phi(w) - 1``.
    Returns ``(rho_iso, rho_at_mean_w, mean_w)``; ``rho(mean w)`` is the block theory at the
    average window.
    """
    moment, wx = _isotropic_row_law(p, r, sigma_c, sigma, s)

    num = moment(lambda x: x**2 * acceptance_at_center(wx(x)) * rho(wx(x)))
    den = moment(lambda x: x**2 * acceptance_at_center(wx(x)))
    mean_w = moment(wx)
    return float(num / den), float(rho(mean_w)), float(mean_w)


def isotropic_linear_stationary_error(p: IntScalar, n: IntScalar, r: RealScalar, sigma_c: RealScalar,
                                      sigma: RealScalar,
                                      s: RealScalar = 1.0) -> float:
    """Linearised stationary ``E||theta - theta_c||^2`` of the isotropic design (INFERRED):
    ``p c / (N b^2 (1 - rho_iso^2))`` with ``N = p n`` rows, ``b = E[||x||^2 P_0] / p`` and
    ``c = sigma^2 E[||x||^2 P_0 rho] / p``."""
    moment, wx = _isotropic_row_law(p, r, sigma_c, sigma, s)

    b = moment(lambda x: x**2 * acceptance_at_center(wx(x))) / p
    c = sigma**2 * moment(lambda x: x**2 * acceptance_at_center(wx(x)) * rho(wx(x))) / p
    r_iso = (c / sigma**2) / b
    return float(p * c / (p * n * b**2 * (1.0 - r_iso**2)))


# --------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------

def _phi(x: RealInput) -> FloatArray:
    return np.exp(-0.5 * np.asarray(x, dtype=float) ** 2) / np.sqrt(2.0 * np.pi)


def _log_phi(x: RealInput) -> FloatArray:
    return -0.5 * np.asarray(x, dtype=float) ** 2 - 0.5 * np.log(2.0 * np.pi)


def _mills(x: RealInput) -> FloatArray:
    """``Phibar(x) / phi(x)`` for ``x >= 0`` without overflow."""
    return np.sqrt(np.pi / 2.0) * special.erfcx(np.asarray(x, dtype=float) / _SQRT2)


def _check_setting(fn: str, st: Setting) -> Setting:
    p = check_int(fn, "p", st.p, 1)
    n0 = check_int(fn, "n0", st.n0, p + 2)
    n = check_int(fn, "n", st.n, 1)
    sigma = check_float(fn, "sigma", st.sigma, 0.0, lo_open=True)
    sigma_c = check_float(fn, "sigma_c", st.sigma_c, 0.0)
    r = check_float(fn, "r", st.r, 0.0)
    delta = check_float(fn, "delta", st.delta, 0.0)
    s = check_float(fn, "s", st.s, 0.0, lo_open=True)
    if r * s + sigma_c <= 0:
        raise InvalidInput(f"{fn}: r={r} with sigma_c={sigma_c} leaves an empty verifier "
                         "window; allowed r > 0 or sigma_c > 0")
    return Setting(p, n0, n, sigma, sigma_c, r, delta, s)


@functools.cache
def _laguerre() -> tuple[np.ndarray, np.ndarray]:
    """64-point Gauss-Laguerre nodes and weights (computed on first use: scipy loads late)."""
    return special.roots_laguerre(64)


#: Probability below which a node of the propagated law is dropped (its contribution to a
#: second moment is below 1e-15 u^2, far under any Monte Carlo resolution).
_NEGLIGIBLE = 1e-15
_LIGHT = 1e-12
