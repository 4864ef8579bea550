"""Closed forms of the classic collapse laws (host-side numpy/scipy; imports no kernels).

Three families, theory.md sections 3 and 4:

* **Gaussian refit under replace** (Shumailov et al. 2024, theory.md 3.1): generation ``t``
  draws ``n`` points from ``N(mu_{t-1}, Sigma_{t-1})`` and refits; generation 0 is the
  original ``N(mu*, Sigma*)``, so ``t`` counts fits. With ``k = n - 1`` and the divisor
  ``c = n`` (MLE) or ``c = k`` (unbiased), ``Sigma_t = Sigma_{t-1}^{1/2} (W_t / c)
  Sigma_{t-1}^{1/2}`` with ``W_t ~ Wishart_d(k, I)`` independent of the past, and
  ``mu_t - mu_{t-1} ~ N(0, Sigma_{t-1} / n)`` independent of ``W_t``. Every coordinate
  marginal ``(mu_{t,i}, Sigma_{t,ii})`` is therefore *exactly* the one-dimensional chain
  (``l^T W l ~ ||l||^2 chi2_k`` for any fixed ``l``), which is why the per-coordinate
  quantities below hold in any dimension.
* **Fixed-design OLS retrained on its own labels** (Gerstgrasser et al. 2024, Dohmatob et
  al. 2024, theory.md 3.2-3.3).
* **Real-data mixing** (Bertrand et al. 2024, theory.md 3.5), Gaussian case, derived here:
  see :func:`mixing_moments`.
"""

from __future__ import annotations

import math

import numpy as np

from collapse_jax.core import stats as _dist
from collapse_jax.core._lazy import lazy
from collapse_jax.core._types import (
    Float,
    FloatArray,
    FloatScalar,
    IntScalar,
    RealInput,
    RealScalar,
)
from collapse_jax.core._validate import InvalidInput

special = lazy("scipy.special")
_signal = lazy("scipy.signal")

ESTIMATORS = ("mle", "unbiased")


def _divisor(n: RealScalar, estimator: str) -> FloatScalar:
    if estimator == "mle":
        return float(n)
    if estimator == "unbiased":
        return n - 1.0
    raise InvalidInput(f"theory_classic: estimator={estimator!r} is unknown; allowed one of "
                     + ", ".join(ESTIMATORS))


def _check_n_dim(fn: str, n: RealScalar, dim: IntScalar) -> None:
    if int(n) != n or n < dim + 1:
        raise InvalidInput(f"{fn}: n={n} is out of range; allowed an integer >= dim + 1 = {dim + 1}")


# --------------------------------------------------------------------------------------
# Gaussian refit under replace (Shumailov et al. 2024)
# --------------------------------------------------------------------------------------


def refit_log_drift(n: RealScalar, estimator: str = "mle", dim: IntScalar = 1) -> float:
    """Per-generation drift ``kappa_d`` of ``E log det Sigma_t`` (theory.md 3.1, exact).

    ``log det (W / c) = sum_{j=1}^d log chi2_{k-j+1} - d log c`` (Bartlett), so
    ``kappa_d = sum_{j=1}^d [digamma((k - j + 1)/2) + log 2] - d log c``. For ``d = 1``:
    ``digamma(k/2) + log(2/n)`` (MLE) or ``+ log(2/k)`` (unbiased); ``n = 10`` gives
    -0.22057 and -0.11521.
    """
    _check_n_dim("refit_log_drift", n, dim)
    k = n - 1.0
    a = (k - np.arange(dim)) / 2.0
    return float(np.sum(special.digamma(a) + math.log(2.0)) - dim * math.log(_divisor(n, estimator)))


def refit_log_step_variance(n: RealScalar, dim: IntScalar = 1) -> float:
    """Variance of one generation's increment of ``log det Sigma_t``:
    ``sum_{j=1}^d trigamma((k - j + 1)/2)`` (either estimator)."""
    _check_n_dim("refit_log_step_variance", n, dim)
    a = (n - 1.0 - np.arange(dim)) / 2.0
    return float(np.sum(special.polygamma(1, a)))


def refit_variance_factor(n: RealScalar, estimator: str = "mle") -> FloatScalar:
    """``E[Sigma_t | past] = (k / c) Sigma_{t-1}``: ``(n-1)/n`` (MLE) or 1 (unbiased: a
    martingale)."""
    return (n - 1.0) / _divisor(n, estimator)


def refit_trace_ratio(n: RealScalar, t: RealInput, estimator: str = "mle") -> FloatArray:
    """``E Tr Sigma_t / Tr Sigma* = (k / c)^t``: ``((n-1)/n)^t`` (MLE), 1 (unbiased)."""
    return refit_variance_factor(n, estimator) ** np.asarray(t, dtype=float)


def refit_sd_factor(n: RealScalar, estimator: str = "mle") -> float:
    """``g = E sqrt(chi2_k / c) = sqrt(2 / c) Gamma((k+1)/2) / Gamma(k/2)``: in one dimension
    ``E sigma_t = g^t sigma*``."""
    k = n - 1.0
    return float(math.sqrt(2.0 / _divisor(n, estimator))
                 * math.exp(special.gammaln((k + 1) / 2) - special.gammaln(k / 2)))


def refit_mean_walk(n: RealScalar, t: RealInput, estimator: str = "mle") -> FloatArray:
    """``E ||mu_t - mu*||^2 / Tr Sigma* = (1/n) sum_{j<t} (k/c)^j``.

    Unbiased: ``t / n``, a random walk whose expected square grows without bound. MLE:
    ``1 - ((n-1)/n)^t``, a plateau at ``Tr Sigma*``.
    """
    t = np.asarray(t, dtype=float)
    r = refit_variance_factor(n, estimator)
    if r == 1.0:
        return t / n
    return (1.0 - r**t) / (n * (1.0 - r))


def refit_w2(n: RealScalar, t: RealInput, estimator: str = "mle") -> FloatArray:
    """``E W2^2(N(mu_t, sigma_t^2), N(mu*, sigma*^2)) / sigma*^2`` in one dimension (and for
    every coordinate marginal in ``d`` dimensions), exact at every ``t``.

    ``W2^2 = (mu_t - mu*)^2 + (sigma_t - sigma*)^2``, so ``E W2^2 = walk_t + (k/c)^t + 1 -
    2 g^t`` (:func:`refit_mean_walk`, :func:`refit_sd_factor`). Unbiased: ``t/n + 2 - 2 g^t``
    grows linearly (Shumailov's divergence); MLE: ``2 - 2 g^t -> 2`` (a plateau).
    """
    t = np.asarray(t, dtype=float)
    g = refit_sd_factor(n, estimator)
    return refit_mean_walk(n, t, estimator) + refit_trace_ratio(n, t, estimator) + 1.0 - 2.0 * g**t


def refit_collapse_probability(n: RealScalar, t: RealScalar, level: RealScalar, estimator: str = "mle",
                               dim: IntScalar = 1) -> float:
    """``P[(det Sigma_t / det Sigma*)^{1/d} < level]``, exact (Gil-Pelaez inversion).

    ``S_t = log det Sigma_t - log det Sigma*`` is a sum of ``t d`` independent
    ``log chi2_{k-j+1} - log c`` terms with characteristic function
    ``phi(u) = prod_j [2^{iu} Gamma(a_j + iu) / Gamma(a_j)]^t c^{-iutd}``, ``a_j = (k-j+1)/2``;
    ``P[S_t < x] = 1/2 - (1/pi) int_0^inf Im(e^{-iux} phi(u)) / u du``. With the drift
    negative this probability tends to 1 for every level: ``sigma_t -> 0`` almost surely,
    even for the unbiased refit whose ``E sigma_t^2`` stays at ``sigma*^2``.
    """
    _check_n_dim("refit_collapse_probability", n, dim)
    if t < 1:
        raise InvalidInput(f"refit_collapse_probability: t={t} is out of range; allowed >= 1")
    if not level > 0:
        raise InvalidInput(f"refit_collapse_probability: level={level} is out of range; allowed > 0")
    k = n - 1.0
    a = (k - np.arange(dim)) / 2.0
    x = dim * math.log(level)
    logc = math.log(_divisor(n, estimator))

    def log_phi(u):
        u = np.asarray(u, dtype=complex)
        s = sum(1j * u * math.log(2.0) + special.loggamma(aj + 1j * u) - special.loggamma(aj)
                for aj in a)
        return t * s - 1j * u * t * dim * logc

    # Upper limit where |phi| < 1e-17 (it decays like exp(-pi t d u / 2) u^{...}).
    upper = 1.0
    while np.real(log_phi(upper)) > math.log(1e-17):
        upper *= 1.5
    m = 20_000
    h = upper / m
    u = (np.arange(m) + 0.5) * h
    integrand = np.imag(np.exp(log_phi(u) - 1j * u * x)) / u
    return float(np.clip(0.5 - np.sum(integrand) * h / math.pi, 0.0, 1.0))


def refit_tail_mass(n: RealScalar, t: RealInput, c: RealInput, estimator: str = "mle",
                    step: RealScalar = 5e-3
                    ) -> FloatArray:
    """Expected mass of the generation-``t`` model beyond the original ``mu* +- c sigma*``.

    ``E[Phi((mu* - c sigma* - mu_t)/sigma_t) + Phi((mu_t - mu* - c sigma*)/sigma_t)]`` is the
    probability that a point drawn from the generation-``t`` model lands beyond the original
    ``c``-sigma quantiles. Given the variance path, that point is ``N(mu*, sigma*^2 V_t)``
    with ``V_t = sum_{j<t} P_j / n + P_t``, ``P_j = prod_{s<=j} X_s``, ``X_s ~ chi2_k / c``;
    so the answer is ``E 2 Phi(-c / sqrt(V_t))``. Reading the sum from the inside,
    ``V_t`` has the law of ``Y_t`` with ``Y_0 = 1``, ``Y_i = 1/n + X_i Y_{i-1}``: this
    function propagates the law of ``log Y_i`` on a lattice of spacing ``step`` (an exact
    recursion up to discretisation; ``step = 5e-3`` agrees with ``1e-2`` and ``2e-3`` to
    about 1e-6). ``t``: int or sequence of ints >= 0; ``c``: float or sequence. Returns
    an array ``(len(t), len(c))`` (squeezed for scalar arguments).

    The expected tail mass does *not* vanish: every model loses its tails, but the models
    wander (``mu_t`` is a random walk) and carry their mass past the original quantiles.
    """
    ts = np.atleast_1d(np.asarray(t, dtype=int))
    cs = np.atleast_1d(np.asarray(c, dtype=float))
    if ts.min() < 0:
        raise InvalidInput(f"refit_tail_mass: t={ts.min()} is out of range; allowed >= 0")
    cdiv = _divisor(n, estimator)
    k = n - 1.0
    # log X on a lattice of spacing `step`, masses from CDF differences.
    lo_x = math.log(_dist.chi2_ppf(1e-16, k) / cdiv)
    hi_x = math.log(_dist.chi2_isf(1e-16, k) / cdiv)
    ix0 = math.floor(lo_x / step)
    nx = math.ceil(hi_x / step) - ix0 + 1
    edges = (ix0 + np.arange(nx + 1) - 0.5) * step
    px = np.diff(_dist.chi2_cdf(cdiv * np.exp(edges), k))
    px /= px.sum()
    # log Y lives in [log(1/n), 60]; lattice index j <-> value (jy0 + j) step.
    jy0 = math.floor(math.log(1.0 / n) / step)
    ny = math.ceil(60.0 / step) - jy0 + 1
    grid = (jy0 + np.arange(ny)) * step
    py = np.zeros(ny)
    py[-jy0] = 1.0  # log Y_0 = 0
    tail = 2.0 * _dist.norm_sf(cs[None, :] / np.sqrt(np.exp(grid))[:, None])  # (ny, C)
    out = {0: 2.0 * _dist.norm_sf(cs)}
    for i in range(1, int(ts.max()) + 1):
        conv = np.maximum(_signal.fftconvolve(py, px), 0.0)
        vals = (jy0 + ix0 + np.arange(conv.size)) * step  # log(X Y)
        pos = np.logaddexp(vals, -math.log(n)) / step - jy0  # log(1/n + X Y) on the lattice
        j = np.clip(np.floor(pos).astype(np.int64), 0, ny - 2)
        frac = np.clip(pos - j, 0.0, 1.0)
        py = (np.bincount(j, conv * (1.0 - frac), minlength=ny)
              + np.bincount(j + 1, conv * frac, minlength=ny))[:ny]
        py /= py.sum()
        out[i] = py @ tail
    res = np.array([out[int(s)] for s in ts])
    if np.ndim(c) == 0:
        res = res[:, 0]
    return res if np.ndim(t) else res[0]


def plain_mean_horizon(n: RealScalar, seeds: RealScalar, tol: RealScalar = 0.1) -> int:
    """Last generation at which a plain seed mean of ``sigma_t^2`` is trustworthy.

    ``sigma_t^2 / sigma*^2`` is a product of ``t`` i.i.d. ``chi2_k / c`` factors: its
    moments are exact, but its law is log-normal-like and the mean is carried by rarer and
    rarer seeds (theory.md 3.1 warning). The standard error of a mean over ``S`` seeds is
    itself estimated within about ``0.5 sqrt(rho^t / S)`` (relative), with
    ``rho = E X^4 / (E X^2)^2 = (k+4)(k+6) / (k (k+2))`` the exact kurtosis factor; this
    returns the largest ``t`` with ``0.5 sqrt(rho^t / S) <= tol`` (at least 1). Beyond it a
    CI built from the seeds is not to be trusted, and the checks use log-moments and
    conditional (martingale) increments instead.
    """
    k = n - 1.0
    rho = (k + 4.0) * (k + 6.0) / (k * (k + 2.0))
    return max(1, int(math.floor(math.log(seeds * (2.0 * tol) ** 2) / math.log(rho))))


# --------------------------------------------------------------------------------------
# Fixed-design OLS (Gerstgrasser et al. 2024; Dohmatob et al. 2024)
# --------------------------------------------------------------------------------------


def _check_design(fn: str, T: RealScalar, d: RealScalar) -> None:
    if T < d + 2:
        raise InvalidInput(f"{fn}: T={T} is out of range; allowed >= d + 2 = {d + 2}")


def ols_variance_factor(T: RealScalar, d: RealScalar) -> FloatScalar:
    """``E tr (X^T X)^{-1} = d / (T - d - 1)`` for ``T`` rows ``N(0, I_d)`` (inverse
    Wishart mean): the test error of one OLS fit per unit label-noise variance."""
    _check_design("ols_variance_factor", T, d)
    return d / (T - d - 1.0)


def regression_replace_error(n: RealInput, T: RealScalar, d: RealScalar, noise: RealScalar = 1.0
                             ) -> FloatArray:
    """Replace: ``E ||w_n - w*||^2 = sigma^2 d n / (T - d - 1)``, linear in the number of
    fits ``n`` (Dohmatob et al.; Gerstgrasser et al. theory.md 3.2): ``delta_n = sum_i e_i``."""
    return noise**2 * ols_variance_factor(T, d) * np.asarray(n, dtype=float)


def regression_accumulate_error(n: RealInput, T: RealScalar, d: RealScalar, noise: RealScalar = 1.0
                                ) -> float | Float[np.ndarray, "..."]:
    """Accumulate: ``sigma^2 d / (T - d - 1) sum_{i<=n} 1/i^2 <= sigma^2 d/(T-d-1) pi^2/6``
    (Gerstgrasser et al. 2024): the fit on all batches is the average of the per-batch fits,
    so ``delta_n = sum_i e_i / i``."""
    n = np.atleast_1d(np.asarray(n, dtype=int))
    h2 = np.concatenate([[0.0], np.cumsum(1.0 / np.arange(1, int(n.max()) + 1) ** 2)])
    out = noise**2 * ols_variance_factor(T, d) * h2[n]
    return out if out.size > 1 else float(out[0])


def regression_accumulate_limit(T: RealScalar, d: RealScalar, noise: RealScalar = 1.0) -> FloatScalar:
    """``sigma^2 d / (T - d - 1) pi^2 / 6``: the bound of accumulate."""
    return noise**2 * ols_variance_factor(T, d) * math.pi**2 / 6.0


def dohmatob_error(n: RealInput, T: RealScalar, d: RealScalar, noise: RealScalar, T0: RealScalar,
                   noise0: RealScalar) -> FloatArray:
    """Test error of OLS on ``T`` fresh samples labelled by the generation-``n`` model
    (Dohmatob, Feng, Kempe 2024, under-parameterised, unregularised):
    ``sigma^2 d/(T - d - 1) + n sigma_0^2 d/(T_0 - d - 1)``; the generation-``n`` model is
    ``n`` replace fits on a fixed ``T_0 x d`` design with label noise ``sigma_0``."""
    return (noise**2 * ols_variance_factor(T, d)
            + noise0**2 * ols_variance_factor(T0, d) * np.asarray(n, dtype=float))


# --------------------------------------------------------------------------------------
# Real-data mixing (Bertrand et al. 2024), Gaussian case
# --------------------------------------------------------------------------------------


def mixing_weight(lam: RealScalar) -> float:
    """Weight ``w = lam / (1 + lam)`` of the synthetic part (``lam = inf`` gives 1)."""
    lam = float(lam)
    if not lam >= 0:
        raise InvalidInput(f"mixing_weight: lam={lam} is out of range; allowed [0, inf]")
    return 1.0 if math.isinf(lam) else lam / (1.0 + lam)


def mixing_matrix(lam: RealScalar, m: RealScalar) -> Float[np.ndarray, "2 2"]:
    """Transition matrix ``A`` of ``(E ||mu_t - rbar||^2, E Tr Sigma_t)`` under mixing.

    Generation ``t + 1`` maximises ``(1/n) sum_real log p + lam (1/m) sum_synth log p``
    over Gaussians: a fixed real set (mean ``rbar``, MLE covariance ``S``) plus ``m`` fresh
    draws from ``N(mu_t, Sigma_t)`` (mean ``ybar``, MLE covariance ``C``), with
    ``w = lam / (1 + lam)``. The weighted MLE is ``mu' = (1 - w) rbar + w ybar`` and
    ``Sigma' = (1 - w) S + w C + w (1 - w)(ybar - rbar)(ybar - rbar)^T``. Taking conditional
    expectations (``E C = (m-1)/m Sigma_t``, ``E (ybar - rbar)(.)^T = e e^T + Sigma_t / m``):

        M' = w^2 (M + V/m),   V' = (1 - w) Tr S + (w - w^2/m) V + w (1 - w) M,

    ``M = E ||mu_t - rbar||^2``, ``V = E Tr Sigma_t``. ``A`` has eigenvalues ``w`` and
    ``w^2 (1 - 1/m)``: for every finite ``lam`` the recursion contracts at rate ``w < 1``.
    With ``m = lam n`` the objective is plain MLE on the union of ``n`` real and
    ``lam n`` synthetic points.
    """
    w = mixing_weight(lam)
    return np.array([[w * w, w * w / m], [w * (1.0 - w), w - w * w / m]])


def mixing_moments(lam: RealScalar, m: RealScalar, t: RealInput) -> Float[np.ndarray, "... 2"]:
    """``(E ||mu_t - rbar||^2, E Tr Sigma_t) / Tr S`` at generation(s) ``t``, exact.

    Starts from the real-data fit (``mu_0 = rbar``, ``Sigma_0 = S``) and iterates
    :func:`mixing_matrix`. The sum of the two components is exactly 1 at every ``t``
    (``E[||mu_t - rbar||^2 + Tr Sigma_t | real] = Tr S``: the weighted MLE preserves the
    second moment about ``rbar`` in expectation). Unconditionally, multiply by
    ``E Tr S = (n - 1)/n Tr Sigma*``. Returns an array ``(len(t), 2)`` (or ``(2,)``).
    """
    ts = np.atleast_1d(np.asarray(t, dtype=int))
    a = mixing_matrix(lam, m)
    b = np.array([0.0, 1.0 - mixing_weight(lam)])
    x = np.array([0.0, 1.0])
    out = {0: x}
    for i in range(1, int(ts.max()) + 1):
        x = a @ x + b
        out[i] = x
    res = np.array([out[int(s)] for s in ts])
    return res if np.ndim(t) else res[0]


def mixing_stationary(lam: RealScalar, m: RealScalar) -> tuple[float, float]:
    """Stationary ``(E ||mu - rbar||^2, E Tr Sigma) / Tr S`` of real-data mixing.

    With ``q = lam^2 / (m (1 + 2 lam))``: ``E Tr Sigma_inf / Tr S = 1 / (1 + q)`` and
    ``E ||mu_inf - rbar||^2 / Tr S = q / (1 + q)``. Both errors grow with ``lam``; as
    ``lam -> inf`` with ``m`` fixed, ``q -> inf`` and the limit ``(1, 0)`` is replace
    (variance collapse, mean walk plateau at ``Tr S``). With ``m = lam n`` instead
    (``lam`` times as many synthetic points), ``q -> 1 / (2 n)``: the stationary variance
    stays at ``Tr S / (1 + 1/(2n))`` and replace is *not* recovered.
    """
    lam = float(lam)
    if math.isinf(lam):
        return 1.0, 0.0
    q = lam * lam / (m * (1.0 + 2.0 * lam))
    return q / (1.0 + q), 1.0 / (1.0 + q)
