"""Closed forms of accumulate and replace without selection for the moment refit (theory.md 3.8).

Gerstgrasser et al.'s accumulate paradigm, exactly in expectation: the baseline that the
power-law check (selection on top of it) and the real-mixing check (a growing real share)
both set beside their own curves.
"""

from __future__ import annotations

import numpy as np

from collapse_jax.core._types import Float, RealInput, RealScalar


def accumulate_trace_ratio(n: RealScalar, t: RealInput, estimator: str = "mle"
                           ) -> float | Float[np.ndarray, "..."]:
    """E Tr Sigma_t / Tr Sigma* under accumulate without selection (theory.md 3.8).

    Pool of ``n (s + 1)`` points after generation ``s``; each generation adds ``n`` fresh
    draws from the current fit. In expectation, exactly:

    * MLE: generation 0 gives ``(n - 1) / n`` and each generation multiplies by
      ``1 - 1 / (n (s + 1)^2)``; the ``t -> inf`` limit is ``sin(pi/sqrt(n)) / (pi/sqrt(n))``.
    * unbiased: generation 0 gives 1 and each generation multiplies by
      ``1 - 1 / ((s + 1) (n (s + 1) - 1))``.
    """
    t = np.atleast_1d(np.asarray(t, dtype=int))
    s = np.arange(1, int(t.max()) + 1, dtype=float)
    if estimator == "mle":
        start, factors = (n - 1.0) / n, 1.0 / (n * (s + 1.0) ** 2)
    else:
        start, factors = 1.0, 1.0 / ((s + 1.0) * (n * (s + 1.0) - 1.0))
    logs = np.concatenate([[0.0], np.cumsum(np.log1p(-factors))])
    out = start * np.exp(logs[t])
    return out if out.size > 1 else float(out[0])


def replace_trace_ratio(n: RealScalar, t: RealInput, ridge_share: RealScalar = 0.0
                        ) -> float | Float[np.ndarray, "..."]:
    """E Tr Sigma_t / Tr Sigma_0 under replace without selection: each generation refits the
    mean and MLE covariance (plus ``ridge I``) to ``n`` fresh draws of the current fit.

    ``E[S | fit] = (n - 1)/n Sigma`` for any law with a covariance, so with
    ``rho = (n - 1)/n`` and ``c = ridge d / Tr Sigma_0`` (``ridge_share``), exactly:
    ``rho^t + c (1 - rho^t) / (1 - rho)``. It holds for every family whose refit matches the
    first two moments: the Gaussian, the moment-refit multivariate Laplace and a mixture refit
    by EM with full covariances (any M-step gives the mixture the pooled covariance plus the
    ridge), not for a median / mean-absolute-deviation refit.
    """
    t = np.asarray(t, dtype=float)
    rho = (n - 1.0) / n
    out = rho**t + ridge_share * (1.0 - rho**t) / (1.0 - rho)
    return out if out.size > 1 else float(out)


def accumulate_variance_limit(n: RealScalar) -> float:
    """``sin(pi / sqrt(n)) / (pi / sqrt(n))``: limit of :func:`accumulate_trace_ratio`."""
    x = np.pi / np.sqrt(n)
    return float(np.sin(x) / x)


def drift_half_width_cap(predicted: float) -> float:
    """Width cap of a replace-drift claim (``E ratio_T`` against :func:`replace_trace_ratio`):
    the interval must either pin the mean to a quarter of the prediction or resolve half of
    the drift ``1 - predicted`` itself, and may always be 0.05 wide. The spread of replace
    runs is heavy (the log ratio's sd grows like ``sqrt(T / n)`` and faster once the fit's
    shape degenerates), so a relative cap alone fails small runs whose drift is large."""
    return max(0.05, 0.25 * predicted, 0.5 * (1.0 - predicted))
