"""Quality and diversity of generated images, measured in a classifier's feature space.

* Frechet distance ``FD = ||m_1 - m_2||^2 + Tr(S_1 + S_2 - 2 (S_2^{1/2} S_1 S_2^{1/2})^{1/2})``
  between Gaussians fitted to two feature sets: FID (Heusel et al. 2017) with Inception
  replaced by a classifier trained on the real digits (a Frechet *classifier* distance). It
  is the closed-form squared W2 of :func:`collapse_jax.core.gaussian.w2_squared`, with the matrix
  square roots taken by Newton-Schulz iterations (:func:`sqrtm_newton_schulz`): matrix
  products only, no LAPACK call. Batched LAPACK eigen-solves under ``vmap`` inside the
  retraining scan stalled the XLA CPU runtime on a loaded 2-core machine (the same stall
  :func:`collapse_jax.classic.fixed_design.spd_solve` avoids).
* Class-matched k-nearest-neighbour precision and recall (Kynkaanniemi et al. 2019) and
  coverage (Naeem et al. 2020): a generated image of class ``c`` is compared only with the
  real images of class ``c``.
* Pixel variance within each class: the plainest diversity read-out.

Every function acts on one seed; arrays are computed in the precision of their inputs.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from collapse_jax.core._types import Array, Float, Int
from collapse_jax.core.gaussian import covariance, moments

#: Newton-Schulz iterations: the error on an eigenvalue ``mu`` of ``A / ||A||_F`` shrinks
#: about 1.5x per step until ``sqrt(mu)`` is resolved, then quadratically; 60 steps resolve
#: ``mu`` down to ~1e-16, and unresolved smaller eigenvalues add at most ``sqrt(mu ||A||_F)``
#: each to a trace.
NS_ITERS = 60
#: Lift of ``A / ||A||_F`` before the iterations (float64; float32 inputs use NS_RIDGE_32):
#: far above rounding (1e-16) and resolved within ``NS_ITERS`` (sqrt(1e-13) = 3e-7 after
#: about 40 steps).
NS_RIDGE, NS_RIDGE_32 = 1e-13, 1e-6


def feature_gaussian(f: Float[Array, "m k"], w=None):
    """Mean and (MLE) covariance of the rows of ``f`` (optional row weights ``w``)."""
    m = moments(f, w)
    return m.mean, covariance(m)


def sqrtm_newton_schulz(a: Float[Array, "k k"], iters: int = NS_ITERS):
    """Symmetric square root of a positive semi-definite matrix by coupled Newton-Schulz
    iterations (Higham 2008, eq. 6.35) on ``A / c``, ``c = ||A||_F``:

        Y_0 = A / c,  Z_0 = I,  T = (3 I - Z_k Y_k) / 2,  Y_{k+1} = Y_k T,  Z_{k+1} = T Z_k,

    ``Y_k -> (A / c)^{1/2}``, so ``A^{1/2} = sqrt(c) Y_k``. Matrix products only (no LAPACK),
    which keeps batched programs off the CPU runtime's LAPACK path.

    The iteration diverges on a negative eigenvalue (``Y`` and ``Z`` grow like ``2.25^k``), and
    a rank-deficient ``A`` (the features of a collapsed generator: the cross term ``S_2^{1/2}
    S_1 S_2^{1/2}``) has zero eigenvalues that rounding can make slightly negative: a verified
    run at ``--quick`` sizes overflowed to NaN that way. So ``A / c`` is lifted by
    :data:`NS_RIDGE` ``I`` (which resolves within the iterations): each square-rooted
    eigenvalue moves by at most ``sqrt(NS_RIDGE c)``, a trace by ``k sqrt(NS_RIDGE c)``.
    """
    a = 0.5 * (a + a.T)
    c = jnp.maximum(jnp.sqrt(jnp.sum(a**2)), jnp.finfo(a.dtype).tiny)
    eye = jnp.eye(a.shape[0], dtype=a.dtype)

    def body(_, yz):
        y, z = yz
        t = 0.5 * (3.0 * eye - z @ y)
        return y @ t, t @ z

    ridge = NS_RIDGE if a.dtype == jnp.float64 else NS_RIDGE_32
    y, _ = jax.lax.fori_loop(0, iters, body, (a / c + ridge * eye, eye))
    y = 0.5 * (y + y.T)
    return jnp.sqrt(c) * y


def frechet_from_moments(mean1, cov1, mean2, cov2, cov2_sqrt=None):
    """``||m_1 - m_2||^2 + Tr(S_1 + S_2 - 2 (S_2^{1/2} S_1 S_2^{1/2})^{1/2})`` (squared W2 of
    two Gaussians) with Newton-Schulz square roots; pass ``cov2_sqrt`` when it is reused."""
    if cov2_sqrt is None:
        cov2_sqrt = sqrtm_newton_schulz(cov2)
    cross = sqrtm_newton_schulz(cov2_sqrt @ cov1 @ cov2_sqrt)
    bures = jnp.trace(cov1) + jnp.trace(cov2) - 2.0 * jnp.trace(cross)
    return jnp.sum((mean1 - mean2) ** 2) + jnp.maximum(bures, 0.0)


def frechet_distance(f1: Float[Array, "m k"], mean2, cov2, cov2_sqrt=None, w1=None):
    """Frechet distance between the feature rows ``f1`` and the Gaussian ``(mean2, cov2)``."""
    mean1, cov1 = feature_gaussian(f1, w1)
    return frechet_from_moments(mean1, cov1, mean2, cov2, cov2_sqrt)


def _sq_dists(a, b):
    d = jnp.sum(a**2, 1)[:, None] + jnp.sum(b**2, 1)[None, :] - 2.0 * a @ b.T
    return jnp.maximum(d, 0.0)


def knn_radii(f: Float[Array, "m k"], y: Int[Array, " m"], k: int):
    """Distance from each row to its ``k``-th nearest neighbour of the same class (self
    excluded; ``inf`` when the class has ``k`` rows or fewer)."""
    d = _sq_dists(f, f)
    same = (y[:, None] == y[None, :]) & ~jnp.eye(f.shape[0], dtype=bool)
    d = jnp.where(same, d, jnp.inf)
    kth = -jax.lax.top_k(-d, k)[0][:, k - 1]
    return jnp.sqrt(kth)


def precision_recall_coverage(fg, yg, fr, yr, radii_real, k: int):
    """Class-matched k-NN precision, recall and coverage of generated features ``fg``.

    precision: share of generated rows inside the k-NN ball of some real row of their class;
    recall: share of real rows inside the k-NN ball (among generated rows) of some generated
    row of their class; coverage: share of real rows whose own k-NN ball holds a generated row
    of their class.
    """
    d = jnp.sqrt(_sq_dists(fg, fr))  # (gen, real)
    same = yg[:, None] == yr[None, :]
    in_real_ball = same & (d <= radii_real[None, :])
    precision = jnp.mean(jnp.any(in_real_ball, axis=1))
    coverage = jnp.mean(jnp.any(in_real_ball, axis=0))
    radii_gen = knn_radii(fg, yg, k)
    recall = jnp.mean(jnp.any(same & (d <= radii_gen[:, None]), axis=0))
    return precision, recall, coverage


def pixel_variance(x: Float[Array, "m p"], y: Int[Array, " m"], classes: int):
    """Mean over classes of the mean per-pixel variance within the class."""
    onehot = jax.nn.one_hot(y, classes, dtype=x.dtype)  # (m, C)
    n = jnp.maximum(onehot.sum(0), 1.0)
    mean = (onehot.T @ x) / n[:, None]
    sq = (onehot.T @ x**2) / n[:, None]
    return jnp.mean(jnp.mean(sq - mean**2, axis=1))


def binary_pixel_variance(x: Float[Array, "m p"], y: Int[Array, " m"], classes: int):
    """:func:`pixel_variance` of the images thresholded at 1/2: how much the images of a class
    differ in which pixels are on, whatever the grey levels. Unlike the pixel variance of the
    images themselves, it does not rise when a model's images get sharper (grey strokes
    turning 0/1) without getting more varied."""
    return pixel_variance((x > 0.5).astype(x.dtype), y, classes)


def sharpness(x: Float[Array, "m p"]):
    """Mean over pixels and images of ``|2 x - 1|``: 0 for an all-grey (1/2) image, 1 for a
    0/1 image."""
    return jnp.mean(jnp.abs(2.0 * x - 1.0))
