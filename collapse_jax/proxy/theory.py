"""Closed forms for the proxy-reference check: the mass left in a mode that selection never
keeps again, and the offset power law it follows under accumulate (theory.md 1.3).
"""

from __future__ import annotations

import numpy as np

from collapse_jax.core._lazy import lazy
from collapse_jax.core._types import Float, FloatArray, IntScalar, RealArray, RealInput, RealScalar

special = lazy("scipy.special")


def exclusion_mass_ratio(pool: IntScalar, n: IntScalar, t: RealInput, paradigm: str
                         ) -> FloatArray:
    """Mass left at generation ``t`` (relative to generation 0) of a mode that selection
    never keeps again (theory.md 1.3 in its ``alpha -> 0`` limit, ``psi = 1``).

    Accumulate refits on the ``pool`` public points plus ``n`` kept points per generation,
    so the mode keeps its ``pool``-sample share ``pool / (pool + t n)``; accumulate-subsample
    keeps a uniform ``pool``-subset of that history, with the same expectation; replace loses
    the mode at once (0 for ``t >= 1``). Equals ``prod_{s=1}^t (1 - psi / (s + c))`` with
    ``psi = 1`` and ``c = pool / n`` (:func:`log_offset_product`).
    """
    t = np.asarray(t, dtype=float)
    if paradigm == "replace":
        return np.where(t >= 1, 0.0, 1.0)
    return pool / (pool + t * n)


def log_offset_product(psi: RealInput, t: RealInput, offset: RealScalar) -> FloatArray:
    """``log prod_{s=1}^t (1 - psi / (s + offset))``: the accumulate decay of theory.md 1.3
    for a pool that starts ``offset`` batches large (``offset = 1`` is
    :func:`log_selection_product`). ``psi`` and ``t`` broadcast."""
    psi = np.asarray(psi, dtype=float)
    t = np.asarray(t, dtype=float)
    c = float(offset)
    return (special.gammaln(t + c + 1.0 - psi) - special.gammaln(c + 1.0 - psi)
            - special.gammaln(t + c + 1.0) + special.gammaln(c + 1.0))


def fit_offset_exponent(log_ratio: RealArray, t: RealInput, offset: RealScalar,
                        grid: Float[np.ndarray, " g"] | None = None) -> FloatArray:
    """Least-squares ``psi`` of ``log_ratio[..., t] ~ log_offset_product(psi, t, offset)``
    over a grid (vectorised over leading axes, e.g. bootstrap resamples)."""
    if grid is None:
        grid = np.linspace(-0.5, 1.5, 2001)
    model = log_offset_product(grid[:, None], np.asarray(t)[None, :], offset)  # (G, T)
    y = np.asarray(log_ratio, dtype=float)
    sse = (np.sum(y**2, axis=-1)[..., None] - 2.0 * y @ model.T
           + np.sum(model**2, axis=1))
    return grid[np.argmin(sse, axis=-1)]
