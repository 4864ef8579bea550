"""The Gaussian family: weighted moments, pooled (mergeable) statistics, closed-form W2.

All functions act on one Gaussian (mean ``(d,)``, covariance ``(d, d)``) and batch through
``jax.vmap``. The closed forms are standard optimal-transport facts (theory.md section 1.6).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

from collapse_jax.core import linalg
from collapse_jax.core._types import (
    Array,
    ArrayLike,
    Float,
    Matrix,
    MatrixLike,
    PointsLike,
    RealScalar,
    Scalar,
    Vector,
    VectorLike,
    WeightsLike,
)
from collapse_jax.core._validate import InvalidInput


class Moments(NamedTuple):
    """Sufficient statistics of a weighted point set: total weight, mean and scatter.

    ``scatter = sum_i w_i (x_i - mean)(x_i - mean)^T``. Two ``Moments`` merge exactly with
    :func:`merge_moments` (Chan et al. parallel update), so a pool that accumulates every
    generation is O(d^2) memory per seed and numerically stable even when the covariance is
    many orders of magnitude below the squared mean.
    """

    count: Scalar
    mean: Vector
    scatter: Matrix


def moments(x: PointsLike, w: WeightsLike | None = None) -> Moments:
    """Weighted count, mean and scatter of the rows of ``x`` (``w`` defaults to ones)."""
    if w is None:
        w = jnp.ones(x.shape[0], x.dtype)
    w = w.astype(x.dtype)
    count = jnp.sum(w)
    if x.shape[1] == 1:  # plain reductions: far cheaper than batched dots on CPU
        mean = (jnp.sum(w * x[:, 0]) / count).reshape(1)
        scatter = jnp.sum(w * (x[:, 0] - mean[0]) ** 2).reshape(1, 1)
    else:
        mean = jnp.sum(w[:, None] * x, axis=0) / count
        xc = x - mean
        scatter = (w[:, None] * xc).T @ xc
    return Moments(count, mean, scatter)


def merge_moments(a: Moments, b: Moments) -> Moments:
    """Exact moments of the union of two weighted point sets."""
    count = a.count + b.count
    delta = b.mean - a.mean
    frac = b.count / count
    mean = a.mean + frac * delta
    scatter = a.scatter + b.scatter + jnp.outer(delta, delta) * (a.count * frac)
    return Moments(count, mean, scatter)


def covariance(m: Moments, estimator: str = "mle") -> Matrix:
    """Covariance from moments: ``scatter / count`` (MLE) or ``scatter / (count - 1)``."""
    if estimator == "mle":
        return m.scatter / m.count
    if estimator == "unbiased":
        return m.scatter / (m.count - 1.0)
    raise InvalidInput(f"covariance: estimator={estimator!r} is unknown; allowed one of mle, unbiased")


def _eigh_map(s: MatrixLike, f: Callable[[Array], Array]) -> Matrix:
    return linalg.psd_function(s, f)


def cholesky(s: MatrixLike) -> Matrix:
    """Lower Cholesky factor (:func:`collapse_jax.core.linalg.cholesky`: plain array operations,
    no LAPACK custom call under ``vmap``; a square root in one dimension)."""
    return linalg.cholesky(s)


def sqrtm_psd(s: MatrixLike) -> Matrix:
    """Symmetric square root of a positive semi-definite matrix (eigenvalues clipped at 0;
    Jacobi eigen-decomposition, :func:`collapse_jax.core.linalg.eigh`)."""
    return _eigh_map(s, jnp.sqrt)


def inv_sqrtm_psd(s: MatrixLike) -> Matrix:
    """Inverse symmetric square root ``S^{-1/2}`` of a positive definite matrix."""
    return _eigh_map(s, lambda lam: 1.0 / jnp.sqrt(lam))


def w2_squared(m1: VectorLike, s1: MatrixLike, m2: VectorLike, s2: MatrixLike,
               s2_sqrt: MatrixLike | None = None) -> Scalar:
    """Squared 2-Wasserstein distance between N(m1, s1) and N(m2, s2).

    ``W2^2 = ||m1 - m2||^2 + Tr(s1 + s2 - 2 (s2^{1/2} s1 s2^{1/2})^{1/2})``; in one dimension
    this is ``(m1 - m2)^2 + (sigma1 - sigma2)^2``. Pass ``s2_sqrt`` when it is reused.
    """
    if s2_sqrt is None:
        s2_sqrt = sqrtm_psd(s2)
    cross = sqrtm_psd(s2_sqrt @ s1 @ s2_sqrt)
    bures = jnp.trace(s1) + jnp.trace(s2) - 2.0 * jnp.trace(cross)
    return jnp.sum((m1 - m2) ** 2) + jnp.maximum(bures, 0.0)


def transport_matrix(s0: MatrixLike, s1: MatrixLike) -> Matrix:
    """Matrix of the linear Monge map from N(0, s0) to N(0, s1).

    ``A = s0^{-1/2} (s0^{1/2} s1 s0^{1/2})^{1/2} s0^{-1/2}``, so that ``A s0 A = s1``.
    """
    r = sqrtm_psd(s0)
    ri = inv_sqrtm_psd(s0)
    return ri @ sqrtm_psd(r @ s1 @ r) @ ri


def mccann_geodesic(m0: VectorLike, s0: MatrixLike, m1: VectorLike, s1: MatrixLike, tau: RealScalar
                    ) -> tuple[VectorLike, Matrix]:
    """Point at time ``tau`` on the W2 geodesic from N(m0, s0) to N(m1, s1).

    McCann interpolation: ``m = (1 - tau) m0 + tau m1`` and
    ``S = ((1 - tau) I + tau A) s0 ((1 - tau) I + tau A)`` with ``A`` from
    :func:`transport_matrix`; it satisfies ``W2(P_0, P_tau) = tau W2(P_0, P_1)``.
    """
    d = m0.shape[-1]
    a = transport_matrix(s0, s1)
    g = (1.0 - tau) * jnp.eye(d, dtype=s0.dtype) + tau * a
    return (1.0 - tau) * m0 + tau * m1, g @ s0 @ g


def w2_barycenter(
    means: Float[ArrayLike, "k d"], covs: Float[ArrayLike, "k d d"],
    weights: Float[ArrayLike, " k"] | None = None, iterations: int = 50,
) -> tuple[VectorLike, Matrix]:
    """W2 barycenter of K Gaussians (means ``(K, d)``, covariances ``(K, d, d)``).

    Mean ``sum_k lambda_k m_k``; covariance by the fixed-point iteration of Alvarez-Esteban
    et al. (2016), ``S <- S^{-1/2} (sum_k lambda_k (S^{1/2} S_k S^{1/2})^{1/2})^2 S^{-1/2}``,
    whose fixed point solves ``S = sum_k lambda_k (S^{1/2} S_k S^{1/2})^{1/2}``. In one
    dimension the barycenter standard deviation is ``sum_k lambda_k sigma_k``.
    """
    k = means.shape[0]
    if weights is None:
        weights = jnp.full((k,), 1.0 / k, means.dtype)
    mean = weights @ means

    def step(s, _):
        r = sqrtm_psd(s)
        ri = inv_sqrtm_psd(s)
        inner = jnp.einsum("k,kij->ij", weights, jax.vmap(lambda c: sqrtm_psd(r @ c @ r))(covs))
        return ri @ inner @ inner @ ri, None

    s0 = jnp.einsum("k,kij->ij", weights, covs)
    s, _ = jax.lax.scan(step, s0, None, length=iterations)
    return mean, 0.5 * (s + s.T)


def entropic_cross_covariance(s0: MatrixLike, s1: MatrixLike, epsilon: RealScalar) -> Matrix:
    """Cross-covariance of the entropic OT plan between N(., s0) and N(., s1).

    For the cost ``||x - y||^2`` and the regulariser ``epsilon KL(P | mu x nu)`` (ott-jax's
    convention), the optimal plan is Gaussian with cross-covariance (Janati et al. 2020,
    with ``sigma^2 = epsilon / 2``)
    ``C = (1/2) s0^{1/2} D s0^{-1/2} - (sigma^2 / 2) I``, ``D = (4 s0^{1/2} s1 s0^{1/2} +
    sigma^4 I)^{1/2}``; it tends to the Monge coupling ``s0 A`` as ``epsilon -> 0``. In one
    dimension ``c = (sqrt(4 a^2 b^2 + sigma^4) - sigma^2) / 2``.
    """
    d = s0.shape[-1]
    sig2 = 0.5 * epsilon
    eye = jnp.eye(d, dtype=s0.dtype)
    r = sqrtm_psd(s0)
    ri = inv_sqrtm_psd(s0)
    dm = sqrtm_psd(4.0 * r @ s1 @ r + sig2**2 * eye)
    return 0.5 * r @ dm @ ri - 0.5 * sig2 * eye


def entropic_map_matrix(s0: MatrixLike, s1: MatrixLike, epsilon: RealScalar) -> Matrix:
    """Matrix ``G`` of the entropic barycentric map ``T(x) = m1 + G (x - m0)``,
    ``G = C^T s0^{-1}`` (:func:`entropic_cross_covariance`); ``G -> A`` of
    :func:`transport_matrix` as ``epsilon -> 0``."""
    c = entropic_cross_covariance(s0, s1, epsilon)
    return linalg.spd_solve(s0, c).T


def entropic_geodesic(m0: VectorLike, s0: MatrixLike, m1: VectorLike, s1: MatrixLike,
                      tau: RealScalar, epsilon: RealScalar) -> tuple[VectorLike, Matrix]:
    """Law of ``(1 - tau) x + tau T_eps(x)``, ``x ~ N(m0, s0)``: the population limit of the
    point-cloud geodesic :func:`collapse_jax.core.transport.geodesic_cloud`. Mean
    ``(1 - tau) m0 + tau m1``, covariance ``H s0 H^T`` with ``H = (1 - tau) I + tau G``;
    equals :func:`mccann_geodesic` at ``epsilon = 0``."""
    d = m0.shape[-1]
    h = (1.0 - tau) * jnp.eye(d, dtype=s0.dtype) + tau * entropic_map_matrix(s0, s1, epsilon)
    return (1.0 - tau) * m0 + tau * m1, h @ s0 @ h.T


def entropic_barycenter(means: Float[ArrayLike, "k d"], covs: Float[ArrayLike, "k d d"],
                        weights: Float[ArrayLike, " k"] | None, epsilon: RealScalar,
                        iterations: int = 200) -> tuple[VectorLike, Matrix]:
    """Fixed point of the barycentric-projection iteration ``X <- sum_k lambda_k T_k(X)``
    on Gaussians (the population limit of the free-support barycenter with entropic maps).

    With ``T_k(x) = m_k + G_k(S) (x - m)`` (:func:`entropic_map_matrix`) the support stays
    Gaussian: mean ``sum_k lambda_k m_k`` and ``S <- H S H^T``, ``H = sum_k lambda_k G_k(S)``.
    At ``epsilon = 0`` this is the iteration of :func:`w2_barycenter`; in one dimension with
    one measure the fixed point has variance ``b^2 - epsilon / 2``.
    """
    k = means.shape[0]
    if weights is None:
        weights = jnp.full((k,), 1.0 / k, means.dtype)
    mean = weights @ means

    def step(s, _):
        h = jnp.einsum("k,kij->ij", weights,
                       jax.vmap(lambda c: entropic_map_matrix(s, c, epsilon))(covs))
        s = h @ s @ h.T
        return 0.5 * (s + s.T), None

    s0 = jnp.einsum("k,kij->ij", weights, covs)
    s, _ = jax.lax.scan(step, s0, None, length=iterations)
    return mean, s
