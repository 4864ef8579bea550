"""Closed-form predictions (host-side numpy/scipy; imports no kernels).

Every function cites the statement it encodes; tags refer to ``theory.md``. Where a formula
is a reconstruction (tag INFERRED), the proofs_checks test it rather than assume it.
"""

from __future__ import annotations

import numpy as np

from collapse_jax.core import stats as _dist
from collapse_jax.core._lazy import lazy
from collapse_jax.core._types import (
    ArrayLike,
    Float,
    FloatArray,
    IntScalar,
    Real,
    RealArray,
    RealInput,
    RealScalar,
    Window,
)

# a generic statistic, re-exported here where the power-law predictions use it
from collapse_jax.core.stats import loglog_window_slope as loglog_window_slope

integrate = lazy("scipy.integrate")
optimize = lazy("scipy.optimize")
special = lazy("scipy.special")


def psi_closed_form(alpha: RealInput, dim: IntScalar) -> FloatArray:
    """Power-law exponent of accumulate + centred top-alpha selection (theory.md 1.3, INFERRED).

    ``psi(alpha, d) = 1 - b``, ``b = F_{chi2_{d+2}}(q) / alpha``, ``q = F_{chi2_d}^{-1}(alpha)``:
    ``b`` is the variance, per coordinate, of a standard ``d``-dimensional normal truncated to
    the centred ball of mass ``alpha``; ``d = 1`` gives ``psi = 2 c phi(c) / alpha`` with
    ``c = Phi^{-1}((1 + alpha) / 2)``. ``alpha = 1`` (no selection) gives 0.
    """
    alpha = np.asarray(alpha, dtype=float)
    q = _dist.chi2_ppf(alpha, dim)
    b = np.where(alpha >= 1.0, 1.0, _dist.chi2_cdf(q, dim + 2) / alpha)
    return 1.0 - b


def replace_select_factor(alpha: RealInput, dim: IntScalar, n: RealScalar, estimator: str = "mle"
                          ) -> FloatArray:
    """Per-generation factor of E Tr Sigma_t under replace + top-alpha (theory.md 1.3).

    ``b (n - 1) / n`` for the MLE refit (``b`` for the unbiased one), ``b = 1 - psi``.
    """
    b = 1.0 - psi_closed_form(alpha, dim)
    return b * ((n - 1.0) / n if estimator == "mle" else 1.0)


def _truncated_variance(lo: RealArray, hi: RealArray) -> FloatArray:
    """Variance of N(0, 1) truncated to ``[lo, hi]``."""
    mass = special.ndtr(hi) - special.ndtr(lo)
    pl, ph = _dist.norm_pdf(lo), _dist.norm_pdf(hi)
    mean = (pl - ph) / mass
    return 1.0 + (lo * pl - hi * ph) / mass - mean**2


def _window_half_width_np(c: RealArray, mass: RealArray, iterations: int = 60) -> FloatArray:
    """Numpy twin of ``selection._window_half_width``: ``Phi(c + h) - Phi(c - h) = mass``."""
    c = -np.abs(c)
    h = np.maximum(special.ndtri(0.5 * (1.0 + mass)), 1e-12)
    for _ in range(iterations):
        f = special.ndtr(c + h) - special.ndtr(c - h) - mass
        fp = _dist.norm_pdf(c + h) + _dist.norm_pdf(c - h)
        h = np.maximum(h - f / fp, 0.5 * h)
    return h


def replace_select_factor_exact(alpha: RealScalar, n: IntScalar, nodes: int = 64) -> float:
    """Exact ``E[Tr Sigma_1 / Tr Sigma_0]`` of one replace + top-alpha generation, ``d = 1``,
    centred reference ``u* = mu*``, MLE refit: the finite-``n`` value of
    :func:`replace_select_factor` (which is its ``n -> inf`` form ``b (n - 1) / n``).

    In standardised units the reference sits at ``c = -t / sqrt(n - 1)`` with ``t ~
    Student-t(n - 1)`` (the real fit's mean and MLE scale), the window mass is ``U ~ Beta(n +
    1, N - n)``, ``N = round(n / alpha)``, and given both the ``n`` kept points are i.i.d.
    N(0, 1) truncated to ``[c - h, c + h]``, ``Phi(c + h) - Phi(c - h) = U``; so the factor is
    ``(n - 1) / n E_{U, t} Var_trunc(c, h)``, computed by Gauss-Legendre quadrature over the
    quantiles of ``U`` and ``t`` (``nodes`` each).
    """
    n_cand = int(round(n / alpha))
    x, w = np.polynomial.legendre.leggauss(nodes)
    q, wq = 0.5 * (x + 1.0), 0.5 * w
    u = _dist.beta_ppf(q, n + 1, n_cand - n)[:, None]
    c = -_dist.t_ppf(q, n - 1)[None, :] / np.sqrt(n - 1.0)
    h = _window_half_width_np(c, u)
    v = _truncated_variance(-np.abs(c) - h, -np.abs(c) + h)
    return float((n - 1.0) / n * (wq[:, None] * wq[None, :] * v).sum())


def log_selection_product(psi: RealInput, t: RealInput) -> FloatArray:
    """``log prod_{s=1}^t (1 - psi / (s + 1))``: the accumulate trace decay, exact in ``t``.

    Accumulate with equal batches gives ``Sigma_t = Sigma_{t-1}^{1/2} (I - Psi / (t + 1))
    Sigma_{t-1}^{1/2}`` (theory.md 1.3), so ``Tr Sigma_t / Tr Sigma_0`` follows this product,
    ``~ t^{-psi} Gamma(2) / Gamma(2 - psi)`` for large ``t``.
    """
    t = np.asarray(t, dtype=float)
    return (special.gammaln(t + 2.0 - psi) - special.gammaln(2.0 - psi)
            - special.gammaln(t + 2.0) + special.gammaln(2.0))


def predicted_window_slope(psi: RealScalar, window: Window) -> float:
    """Log-log slope that a trace following :func:`log_selection_product` shows over
    ``window``: ``-psi`` asymptotically, shallower at finite ``t`` by about
    ``psi (3 - psi) / (2 t)``."""
    t = np.arange(window[0], window[1] + 1)
    return float(loglog_window_slope(t, log_selection_product(psi, t), window))


def psi_from_slope(slope: RealScalar, window: Window) -> float:
    """Invert :func:`predicted_window_slope`: the exponent whose exact finite-``t`` trace
    shows ``slope`` over ``window`` (NaN outside the invertible range)."""
    f = lambda p: predicted_window_slope(p, window) - slope  # noqa: E731
    lo, hi = -0.5, 1.5
    if not np.isfinite(slope) or f(lo) * f(hi) > 0:
        return float("nan")
    return float(optimize.brentq(f, lo, hi, xtol=1e-12))


def w2_limit_initial(reference_dist_sq: RealArray, trace0: RealArray) -> FloatArray:
    """Theorem 1 (Qiao et al., READ): ``W2^2(N_t, N_0) -> ||u* - mu_0||^2 + Tr Sigma_0``."""
    return np.asarray(reference_dist_sq) + np.asarray(trace0)


def log_dissipation_product(psi_t: Float[ArrayLike, " T"], t: Real[ArrayLike, " T"]
                            ) -> Float[np.ndarray, " T"]:
    """``log prod_{s<=t} (1 - psi_s / (s + 1))`` for a measured per-generation dissipation
    ``psi_t`` (row 0 ignored): Theorem 2's mechanism generation by generation."""
    psi_t = np.asarray(psi_t, dtype=float)
    t = np.asarray(t, dtype=float)
    steps = np.log1p(-psi_t[1:] / (t[1:] + 1.0))
    return np.concatenate([[0.0], np.cumsum(steps)])


def dissipation_gap(psi: Float[ArrayLike, "seeds T d d"], t: Real[ArrayLike, " T"], window: Window
                    ) -> Float[np.ndarray, " seeds"]:
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


#: generator families with a centred dissipation here (``kernel.FAMILIES``)
PSI_FAMILIES = ("gaussian", "laplace")


def _radial_sq_laws(dim: int, family: str):
    """``(cdf(s), partial(s))`` of the squared radius ``R^2`` of the family's standardised law
    (identity covariance): ``P(R^2 <= s)`` and ``E[R^2; R^2 <= s]``. Gaussian: ``R^2 ~
    chi2_d`` and ``E[chi2_d; chi2_d <= s] = d F_{chi2_{d+2}}(s)``. Symmetric multivariate
    Laplace: ``R^2 = W chi2_d`` with ``W ~ Exp(1)``, one integral over ``W`` each."""
    if family == "gaussian":
        return (lambda s: _dist.chi2_cdf(s, dim),
                lambda s: dim * _dist.chi2_cdf(s, dim + 2))

    def mix(f):
        return integrate.quad(lambda w: f(w) * np.exp(-w), 0.0, np.inf, limit=400,
                              epsabs=1e-14, epsrel=1e-12)[0]

    return (lambda s: mix(lambda w: _dist.chi2_cdf(s / w, dim)),
            lambda s: mix(lambda w: w * dim * _dist.chi2_cdf(s / w, dim + 2)))


def psi_mad_laplace(alpha: RealScalar) -> float:
    """Exponent of the *scale* of a 1-D Laplace refit by median and mean absolute deviation
    (the authors' Laplace estimator) under accumulate + centred top-alpha selection
    (theory.md 1.9, INFERRED, tested by ``proofs_checks.non_gaussian`` claim L6): the refit
    pools a first absolute moment, so ``psi_1 = 1 - E[|z|; |z| <= c] / (alpha E|z|)`` with
    ``|z| ~ Exp(1)``, ``c = -ln(1 - alpha)``: ``1 - (1 - (1 + c)(1 - alpha)) / alpha``.
    A variance-type dispersion (``b^2``) then decays as ``t^(-2 psi_1)``."""
    alpha = float(alpha)
    if alpha >= 1.0:
        return 0.0
    c = -np.log1p(-alpha)
    return float(1.0 - (1.0 - (1.0 + c) * (1.0 - alpha)) / alpha)


def log_empty_pool_product(psi: RealInput, t: RealInput) -> FloatArray:
    """``log prod_{s=1}^t (1 - psi / s)``: the accumulate decay when generation 0 is the truth
    with an empty pool (the pool after generation ``t`` holds ``t`` equal batches, so the
    refit's pooled moment follows ``t m_t = (t - 1) m_{t-1} + (1 - psi) m_{t-1}``)."""
    t = np.asarray(t, dtype=float)
    return (special.gammaln(t + 1.0 - psi) - special.gammaln(1.0 - psi)
            - special.gammaln(t + 1.0))


def psi_family(alpha: RealScalar, dim: IntScalar, family: str = "gaussian") -> float:
    """Power-law exponent of accumulate + centred top-alpha selection for a spherical
    location-scale family refit by its moments (theory.md 1.3 generalised; INFERRED, tested by
    ``proofs_checks.non_gaussian``): ``psi = 1 - E[R^2; R <= r_alpha] / (alpha E R^2)``, where
    ``R`` is the radius of the family's standardised law (identity covariance, ``E R^2 = d``)
    and ``P(R <= r_alpha) = alpha``: the share of the variance that the centred ball of mass
    ``alpha`` keeps, one minus. A one-dimensional integral of the radial law (two for the
    Laplace, whose radius is a mixture: nested quadrature); the Gaussian gives
    :func:`psi_closed_form` (``tests/power_law/test_theory.py``). ``alpha = 1`` gives 0.
    """
    alpha, dim = float(alpha), int(dim)
    if alpha >= 1.0:
        return 0.0
    cdf, partial = _radial_sq_laws(dim, family)
    hi = float(dim)
    while cdf(hi) < alpha:
        hi *= 2.0
    s_alpha = optimize.brentq(lambda s: cdf(s) - alpha, 0.0, hi, xtol=1e-14, rtol=1e-13)
    return 1.0 - partial(s_alpha) / (alpha * dim)
