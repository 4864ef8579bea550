"""Linear-regression pieces of verifier-filtered retraining (Yi et al. 2025, theory.md 2.1).

Pure JAX, one seed: real data and OLS, the knowledge-ball verifier and one synthetic round
under the two designs. A round returns sufficient statistics of the *accepted* rows
(``X_A^T X_A``, ``X_A^T y_A``, counts), so the replace and accumulate paradigms are both a
solve away and no growing arrays are kept.

* ``block``: ``n`` rows ``x = s e_j`` per basis direction ``j`` (``p n`` rows in all). The
  Gram matrix of the accepted rows is ``diag(s^2 m_j)``, so OLS is the per-direction mean of
  the accepted ``y / s`` and the directions decouple (theory.md 2.4).
* ``isotropic``: ``p n`` rows ``x ~ N(0, s^2 / p I_p)`` (``E||x||^2 = s^2``), drawn once per
  seed (a fixed design like the block one; the labels are fresh every round).

The verifier keeps a row iff ``|y - x^T theta_c| <= r ||x|| + sigma_c``; ``verify = 0``
keeps every row (no verifier).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from collapse_jax.core import _random, linalg
from collapse_jax.core._types import Array, Key, Matrix, Vector


class RoundStats(NamedTuple):
    """Sufficient statistics of the accepted rows of one round.

    ``gram = X_A^T X_A`` (``(p, p)``), ``moment = X_A^T y_A`` (``(p,)``), ``count`` accepted
    rows per block direction (``(p,)``; the isotropic design puts the total in entry 0 and
    zeros elsewhere), ``total`` accepted rows.
    """

    gram: Matrix
    moment: Vector
    count: Array
    total: Array


def real_data(key: Key, n0: int, theta_star: Vector, sigma, dtype) -> RoundStats:
    """``n0`` real rows ``x ~ N(0, I_p)``, ``y = x^T theta* + sigma xi``, as sufficient
    statistics (every row counts)."""
    p = theta_star.shape[0]
    draws = _random.normal(key, (n0, p + 1), dtype)   # one draw: rows and label noise
    x = draws[:, :p]
    y = x @ theta_star + sigma * draws[:, p]
    count = jnp.zeros((p,), dtype).at[0].set(n0)
    return RoundStats(x.T @ x, x.T @ y, count, jnp.asarray(n0, dtype))


def block_round(key: Key, theta: Vector, theta_c: Vector, n: int, r, sigma, sigma_c, s,
                verify, sample_dtype) -> RoundStats:
    """One synthetic round of the block design.

    Direction ``j`` gets ``n`` rows ``x = s e_j`` labelled ``y = s theta_j + sigma xi``; the
    verifier keeps a row iff ``|s (theta_j - theta_{c,j}) + sigma xi| <= r s + sigma_c``.
    """
    dtype = theta.dtype
    p = theta.shape[0]
    xi = _random.normal(key, (p, n), sample_dtype).astype(dtype)
    noise = sigma * xi
    resid_c = (s * (theta - theta_c))[:, None] + noise
    keep = jnp.abs(resid_c) <= r * s + sigma_c
    keep = jnp.where(verify > 0, keep, True).astype(dtype)
    count = keep.sum(axis=1)
    # sum of accepted y = count * s theta_j + sum of accepted noise
    y_sum = count * s * theta + (keep * noise).sum(axis=1)
    return RoundStats(jnp.diag(s**2 * count), s * y_sum, count, count.sum())


def truncated_normal_moments(a, b):
    """Mean and variance of a standard normal truncated to ``[a, b]`` (elementwise), and the
    window's mass ``Phi(b) - Phi(a)``. The mass is taken from the tail nearer to the window
    (no cancellation when the window lies far out); where it underflows, the mean is the
    window's nearer edge and the variance 0 (a count drawn with that mass is 0 anyway)."""
    # reflect so that the window's centre is <= 0: Phi differences of lower tails are accurate
    flip = (a + b) > 0
    lo, hi = jnp.where(flip, -b, a), jnp.where(flip, -a, b)
    ndtr = jax.scipy.special.ndtr
    mass = ndtr(hi) - ndtr(lo)
    pdf_lo, pdf_hi = jnp.exp(-0.5 * lo * lo), jnp.exp(-0.5 * hi * hi)
    inv_sqrt_2pi = 0.3989422804014327
    ok = mass > 1e-280
    m = jnp.where(ok, mass, 1.0)
    mean = inv_sqrt_2pi * (pdf_lo - pdf_hi) / m
    lo_f = jnp.where(jnp.isfinite(lo), lo, 0.0)
    hi_f = jnp.where(jnp.isfinite(hi), hi, 0.0)
    second = 1.0 + inv_sqrt_2pi * (lo_f * pdf_lo - hi_f * pdf_hi) / m
    var = jnp.clip(second - mean * mean, 0.0, None)
    mean = jnp.where(ok, mean, hi)
    var = jnp.where(ok, var, 0.0)
    return jnp.where(flip, -mean, mean), var, mass


def block_round_sufficient(key: Key, theta: Vector, theta_c: Vector, n: int, r, sigma,
                           sigma_c, s, verify, sample_dtype) -> RoundStats:
    """:func:`block_round` drawing only each direction's sufficient statistics (``2 p``
    draws instead of ``p n``).

    Direction ``j`` keeps a row iff its noise ``xi`` falls in ``[a_j, b_j]`` (``a, b =
    (-s (theta_j - theta_{c,j}) -+ (r s + sigma_c)) / sigma``). The accepted count is drawn
    exactly, ``m_j ~ Binomial(n, Phi(b_j) - Phi(a_j))``; the sum of the accepted noise given
    ``m_j`` is a sum of ``m_j`` i.i.d. truncated normals, drawn from the normal law with its
    exact mean ``m_j mu_T`` and variance ``m_j sigma_T^2`` (the central limit approximation,
    whose only error is the sum's skewness, ``gamma_T / sqrt(m_j)``). Without the verifier the
    sum is ``N(0, n)`` exactly.
    """
    dtype = theta.dtype
    p = theta.shape[0]
    k_count, k_sum = jax.random.split(key)
    half = (r * s + sigma_c) / sigma
    centre = -s * (theta - theta_c) / sigma
    mu_t, var_t, mass = truncated_normal_moments(centre - half, centre + half)
    verified = verify > 0
    prob = jnp.where(verified, mass, 1.0)
    count = jax.random.binomial(k_count, jnp.asarray(n, dtype), prob, (p,), dtype)
    count = jnp.where(verified, count, jnp.asarray(n, dtype))
    mean = jnp.where(verified, mu_t, 0.0)
    var = jnp.where(verified, var_t, 1.0)
    eps = _random.normal(k_sum, (p,), sample_dtype).astype(dtype)
    noise_sum = sigma * (count * mean + jnp.sqrt(count * var) * eps)
    y_sum = count * s * theta + noise_sum
    return RoundStats(jnp.diag(s**2 * count), s * y_sum, count, count.sum())


class IsotropicDesign(NamedTuple):
    """A fixed standardised isotropic design and what every round reuses.

    ``z``: ``p n`` rows ``N(0, I_p)``; ``z_norm``: their norms; ``z_center = z theta_c``.
    """

    z: Array
    z_norm: Array
    z_center: Array


def isotropic_design(key: Key, p: int, n: int, theta_c: Vector, dtype) -> IsotropicDesign:
    """Standardised isotropic design: ``p n`` rows ``z ~ N(0, I_p)``, drawn once per seed (a
    fixed design, like the block design; labels are fresh every round). The rows used are
    ``x = (s / sqrt p) z``, so ``E||x||^2 = s^2``; the scale is applied in
    :func:`isotropic_round` so that one design serves every sweep point."""
    z = _random.normal(key, (p * n, p), dtype)
    return IsotropicDesign(z, jnp.sqrt(jnp.sum(z**2, axis=1)), z @ theta_c)


def isotropic_round(key: Key, design: IsotropicDesign, theta: Vector, r, sigma, sigma_c, s,
                    verify, sample_dtype) -> RoundStats:
    """One synthetic round on the isotropic design ``x = (s / sqrt p) z``:
    ``y = x^T theta + sigma xi``; a row is kept iff ``|y - x^T theta_c| <= r ||x|| + sigma_c``.
    """
    dtype = theta.dtype
    z = design.z
    p = theta.shape[0]
    scale = s / jnp.sqrt(jnp.asarray(p, dtype))
    noise = sigma * jax.random.normal(key, (z.shape[0],), sample_dtype).astype(dtype)
    y = scale * (z @ theta) + noise
    resid_c = y - scale * design.z_center
    keep = jnp.abs(resid_c) <= r * scale * design.z_norm + sigma_c
    keep = jnp.where(verify > 0, keep, True).astype(dtype)
    total = keep.sum()
    gram = scale**2 * jnp.einsum("ni,nj,n->ij", z, z, keep)
    moment = scale * jnp.einsum("ni,n->i", z, keep * y)
    return RoundStats(gram, moment, jnp.zeros((p,), dtype).at[0].set(total), total)


def ols(stats: RoundStats, fallback: Vector, block: bool):
    """OLS on accumulated statistics, or ``fallback`` where they do not determine it.

    Returns ``(theta, failed)``. Block design: a direction with no accepted row keeps its
    ``fallback`` coordinate (the others are fitted). General design: fewer than ``p``
    accepted rows, or a singular Gram matrix (non-finite solve), keeps the whole
    ``fallback``. ``failed`` is 1.0 when anything fell back, else 0.0.
    """
    p = fallback.shape[0]
    if block:
        diag = jnp.diagonal(stats.gram)
        ok = diag > 0
        theta = jnp.where(ok, stats.moment / jnp.where(ok, diag, 1.0), fallback)
        return theta, jnp.any(~ok).astype(fallback.dtype)
    theta = linalg.spd_solve(stats.gram, stats.moment)
    ok = (stats.total >= p) & jnp.all(jnp.isfinite(theta))
    return jnp.where(ok, theta, fallback), (~ok).astype(fallback.dtype)


def merge(a: RoundStats, b: RoundStats) -> RoundStats:
    """Pool two sets of rows (the accumulate paradigm)."""
    return RoundStats(a.gram + b.gram, a.moment + b.moment, a.count + b.count, a.total + b.total)
