"""Host-side statistics over seeds: means, standard errors, bootstrap CIs, rate fits.

Arrays put seeds on axis 0. Bootstrap resamples seeds (the independent unit) with a
``numpy.random.Generator`` the caller seeds, so every CI is reproducible.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import stats as _st

from .theory import loglog_window_slope

#: Two-sided 95% normal quantile, used for every mean +- z SE interval.
Z95 = float(_st.norm.ppf(0.975))


def mean_se(x, axis: int = 0):
    """Mean and standard error of the mean along ``axis`` (NaN-free input expected)."""
    x = np.asarray(x, dtype=float)
    n = x.shape[axis]
    return x.mean(axis=axis), x.std(axis=axis, ddof=1) / np.sqrt(n)


def mean_ci(x, level: float = 0.95):
    """``(mean, (lo, hi))``: normal interval ``mean +- z SE`` over seeds."""
    m, se = mean_se(np.ravel(x))
    z = float(_st.norm.ppf(0.5 + level / 2))
    return float(m), (float(m - z * se), float(m + z * se))


def bootstrap(stat: Callable[[np.ndarray], np.ndarray], data, *, rng: np.random.Generator,
              resamples: int = 1000, level: float = 0.95):
    """Percentile bootstrap over seeds (axis 0 of ``data``).

    ``stat`` maps an array of seed weights ``(B, S)`` (multinomial counts / S) to ``(B,)``
    statistics, which lets the caller vectorise; returns ``(estimate, (lo, hi))``.
    """
    data = np.asarray(data)
    s = data.shape[0]
    full = stat(np.full((1, s), 1.0 / s))[0]
    counts = rng.multinomial(s, np.full(s, 1.0 / s), size=resamples) / s
    boots = stat(counts)
    lo, hi = np.nanquantile(boots, [0.5 - level / 2, 0.5 + level / 2])
    return float(full), (float(lo), float(hi))


def loglog_slope_ci(t, curves, window, *, rng, resamples: int = 1000, level: float = 0.95):
    """Log-log slope of the seed-mean curve ``E y_t`` over ``window``, bootstrap CI.

    ``curves`` is ``(seeds, T)`` with positive entries; the slope is fitted to ``log E y_t``.
    """
    curves = np.asarray(curves, dtype=float)

    def stat(w):
        return loglog_window_slope(t, np.log(w @ curves), window)

    return bootstrap(stat, curves, rng=rng, resamples=resamples, level=level)


def log_linear_slope_ci(t, curves, window, *, rng, resamples: int = 1000, level: float = 0.95,
                        log_of_mean: bool = True):
    """Slope of ``log E y_t`` (or ``E log y_t``) against ``t`` over ``window``, bootstrap CI:
    the log of a per-generation geometric factor."""
    curves = np.asarray(curves, dtype=float)
    logs = None if log_of_mean else np.log(curves)

    def stat(w):
        return linear_slope(t, np.log(w @ curves) if log_of_mean else w @ logs, window)

    return bootstrap(stat, curves, rng=rng, resamples=resamples, level=level)


def linear_slope(t, y, window):
    """OLS slope of ``y`` (last axis) on ``t`` over ``window = (start, end)`` (inclusive)."""
    t = np.asarray(t, dtype=float)
    sel = (t >= window[0]) & (t <= window[1])
    x = t[sel] - t[sel].mean()
    y = np.asarray(y, dtype=float)[..., sel]
    return np.sum(x * (y - y.mean(axis=-1, keepdims=True)), axis=-1) / np.sum(x**2)


def seed_quantiles(curves, qs=(0.1, 0.5, 0.9)):
    """Per-generation quantiles over seeds, shape ``(len(qs), T)``."""
    return np.nanquantile(np.asarray(curves, dtype=float), qs, axis=0)


def dissipation_gap(psi, t, window):
    """Per-seed late-generation spectral gap of the dissipation matrix.

    ``psi`` is ``(seeds, T, d, d)``; returns ``lambda_min`` of each seed's mean of ``Psi_t``
    over ``window``. Averaging before taking the eigenvalue avoids the downward bias of the
    smallest eigenvalue of a noisy single-batch matrix.
    """
    psi = np.asarray(psi, dtype=float)
    t = np.asarray(t)
    sel = (t >= window[0]) & (t <= window[1])
    m = np.nanmean(psi[:, sel], axis=1)
    m = 0.5 * (m + np.swapaxes(m, -1, -2))
    return np.linalg.eigvalsh(m)[:, 0]
