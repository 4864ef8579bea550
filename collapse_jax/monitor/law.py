"""Which decay law the log total variance follows, and its rate with a confidence interval.

Data: ``y_t = log Tr Sigma_t`` of generations ``t = 0..T-1`` with bootstrap standard errors
``s_t``. Three models, fitted by weighted least squares (weights ``1 / s_t^2``):

* ``bounded``   ``y_t = a`` (no collapse: the null);
* ``power``     ``y_t = a + sum_{s=1}^{t} log(1 - psi / (s + 1))``: the accumulate recursion
  ``Tr Sigma_t = (1 - psi / (t + 1)) Tr Sigma_{t-1}`` of theory.md 1.3, whose product is
  ``~ C t^(-psi)``; ``psi`` is the power-law exponent;
* ``geometric`` ``y_t = a + t log rho``: a constant factor ``rho`` per generation (replace).

The residual scale is ``phi = max(1, RSS_best / (T - 2))`` (weighted residual sum of squares
of the better-fitting two-parameter model): generations carry model-level noise that the
within-generation bootstrap does not see, and ``phi`` widens every interval and test by it.

Rule: let ``m`` be the two-parameter model with the smaller RSS. Collapse is significant if
its rate is a decline (``psi > 0`` or ``rho < 1``) and ``F = (RSS_bounded - RSS_m) / phi``
exceeds the ``F(1, T - 2)`` quantile of one-sided level ``level`` (default 0.01); then the
law is ``m``, otherwise ``bounded``. With ``T < 4`` the power and geometric shapes cannot be
told apart and the law is reported as ``geometric`` when significant (noted in the output).
Intervals: profile-likelihood for ``psi`` (``RSS(psi) - RSS_min <= phi q``, ``q`` the
two-sided 95% ``F(1, T - 2)`` quantile); for ``rho``, the mean of the first differences of
``y`` with its ``t`` interval (``T - 2`` degrees of freedom), exponentiated: replacing
pipelines make the log diversity a random walk with drift, whose increments are independent.
"""

from __future__ import annotations

import math

import numpy as np

from collapse_jax.core._lazy import lazy

optimize = lazy("scipy.optimize")
sst = lazy("scipy.stats")

PSI_RANGE = (-3.0, 1.999)


def power_shape(t: np.ndarray, psi: float) -> np.ndarray:
    """``sum_{s=1}^{t} log(1 - psi / (s + 1))`` for integer generations ``t``."""
    tmax = int(np.max(t))
    s = np.arange(1, tmax + 1)
    cum = np.concatenate([[0.0], np.cumsum(np.log1p(-psi / (s + 1.0)))])
    return cum[np.asarray(t, dtype=int)]


def _wls(X, y, w):
    sw = np.sqrt(w)
    beta, *_ = np.linalg.lstsq(X * sw[:, None], y * sw, rcond=None)
    r = y - X @ beta
    return beta, float(np.sum(w * r * r))


def _power_rss(t, y, w, psi):
    f = power_shape(t, psi)
    a = float(np.sum(w * (y - f)) / np.sum(w))
    return float(np.sum(w * (y - a - f) ** 2)), a


def _fit_power(t, y, w):
    grid = np.linspace(PSI_RANGE[0], PSI_RANGE[1], 241)
    rss = np.array([_power_rss(t, y, w, g)[0] for g in grid])
    i = int(np.argmin(rss))
    lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)]
    res = optimize.minimize_scalar(lambda g: _power_rss(t, y, w, g)[0], bounds=(lo, hi),
                                   method="bounded", options={"xatol": 1e-10})
    psi = float(res.x)
    rss_min, a = _power_rss(t, y, w, psi)
    return psi, a, rss_min


def _profile_ci(t, y, w, psi, rss_min, cut):
    """Where ``RSS(psi) - rss_min`` crosses ``cut`` on each side (None: not within range)."""
    f = lambda g: _power_rss(t, y, w, g)[0] - rss_min - cut
    out = []
    for end in (PSI_RANGE[0], PSI_RANGE[1]):
        if f(end) < 0:
            out.append(None)
        else:
            out.append(float(optimize.brentq(f, min(psi, end), max(psi, end), xtol=1e-10)))
    return out


def fit_law(y, se, level: float = 0.01, ci_level: float = 0.95) -> dict:
    """Model selection and rate (see the module doc). ``y`` and ``se`` indexed by generation."""
    y = np.asarray(y, dtype=float)
    se = np.asarray(se, dtype=float)
    T = len(y)
    t = np.arange(T)
    floor = max(1e-12, 1e-6 * float(np.nanmedian(se))) if np.any(se > 0) else 1e-12
    w = 1.0 / np.maximum(np.nan_to_num(se, nan=floor), floor) ** 2
    a_b = float(np.sum(w * y) / np.sum(w))
    rss_b = float(np.sum(w * (y - a_b) ** 2))
    beta_g, rss_g = _wls(np.column_stack([np.ones(T), t]), y, w)
    psi, a_p, rss_p = _fit_power(t, y, w)
    df = T - 2
    best = "power" if rss_p < rss_g else "geometric"
    notes = []
    if T < 4:
        best = "geometric"
        notes.append(f"only {T} generations: the power and geometric shapes cannot be told "
                     "apart; a significant decline is reported as geometric")
    rss_best = rss_p if best == "power" else rss_g
    phi = max(1.0, rss_best / df) if df > 0 else 1.0
    dfq = df if df > 0 else math.inf

    def fq(p):
        return float(sst.f.ppf(p, 1, dfq)) if math.isfinite(dfq) else float(sst.chi2.ppf(p, 1))

    q_sel = fq(1 - 2 * level)
    q_ci = fq(ci_level)
    stat = {m: max(0.0, (rss_b - r) / phi) for m, r in (("power", rss_p), ("geometric", rss_g))}
    pval = {m: (float(sst.f.sf(s, 1, dfq)) if math.isfinite(dfq) else float(sst.chi2.sf(s, 1)))
            for m, s in stat.items()}
    declining = {"power": psi > 0, "geometric": beta_g[1] < 0}
    law = best if (declining[best] and stat[best] > q_sel) else "bounded"

    # power interval (profile likelihood)
    lo, hi = _profile_ci(t, y, w, psi, rss_p, phi * q_ci) if T > 2 else (None, None)
    # geometric rate and interval: mean and t interval of the first differences of y, the
    # right error model for a replacing pipeline (log diversity a random walk with drift);
    # conservative when the errors are independent instead
    diffs = np.diff(y)
    log_rho = float(diffs.mean())
    if T > 2:
        lr_se = float(diffs.std(ddof=1) / math.sqrt(T - 1))
        tq = float(sst.t.ppf(0.5 + ci_level / 2, T - 2))
    else:
        lr_se, tq = float(math.sqrt(se[0] ** 2 + se[1] ** 2)), float(sst.norm.ppf(0.5 + ci_level / 2))
    power = {"psi": psi, "ci": [lo, hi], "intercept": a_p, "rss": rss_p}
    geometric = {"factor": math.exp(log_rho),
                 "ci": [math.exp(log_rho - tq * lr_se), math.exp(log_rho + tq * lr_se)],
                 "log_factor": log_rho, "log_factor_se": lr_se,
                 "intercept": float(np.sum(w * (y - log_rho * t)) / np.sum(w)),
                 "wls_log_factor": float(beta_g[1]), "rss": rss_g}
    aic = {"bounded": rss_b / phi + 2, "power": rss_p / phi + 4, "geometric": rss_g / phi + 4}
    if law == "power":
        exponent = {"kind": "power", "estimate": psi, "ci": [lo, hi], "level": ci_level}
    elif law == "geometric":
        exponent = {"kind": "geometric_factor", "estimate": geometric["factor"],
                    "ci": geometric["ci"], "level": ci_level}
    else:
        exponent = None
    return {
        "law": law,
        "exponent": exponent,
        "fits": {"bounded": {"intercept": a_b, "rss": rss_b}, "power": power,
                 "geometric": geometric},
        "evidence": {
            "rule": ("bounded unless the better-fitting of power/geometric (smaller weighted "
                     f"RSS) declines and its F = (RSS_bounded - RSS_m)/phi exceeds the "
                     f"F(1, T-2) quantile of one-sided level {level}"),
            "phi": phi, "df": df, "f_statistic": stat, "p_value": pval,
            "f_threshold": q_sel, "aic": aic, "better_fitting": best,
            "delta_aic_power_minus_geometric": aic["power"] - aic["geometric"],
        },
        "notes": notes,
    }


def law_curve(fit: dict, t: np.ndarray, law: str | None = None) -> np.ndarray:
    """Fitted ``log Tr Sigma_t`` of ``law`` (default: the selected law)."""
    law = law or fit["law"]
    f = fit["fits"]
    if law == "power":
        return f["power"]["intercept"] + power_shape(t, f["power"]["psi"])
    if law == "geometric":
        return f["geometric"]["intercept"] + t * f["geometric"]["log_factor"]
    return np.full(len(t), f["bounded"]["intercept"])
