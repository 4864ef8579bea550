"""Distributional metrics of a generator's samples against a Gaussian-mixture truth.

* Mode mass: the fraction of samples inside mode ``m``'s 99% ellipsoid
  ``(x - mu_m)^T Sigma_m^{-1} (x - mu_m) <= F^{-1}_{chi2_d}(0.99)``, divided by the truth's
  mass there (``0.99 w_m`` for well separated modes), so 1 means "as in the truth".
* Mode coverage: the fraction of modes whose mass ratio is at least ``coverage_fraction``.
* Tail-mode mass: the same ratio pooled over the tail modes.
* Sinkhorn divergence to a truth sample (ott-jax).
* k-NN precision and recall (Kynkäänniemi et al. 2019): precision is the fraction of samples
  inside the union of real k-NN balls; recall the fraction of real points inside the union
  of sample k-NN balls.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from collapse_jax.core import linalg, mixture, stats, transport
from collapse_jax.core._types import Array, Points


class MetricSettings(NamedTuple):
    """Static metric settings: the mode-coverage threshold, the tail modes, k of k-NN, the
    Sinkhorn settings of the divergence and how many sample points enter it (the first
    ``n_div``; ``None`` for all)."""

    coverage_fraction: float
    tail: tuple
    k: int
    sinkhorn: transport.SinkhornSettings
    n_div: int | None = None


def mode_mass_ratio(x: Points, truth: mixture.Mixture, w: Array | None = None) -> Array:
    """Fraction of ``x`` in each mode's 99% ellipsoid over the truth's mass there, ``(M,)``;
    with row weights ``w`` (zeros: padding), the weighted fraction."""
    d = x.shape[1]
    q = float(stats.chi2_ppf(0.99, d))
    prec = jax.vmap(linalg.spd_inv)(truth.covs)
    diff = x[None, :, :] - truth.means[:, None, :]
    m2 = jnp.einsum("mni,mij,mnj->mn", diff, prec, diff)
    inside = (m2 <= q).astype(x.dtype)
    frac = jnp.mean(inside, axis=1) if w is None else (inside @ w) / jnp.sum(w)
    return frac / (0.99 * truth.weights)


def _pairwise_sq(a, b):
    return jnp.maximum(jnp.sum(a**2, 1)[:, None] + jnp.sum(b**2, 1)[None] - 2.0 * a @ b.T, 0.0)


def knn_radii(x: Points, k: int) -> Array:
    """Squared distance of every row to its ``k``-th nearest other row (``k`` rounds of
    row minima, cheaper than a sort for small ``k``)."""
    d2 = _pairwise_sq(x, x)
    rows = jnp.arange(x.shape[0])
    d2 = d2.at[rows, rows].set(jnp.inf)

    def drop_min(d, _):
        j = jnp.argmin(d, axis=1)
        return d.at[rows, j].set(jnp.inf), jnp.min(d, axis=1)

    _, mins = jax.lax.scan(drop_min, d2, None, length=k)
    return mins[-1]


def precision_recall(fake: Points, real: Points, k: int, real_radii: Array | None = None
                     ) -> tuple[Array, Array]:
    """k-NN precision and recall of ``fake`` against ``real`` (pass ``real_radii =
    knn_radii(real, k)`` when ``real`` is fixed)."""
    r_real = knn_radii(real, k) if real_radii is None else real_radii
    r_fake = knn_radii(fake, k)
    d2 = _pairwise_sq(fake, real)
    precision = jnp.mean(jnp.any(d2 <= r_real[None, :], axis=1))
    recall = jnp.mean(jnp.any(d2 <= r_fake[:, None], axis=0))
    return precision, recall


def evaluate(x: Points, real: Points, truth: mixture.Mixture, settings: MetricSettings,
             real_self_cost=None, real_radii=None) -> dict:
    """All metrics of one sample ``x`` against the truth sample ``real`` (when evaluating
    many samples against one ``real``, pass ``real_self_cost = transport.self_cost(real)``
    and ``real_radii = knn_radii(real, k)``)."""
    ratio = mode_mass_ratio(x, truth)
    tail = jnp.asarray(settings.tail)
    w_tail = truth.weights[tail]
    prec, rec = precision_recall(x, real, settings.k, real_radii)
    div = transport.sinkhorn_divergence(x[: settings.n_div], real, settings=settings.sinkhorn,
                                        self_cost_y=real_self_cost)
    return {"coverage": jnp.mean(ratio >= settings.coverage_fraction),
            "tail_mass": jnp.sum(ratio[tail] * w_tail) / jnp.sum(w_tail),
            "mode_ratio": ratio,
            "precision": prec, "recall": rec,
            "sinkhorn_div": div.value, "div_converged": div.converged.astype(x.dtype)}


def tail_modes(weights, count: int) -> tuple:
    """Indices of the ``count`` smallest-weight modes (static tuple)."""
    import numpy as np

    order = np.argsort(np.asarray(weights), kind="stable")
    return tuple(int(i) for i in sorted(order[:count]))
