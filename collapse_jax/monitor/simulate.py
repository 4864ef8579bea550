"""Gaussian recursive-generation loops whose collapse law is known (for tests and demos).

Each loop is simulated as it runs, not as an imposed curve:

* generation 0 is ``n`` real samples from ``N(0, Sigma_0)``;
* model ``t`` is the MLE Gaussian fit to the training pool after ``t`` rounds; generation
  ``t`` is ``n`` samples drawn from model ``t``;
* each round draws ``N = ceil(n / alpha)`` candidates from the current model and keeps the
  ``n`` closest to the reference point ``u*`` (``= 0``, the real mean) in the Mahalanobis
  distance of the current fit (top-alpha selection; ``alpha = None`` keeps ``n`` candidates
  without selection);
* ``accumulate``: the kept samples join the pool; ``replace``: they become the pool.

Known laws: accumulate without selection is bounded (Gerstgrasser et al. 2024);
accumulate + top-alpha decays as a power law with exponent ``psi(alpha, d)``;
replace + top-alpha decays geometrically with factor ``b (n - 1) / n`` per generation
(theory.md 1.3). ``iid`` draws every generation from the real distribution (healthy control).
"""

from __future__ import annotations

import math

import numpy as np


def gaussian_loop(mode: str, *, n: int, dim: int, generations: int, alpha: float | None = None,
                  seed: int = 0, scales=None, centre: str = "reference") -> list[np.ndarray]:
    """The samples of generations ``0..generations-1`` (``n`` each, ``dim`` features).

    ``centre``: ``"reference"`` selects around ``u* = 0``; ``"fit"`` around the current fit's
    mean (centred selection, for which the replace factor ``b (n - 1) / n`` is exact).
    ``scales``: standard deviations of the real distribution per feature (default all 1).
    """
    if mode not in ("accumulate", "replace", "iid"):
        raise ValueError(f"gaussian_loop: mode={mode!r}; allowed accumulate, replace, iid")
    rng = np.random.default_rng(seed)
    sd = np.ones(dim) if scales is None else np.asarray(scales, dtype=float)
    real = rng.standard_normal((n, dim)) * sd
    out = [real]
    pool_n, pool_s, pool_ss = n, real.sum(0), real.T @ real
    m_cand = n if alpha is None else math.ceil(n / alpha)
    for _ in range(1, generations):
        if mode == "iid":
            out.append(rng.standard_normal((n, dim)) * sd)
            continue
        mu = pool_s / pool_n
        cov = pool_ss / pool_n - np.outer(mu, mu)
        L = np.linalg.cholesky(cov)
        cand = mu + rng.standard_normal((m_cand, dim)) @ L.T
        if alpha is None:
            keep = cand[:n]
        else:
            u = np.zeros(dim) if centre == "reference" else mu
            r2 = _mahal2(cand, u, L)     # Mahalanobis distance under the current fit
            keep = cand[np.argsort(r2)[:n]]
        if mode == "accumulate":
            pool_n, pool_s, pool_ss = pool_n + n, pool_s + keep.sum(0), pool_ss + keep.T @ keep
        else:
            pool_n, pool_s, pool_ss = n, keep.sum(0), keep.T @ keep
        mu = pool_s / pool_n
        cov = pool_ss / pool_n - np.outer(mu, mu)
        L = np.linalg.cholesky(cov)
        out.append(mu + rng.standard_normal((n, dim)) @ L.T)
    return out


def _mahal2(x, centre, L):
    z = np.linalg.solve(L, (x - centre).T)
    return np.sum(z * z, axis=0)
