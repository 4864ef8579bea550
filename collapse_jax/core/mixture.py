"""Gaussian mixtures: the skewed ground truth, EM fitting as a ``lax.scan``, KDE, k-means.

A :class:`Mixture` holds ``C`` components (weights ``(C,)``, means ``(C, d)``, covariances
``(C, d, d)``). Every routine acts on one mixture and one (weighted) point cloud and batches
through ``vmap``; all loops are scans of fixed length, so no batch member waits for another.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import logsumexp

from collapse_jax.core import linalg
from collapse_jax.core._types import Array, Key, Points, Weights
from collapse_jax.core._validate import InvalidInput, check_float, check_int


class Mixture(NamedTuple):
    """Gaussian mixture ``sum_c w_c N(mu_c, Sigma_c)``."""

    weights: Array
    means: Array
    covs: Array


def truth_mixture(dim: int, modes: int, *, skew: float = 0.6, radius: float = 4.0,
                  scale: float = 0.5, dtype=jnp.float64) -> Mixture:
    """Skewed ground truth: ``modes`` isotropic components ``N(mu_m, scale^2 I)``.

    Weights ``w_m ∝ skew^m`` (``m = 0 .. M-1``; ``skew = 1`` is balanced, small ``skew``
    makes the last modes rare tail modes). Layout: in two dimensions the means sit on the
    circle of the given radius at angles ``2 pi m / M``; in ``d >= 3`` dimensions at
    ``radius * (+-e_j)`` (mode ``m`` on axis ``m mod d`` with sign ``(-1)^(m // d)``), which
    needs ``M <= 2 d``. Neighbouring modes are at least ``min(2 R sin(pi / M), R sqrt 2)``
    apart.
    """
    fn = "truth_mixture"
    dim = check_int(fn, "dim", dim, 1)
    modes = check_int(fn, "modes", modes, 1, max(2 * dim, 2) if dim != 2 else 64)
    skew = check_float(fn, "skew", skew, 0.0, 1.0, lo_open=True)
    radius = check_float(fn, "radius", radius, 0.0, lo_open=True)
    scale = check_float(fn, "scale", scale, 0.0, lo_open=True)
    w = skew ** jnp.arange(modes, dtype=dtype)
    w = w / jnp.sum(w)
    if dim == 2:
        ang = 2.0 * math.pi * jnp.arange(modes, dtype=dtype) / modes
        means = radius * jnp.stack([jnp.cos(ang), jnp.sin(ang)], axis=1)
    else:
        axis = jnp.arange(modes) % dim
        sign = jnp.where((jnp.arange(modes) // dim) % 2 == 0, 1.0, -1.0).astype(dtype)
        means = radius * sign[:, None] * jax.nn.one_hot(axis, dim, dtype=dtype)
    covs = jnp.broadcast_to(scale**2 * jnp.eye(dim, dtype=dtype), (modes, dim, dim))
    return Mixture(w, means, covs)


class Uniforms:
    """Consecutive slices of one block of i.i.d. uniforms on ``(0, 1)``.

    Every ``jax.random`` call compiles its own counter-based hash, and a kernel with a
    dozen of them spends most of its compile time there. Kernels therefore draw one block
    per generation (``jax.random.uniform``) and cut every variate they need from it:
    uniforms as they are, normals by Box-Muller, categories by inverse CDF. Sizes are
    static: :meth:`take` raises if the block is too small, and ``used`` reports how much
    was taken, so callers size the block exactly (see :func:`uniforms_needed`).
    """

    def __init__(self, block: Array):
        self._u = block
        self.used = 0

    def take(self, shape: tuple) -> Array:
        size = int(np.prod(shape))
        if self.used + size > self._u.shape[0]:
            raise InvalidInput(f"Uniforms.take: block of {self._u.shape[0]} exhausted "
                             f"(used {self.used}, asked {size})")
        out = jax.lax.dynamic_slice_in_dim(self._u, self.used, size).reshape(shape)
        self.used += size
        return out

    def normals(self, shape: tuple) -> Array:
        """Standard normals by Box-Muller (both outputs of every pair are used)."""
        size = int(np.prod(shape))
        half = (size + 1) // 2
        u = self.take((2, half))
        r = jnp.sqrt(-2.0 * jnp.log(u[0]))
        z = jnp.concatenate([r * jnp.cos(2.0 * math.pi * u[1]), r * jnp.sin(2.0 * math.pi * u[1])])
        return z[:size].reshape(shape)


class _Counter:
    """Stand-in for :class:`Uniforms` that only counts what a routine takes."""

    def __init__(self, dtype=jnp.float32):
        self.used = 0
        self._dtype = dtype

    def take(self, shape: tuple) -> Array:
        self.used += int(np.prod(shape))
        return jnp.full(shape, 0.5, self._dtype)

    def normals(self, shape: tuple) -> Array:
        size = int(np.prod(shape))
        self.used += 2 * ((size + 1) // 2)
        return jnp.zeros(shape, self._dtype)


def uniforms_needed(routine) -> int:
    """Number of uniforms ``routine(stream)`` takes (traced abstractly, nothing runs)."""
    counter = _Counter()
    jax.eval_shape(lambda: routine(counter))
    return counter.used


def uniform_block(key: Key, size: int, dtype) -> Uniforms:
    """One block of ``size`` uniforms on ``(0, 1)`` (the smallest positive float excluded
    from the left end so that logarithms stay finite)."""
    tiny = jnp.finfo(dtype).tiny
    return Uniforms(jax.random.uniform(key, (size,), dtype, minval=tiny, maxval=1.0))


def sample_from(stream, mix: Mixture, n: int) -> tuple[Points, Array]:
    """``n`` draws and their component labels, from a :class:`Uniforms` stream (component
    by inverse CDF of the weights, then ``mu + L z``)."""
    u = stream.take((n,))
    cdf = jnp.cumsum(mix.weights) / jnp.sum(mix.weights)
    labels = jnp.sum(u[:, None] > cdf[None, :-1], axis=1)
    z = stream.normals((n, mix.means.shape[1])).astype(mix.means.dtype)
    chol = jax.vmap(linalg.cholesky)(mix.covs)
    x = mix.means[labels] + jnp.einsum("nij,nj->ni", chol[labels], z)
    return x, labels


def sample(key: Key, mix: Mixture, n: int) -> tuple[Points, Array]:
    """``n`` draws and their component labels (one ``jax.random`` call)."""
    size = uniforms_needed(lambda s: sample_from(s, mix, n))
    return sample_from(uniform_block(key, size, mix.means.dtype), mix, n)


def component_log_density(x: Points, mix: Mixture) -> Array:
    """``log N(x_i; mu_c, Sigma_c)`` for every point and component, ``(n, C)``."""
    d = x.shape[1]
    chol = jax.vmap(linalg.cholesky)(mix.covs)

    def one(mu, l):
        z = linalg.solve_lower(l, (x - mu).T)
        return (-0.5 * jnp.sum(z**2, axis=0) - jnp.sum(jnp.log(jnp.diag(l)))
                - 0.5 * d * math.log(2.0 * math.pi))

    return jax.vmap(one, out_axes=1)(mix.means, chol)


def log_prob(x: Points, mix: Mixture) -> Array:
    """Mixture log-density at every point."""
    return logsumexp(component_log_density(x, mix) + jnp.log(mix.weights), axis=1)


def responsibilities(x: Points, mix: Mixture) -> Array:
    """Posterior component probabilities ``(n, C)``."""
    lp = component_log_density(x, mix) + jnp.log(mix.weights)
    return jnp.exp(lp - logsumexp(lp, axis=1, keepdims=True))


def moments_of(mix: Mixture) -> tuple[Array, Array]:
    """Mean and covariance of the mixture: ``sum w (Sigma + mu mu^T) - mean mean^T``."""
    w = mix.weights / jnp.sum(mix.weights)
    mean = w @ mix.means
    second = jnp.einsum("c,cij->ij", w, mix.covs + jnp.einsum("ci,cj->cij", mix.means,
                                                                mix.means))
    return mean, second - jnp.outer(mean, mean)


def farthest_point_init(x: Points, w: Weights, components: int, reg: float) -> Mixture:
    """Deterministic start for EM: greedy farthest-point centres among live rows (the first
    live row, then repeatedly the live row farthest from the chosen ones), equal weights and
    the pooled covariance shrunk by ``components^(2/d)``."""
    live = w > 0
    d = x.shape[1]
    first = jnp.argmax(live)

    def step(dist, _):
        i = jnp.argmax(jnp.where(live, dist, -jnp.inf))
        return jnp.minimum(dist, jnp.sum((x - x[i]) ** 2, axis=1)), i

    dist0 = jnp.sum((x - x[first]) ** 2, axis=1)
    _, rest = jax.lax.scan(step, dist0, None, length=components - 1)
    idx = jnp.concatenate([first[None], rest])
    wn = w / jnp.sum(w)
    mean = wn @ x
    cov = (wn[:, None] * (x - mean)).T @ (x - mean) / components ** (2.0 / d)
    cov = cov + reg * jnp.eye(d, dtype=x.dtype)
    return Mixture(jnp.full((components,), 1.0 / components, x.dtype), x[idx],
                   jnp.broadcast_to(cov, (components, d, d)))


def em_step(x: Points, w: Weights, mix: Mixture, reg: float) -> tuple[Mixture, Array]:
    """One EM step on weighted data; returns the new mixture and the weighted mean
    log-likelihood of the old one.

    M-step: ``N_c = sum_i w_i r_ic``, ``pi_c = N_c / sum w``, ``mu_c`` and ``Sigma_c`` the
    responsibility-weighted moments plus ``reg I``. A component whose responsibility mass is
    below ``1e-6`` of a point keeps its mean and covariance (it is dead: ``pi_c ~ 0``).

    Written as three matrix products over the points (the cost is linear in their number):
    the E-step whitens every point for all components at once (``x L_c^{-T}``, the inverse
    factors from the small pure-JAX triangular solve), and the M-step uses
    ``N_c Sigma_c = sum_i r_ic (x_i - mu_c)(x_i - m)^T`` for any fixed ``m`` (the weighted
    mean of the data here; the term in ``mu_c - m`` sums to zero), which centres one factor
    exactly and shares the other between the components (then symmetrised).
    """
    n, d = x.shape
    k = mix.weights.shape[0]
    chol = jax.vmap(linalg.cholesky)(mix.covs)
    eye = jnp.eye(d, dtype=x.dtype)
    linv = jax.vmap(lambda lo: linalg.solve_lower(lo, eye))(chol)  # (k, d, d)
    z = ((x @ linv.reshape(k * d, d).T).reshape(n, k, d)
         - jnp.einsum("kij,kj->ki", linv, mix.means)[None])
    logdet = jnp.sum(jnp.log(jnp.diagonal(chol, axis1=1, axis2=2)), axis=1)
    lp = (-0.5 * jnp.sum(z**2, axis=2) - logdet - 0.5 * d * math.log(2.0 * math.pi)
          + jnp.log(jnp.maximum(mix.weights, 1e-300)))
    norm = logsumexp(lp, axis=1, keepdims=True)
    r = jnp.exp(lp - norm) * w[:, None]
    nc = jnp.sum(r, axis=0)
    total = jnp.sum(w)
    alive = nc > 1e-6
    safe = jnp.where(alive, nc, 1.0)
    centre = (w @ x) / total
    xc = x - centre
    means_c = (r.T @ xc) / safe[:, None]
    rx = (r[:, :, None] * (xc[:, None, :] - means_c[None])).reshape(n, k * d)
    covs = (rx.T @ xc).reshape(k, d, d) / safe[:, None, None]
    covs = 0.5 * (covs + jnp.swapaxes(covs, 1, 2)) + reg * eye
    means = jnp.where(alive[:, None], means_c + centre, mix.means)
    covs = jnp.where(alive[:, None, None], covs, mix.covs)
    loglik = jnp.sum(w * norm[:, 0]) / total
    return Mixture(nc / total, means, covs), loglik


def em_fit(x: Points, w: Weights, init: Mixture, iterations: int, reg: float = 1e-3
           ) -> tuple[Mixture, Array]:
    """Maximum-likelihood mixture by ``iterations`` EM steps from ``init`` (a ``lax.scan``).

    Returns the fit and the per-step mean log-likelihood, which is non-decreasing (EM's
    monotonicity; up to the ``reg`` ridge).
    """
    def step(mix, _):
        new, ll = em_step(x, w, mix, reg)
        return new, ll

    return jax.lax.scan(step, init, None, length=iterations)


def kde_sample_from(stream, x: Points, w: Weights, bandwidth, n: int) -> Points:
    """``n`` draws from the Gaussian KDE of the rows of ``x`` with weights ``w``: a row
    chosen with probability ``w_i / sum w`` plus ``N(0, bandwidth^2 I)`` noise."""
    u = stream.take((n,))
    cdf = jnp.cumsum(w) / jnp.sum(w)
    idx = jnp.minimum(jnp.sum(u[:, None] > cdf[None, :], axis=1), x.shape[0] - 1)
    return x[idx] + bandwidth * stream.normals((n, x.shape[1])).astype(x.dtype)


def kde_moments(x: Points, w: Weights, bandwidth) -> tuple[Array, Array]:
    """Mean and covariance of the KDE: the weighted moments plus ``bandwidth^2 I``."""
    wn = w / jnp.sum(w)
    mean = wn @ x
    cov = (wn[:, None] * (x - mean)).T @ (x - mean)
    return mean, cov + bandwidth**2 * jnp.eye(x.shape[1], dtype=x.dtype)


def kmeans(x: Points, w: Weights, clusters: int, iterations: int = 20) -> Array:
    """Lloyd's k-means on the live rows (farthest-point start); returns the centres
    ``(clusters, d)``. An empty cluster keeps its centre."""
    centres = farthest_point_init(x, w, clusters, 0.0).means

    def step(c, _):
        d2 = jnp.sum((x[:, None, :] - c[None]) ** 2, axis=-1)
        assign = jax.nn.one_hot(jnp.argmin(d2, axis=1), clusters, dtype=x.dtype) * w[:, None]
        cnt = jnp.sum(assign, axis=0)
        new = (assign.T @ x) / jnp.where(cnt > 0, cnt, 1.0)[:, None]
        return jnp.where((cnt > 0)[:, None], new, c), None

    c, _ = jax.lax.scan(step, centres, None, length=iterations)
    return c
