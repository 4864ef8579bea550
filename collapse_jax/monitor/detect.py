"""Early warning: a one-sided CUSUM on standardised recursive drops of log diversity.

For generation ``t >= 1`` the innovation is ``u_t = y_t - ybar_{<t}``, ``ybar_{<t}`` the
inverse-variance weighted mean of the earlier generations' ``y_s = log Tr Sigma_s``, and
``z_t = -u_t / sqrt(s_t^2 + 1 / sum_{s<t} s_s^-2)`` (a drop is positive). Under the
no-collapse null (every generation's log diversity has the same mean and independent
Gaussian errors with the bootstrap SEs) the ``z_t`` are recursive residuals, exactly i.i.d.
N(0, 1) (``null="iid"``). An *accumulating* pipeline without selection is bounded but not
i.i.d.: its model is refit on all batches so far, so its log diversity wanders, by steps that
shrink as the pool grows, and the recursive residuals are positively correlated (calibrated
on the i.i.d. null, 300 simulated accumulating pipelines of 2 features, 200 samples and 10
generations alarmed at 0.077 +- 0.013 for nominal 0.05). ``null="accumulate"`` (the default)
calibrates on that null instead, on generations ``1, 2, ...`` only: ``y_t = m_t + e_t`` with
``e_t ~ N(0, s_t^2)`` and the model's level ``m_t = m_{t-1} + N(0, (s_t / (t + 1))^2)``
(refitting on ``t + 1`` equal batches moves the pooled log diversity by ``1 / (t + 1)`` of one
batch's deviation), ``m_1`` free, plus the level's deterministic drift (:func:`level_drift`:
the log of a fluctuating level, and the maximum-likelihood refit's exact accumulate law).
Generation 0 is left out because it is the data the first
model is fitted on, not a sample of it: the model's level starts at ``y_0`` exactly, and every
generated sample then sits below it by the estimator's bias (about ``1 / n + s^2 / 2`` in
log total variance; 0.15-0.20 standard errors in simulated accumulating pipelines of 200
samples), which the recursive residuals would read as a drop. The first alarm can then come
at generation 2. Its paths spread more than the i.i.d. null's, so on i.i.d. generations it
alarms below the nominal rate; on accumulating pipelines it alarms at it (measured in the slow
tests and docs/monitor.md).

The SEs are bootstrap estimates, not exact: an SE that comes out low inflates its ``z_t``, so
the standardised drops are heavier-tailed than the null's (with 30 resamples, 2 features and
200 samples, calibrating as if the SEs were exact alarmed at 0.062 for nominal 0.05 on
simulated i.i.d. series). ``detect(..., se_dof=nu)`` calibrates on paths standardised with
noisy SEs ``s_t sqrt(chi2(nu_t) / nu_t)`` instead; the monitor passes each generation's
Satterthwaite degrees of freedom (``metrics._se_dof``: the resampling noise plus the ideal
bootstrap's own, from the kurtosis of the groups' influences on the trace).

``S_0 = 0``, ``S_t = max(0, S_{t-1} + z_t - k)`` with ``k = 0.5`` (tuned to a drop of about
one standard error per generation); the alarm is the first ``t`` with ``S_t > h``. The
threshold ``h`` is the ``1 - false_alarm`` quantile of ``max_t S_t`` over ``replications``
simulated null paths of the same number of generations, drawn with a fixed key, so the
probability of any alarm over the whole run is ``false_alarm``.
"""

from __future__ import annotations

import functools

import numpy as np

CUSUM_K = 0.5
NULL_REPLICATIONS = 20000


NULLS = ("accumulate", "iid")


def innovations(y, se) -> np.ndarray:
    """``z_t``, ``t = 1 .. T - 1``, of series ``y`` (``(..., T)``) with standard errors ``se``
    (``(T,)``, or one row per series), along the last axis."""
    y = np.asarray(y, dtype=float)
    w = 1.0 / np.asarray(se, dtype=float) ** 2
    wsum = np.cumsum(w, axis=-1)[..., :-1]
    ybar = np.cumsum(w * y, axis=-1)[..., :-1] / wsum
    return -(y[..., 1:] - ybar) / np.sqrt(1.0 / w[..., 1:] + 1.0 / wsum)


def cusum(z: np.ndarray, k: float = CUSUM_K) -> np.ndarray:
    """``S_t`` along the last axis (one value per innovation)."""
    z = np.asarray(z, dtype=float)
    s = np.zeros(z.shape)
    prev = np.zeros(z.shape[:-1])
    for i in range(z.shape[-1]):
        prev = np.maximum(0.0, prev + z[..., i] - k)
        s[..., i] = prev
    return s


@functools.lru_cache(maxsize=64)
def threshold(steps: int, false_alarm: float, key: int = 0,
              replications: int = NULL_REPLICATIONS, k: float = CUSUM_K,
              null: str = "iid", se: tuple | None = None,
              se_dof: tuple | None = None, samples: tuple | None = None) -> float:
    """``h`` with ``P(max_t S_t > h) = false_alarm`` over ``steps`` innovations under the
    ``null`` (module docstring; ``"accumulate"`` needs the ``steps + 1`` standard errors
    ``se``), by Monte Carlo over ``replications`` paths (``numpy`` generator seeded with
    ``key``). ``se_dof``: the ``steps + 1`` degrees of freedom of *estimated* standard
    errors; each simulated path is then standardised with its own noisy SEs
    ``s_t sqrt(chi2(nu_t) / nu_t)`` (module docstring), ``None``: the SEs are exact.
    ``samples``: the ``steps + 1`` sample counts, for the accumulate null's drift
    (:func:`level_drift`)."""
    if null not in NULLS:
        raise ValueError(f"threshold: null={null!r}; allowed {', '.join(NULLS)}")
    if samples is not None and len(samples) != steps + 1:
        raise ValueError(f"threshold: samples needs steps + 1 = {steps + 1} values "
                         f"(got {len(samples)})")
    if se_dof is not None and len(se_dof) != steps + 1:
        raise ValueError(f"threshold: se_dof needs steps + 1 = {steps + 1} values "
                         f"(got {len(se_dof)})")
    rng = np.random.default_rng([int(key), 0xC05])
    if null == "iid" and se_dof is None:
        z = rng.standard_normal((replications, steps))
    elif null == "iid":  # equal true SEs: the i.i.d. null is scale-free
        s = np.ones(steps + 1)
        y = rng.standard_normal((replications, steps + 1))
        z = innovations(y, _noisy(rng, s, se_dof, replications))
    else:
        if se is None or len(se) != steps + 1:
            raise ValueError(f"threshold: null='accumulate' needs steps + 1 = {steps + 1} "
                             f"standard errors (got {None if se is None else len(se)})")
        # the series starts at generation 1 (generation 0 is left out, module docstring):
        # position j is generation j + 1, whose model moved by s / (j + 2) from the last
        s = np.asarray(se, dtype=float)
        j = np.arange(steps + 1)
        step = rng.standard_normal((replications, steps + 1)) * (s / (j + 2.0))
        step += level_drift(s, samples)
        step[:, 0] = 0.0
        y = np.cumsum(step, axis=1) + rng.standard_normal((replications, steps + 1)) * s
        z = innovations(y, s if se_dof is None else _noisy(rng, s, se_dof, replications))
    peak = cusum(z, k).max(axis=1)
    return float(np.quantile(peak, 1.0 - false_alarm))


def level_drift(se, samples=None) -> np.ndarray:
    """Expected step of the accumulate null's level ``m_t = log Tr Sigma_t`` into position
    ``j`` (generation ``j + 1``, whose model is refitted on ``j + 2`` equal batches).

    Two deterministic parts, both ``O(1 / (t + 1)^2)`` and summable:

    * the log of a fluctuating level: if ``Tr Sigma_t`` moves by a relative step of SD
      ``s / (t + 1)`` with mean zero, ``log Tr Sigma_t`` moves by ``-(s / (t + 1))^2 / 2`` on
      average (Jensen);
    * the maximum-likelihood refit (``samples`` given): pooling ``t + 1`` batches of ``n``
      about their common mean multiplies ``E Tr Sigma`` by ``1 - 1 / (n (t + 1)^2)``, the
      exact accumulate law (theory.md 1.2, the power-law check's claim P1).

    Measured on 4000 simulated accumulating pipelines (2 features, 200 samples): the mean
    step of the fitted ``log Tr Sigma_t`` is -0.0234 and -0.0156 SEs into generations 1 and
    2, against -0.0265 and -0.0118 from these two terms; through the monitor, leaving the
    drift out alarmed at 0.0560 +- 0.0036 for nominal 0.05, with it 0.0540 +- 0.0036 (16
    features: 0.0495 +- 0.0049 with it; docs/monitor.md)."""
    s = np.asarray(se, dtype=float)
    t1 = np.arange(len(s)) + 2.0  # t + 1 for generation t = j + 1
    drift = -0.5 * (s / t1) ** 2
    if samples is not None:
        n = np.asarray(samples, dtype=float)
        drift = drift + np.log1p(-1.0 / (n * t1 ** 2))
    return drift


def _noisy(rng, s, dof, replications: int) -> np.ndarray:
    """Estimated SEs ``s sqrt(chi2(dof) / dof)``, one row per replication."""
    dof = np.asarray(dof, dtype=float)
    return np.asarray(s, dtype=float) * np.sqrt(
        rng.chisquare(dof, (replications, len(dof))) / dof)


def _per_generation(name: str, values, n_gen: int, minimum: float, first: int):
    """``values`` (one per generation, each ``>= minimum``) from generation ``first`` on, as a
    tuple (hashable: the thresholds are cached), or ``None`` when not given."""
    if values is None:
        return None
    arr = np.asarray(values, dtype=float)
    if arr.shape != (n_gen,) or not np.all(arr >= minimum):
        raise ValueError(f"detect: {name} must hold one value >= {minimum:g} per generation "
                         f"({n_gen}); got {arr.tolist()}")
    return tuple(float(v) for v in arr[first:])


def detect(y, se, false_alarm: float, key: int = 0, null: str = "accumulate",
           se_dof=None, samples=None) -> dict:
    """First generation at which the CUSUM exceeds the ``false_alarm`` threshold of the
    ``null`` (``"accumulate"``: a bounded accumulating pipeline; ``"iid"``: independent
    generations of one law). ``se_dof``: the degrees of freedom of each generation's
    estimated SE (``None``: exact SEs); the threshold then includes the SEs' own noise.
    ``samples``: each generation's sample count, for the accumulate null's refit drift
    (:func:`level_drift`; ``None``: only the drift of the log)."""
    if null not in NULLS:
        raise ValueError(f"detect: null={null!r}; allowed {', '.join(NULLS)}")
    first = 1 if null == "accumulate" else 0  # the generation the series starts at
    y, se = np.asarray(y, dtype=float)[first:], np.asarray(se, dtype=float)[first:]
    n_gen = len(y) + first
    dof = _per_generation("se_dof", se_dof, n_gen, 1, first)
    if dof is not None:  # whole degrees of freedom: thresholds of nearby values are shared
        dof = tuple(float(v) for v in np.round(dof))
    counts = _per_generation("samples", samples, n_gen, 2, first)
    if null != "accumulate":
        counts = None
    z = innovations(y, se)
    s = cusum(z)
    if len(z):
        se_key = tuple(float(v) for v in se) if null == "accumulate" else None
        h = threshold(len(z), float(false_alarm), int(key), null=null, se=se_key, se_dof=dof,
                      samples=counts)
    else:  # too few generations to test (the accumulate null starts at generation 2)
        h = None
    hit = np.nonzero(s > h)[0] if h is not None else np.zeros(0, int)
    return {
        "detected_at": int(hit[0]) + 1 + first if len(hit) else None,
        "first_generation_tested": 1 + first,
        "statistic": "one-sided CUSUM of standardised recursive drops of log total variance",
        "k": CUSUM_K,
        "threshold": h,
        "false_alarm": float(false_alarm),
        "null": null,
        "null_replications": NULL_REPLICATIONS,
        "se_dof": None if dof is None else list(dof),
        "level_drift": (level_drift(se, counts).tolist() if null == "accumulate" else None),
        "key": int(key),
        "innovations": z.tolist(),
        "cusum": s.tolist(),
        "max_cusum": float(s.max()) if len(s) else 0.0,
    }
