"""Per-generation diversity and error metrics of a Gaussian fit."""

from __future__ import annotations

import jax.numpy as jnp

from collapse_jax.core import linalg
from collapse_jax.core._types import Matrix, Vector
from collapse_jax.core.gaussian import Moments, inv_sqrtm_psd, w2_squared


def logdet_psd(s: Matrix):
    """``log det S`` of a positive definite matrix (``-inf`` when singular)."""
    if s.shape[-1] == 1:
        return jnp.log(s[0, 0])
    logdet = linalg.logdet_spd(s)
    return jnp.where(jnp.isnan(logdet), -jnp.inf, logdet)


def dissipation(batch: Moments, mean_prev: Vector, cov_prev: Matrix) -> Matrix:
    """Dissipation matrix ``Psi = I - (B + a a^T)`` of a selected batch (theory.md 1.3).

    In the standardised coordinates of the fit that generated the batch,
    ``a = Sigma^{-1/2} (m - mu)`` is the batch's mean shift and
    ``B = Sigma^{-1/2} C Sigma^{-1/2}`` its (MLE) covariance. Under accumulate the pooled
    covariance obeys ``Sigma_t ~ Sigma^{1/2} (I - Psi / (t + 1)) Sigma^{1/2}``, so the trace
    decays like ``t^{-lambda_min(Psi)}``. The matrix is symmetric (symmetric square root);
    its eigenvalues do not depend on the choice of square root.
    """
    r = inv_sqrtm_psd(cov_prev)
    a = r @ (batch.mean - mean_prev)
    b = r @ (batch.scatter / batch.count) @ r
    d = mean_prev.shape[0]
    return jnp.eye(d, dtype=b.dtype) - (b + jnp.outer(a, a))


def min_eigenvalue(s: Matrix):
    """Smallest eigenvalue of a symmetric matrix."""
    if s.shape[-1] == 1:
        return s[0, 0]
    return linalg.eigvalsh(s)[0]


def gaussian_fit_metrics(
    mean: Vector,
    cov: Matrix,
    reference: Vector,
    true_mean: Vector,
    mean0: Vector,
    cov0: Matrix,
    cov0_sqrt: Matrix,
) -> dict:
    """Trace, log-det, squared distances of the mean to ``u*`` and ``mu*``, and the
    closed-form ``W2^2`` between the current fit and the initial model."""
    return {
        "trace": jnp.trace(cov),
        "logdet": logdet_psd(cov),
        "dist_ref": jnp.sum((mean - reference) ** 2),
        "dist_truth": jnp.sum((mean - true_mean) ** 2),
        "w2_init": w2_squared(mean, cov, mean0, cov0, cov0_sqrt),
    }
