"""Verifier-filtered retraining of linear regression: one seed, ``lax.scan`` over rounds.

Yi, Liu, Cheng, Xu (arXiv 2510.16657), theory.md section 2. The kernel follows the
:mod:`collapse_jax.power_law.kernel` contract ``kernel(key, params, cfg, silo) -> (final, metrics)``:
``cfg`` (:class:`VerifierConfig`) is static structure, ``params`` (:class:`VerifierParams`)
are array leaves that :func:`collapse_jax.engine.batch.run_sweep` vmaps over (a ``(delta, r)`` grid,
with or without the verifier, runs under one compile), and every metric has a leading
``(rounds + 1,)`` axis whose row 0 is the OLS fit on the real rows.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from collapse_jax.core import pool as pools
from collapse_jax.core._types import Key, Metrics, Silo, Vector
from collapse_jax.core._validate import (
    InvalidInput,
    check_choice,
    check_float,
    check_int,
    check_precision,
    sweep_shape,
)
from collapse_jax.knowledge_center import regression

DESIGNS = ("block", "isotropic")
#: ``rows`` draws every synthetic row's label noise (exact); ``sufficient`` draws only each
#: block direction's accepted count (exact binomial) and accepted-noise sum (normal with the
#: exact conditional mean and variance): :func:`regression.block_round_sufficient`.
SAMPLERS = ("rows", "sufficient")
PARADIGMS = ("replace", "accumulate")
#: The pools over the rows' sufficient statistics :class:`regression.RoundStats`: replace keeps
#: the newest round's, accumulate adds every round's to the real rows' (exact).
POOLS = {"replace": pools.replace, "accumulate": lambda: pools.accumulate(regression.merge)}


class VerifierConfig(NamedTuple):
    """Static structure of the loop (hashable); build it with :func:`verifier_config`.

    ``p`` coefficients, ``n0`` real rows, ``n`` synthetic rows per direction and round
    (``p n`` per round in both designs), ``rounds`` synthetic rounds. ``precision``: the fit;
    ``sample_precision``: the label-noise draws of the synthetic rounds (float32 halves the
    sampling cost, which dominates the kernel on CPU). ``sampler``: one of :data:`SAMPLERS`
    (``sufficient``: block design only, ``2 p`` draws per round instead of ``p n``).
    """

    p: int
    n0: int
    n: int
    rounds: int
    design: str
    paradigm: str
    precision: str
    sample_precision: str
    sampler: str = "rows"


class VerifierParams(NamedTuple):
    """Array leaves; any may carry a leading sweep axis.

    ``delta = ||theta_c - theta*||`` (the centre sits at ``theta* + delta e_1``), ``r`` the
    selectivity, ``sigma`` the label noise, ``sigma_c`` the verifier's slack, ``s`` the row
    norm of the block design (RMS norm of the isotropic one), ``verify`` 1 to filter, 0 to
    keep every row (no verifier).
    """

    delta: jax.Array
    r: jax.Array
    sigma: jax.Array
    sigma_c: jax.Array
    s: jax.Array
    verify: jax.Array


class VerifierFinal(NamedTuple):
    """What a run leaves besides its per-round metrics."""

    theta_star: Vector
    theta_c: Vector
    theta0: Vector
    theta: Vector
    failed_rounds: jax.Array


def verifier_config(*, p: int = 5, n0: int = 20, n: int = 2000, rounds: int = 30,
                    design: str = "block", paradigm: str = "replace",
                    precision: str = "float64",
                    sample_precision: str | None = None,
                    sampler: str = "rows") -> VerifierConfig:
    """Validated :class:`VerifierConfig` (``n0 >= p + 2`` so that the OLS error of the real
    fit, ``p sigma^2 / (n0 - p - 1)``, is finite)."""
    fn = "verifier_config"
    p = check_int(fn, "p", p, 1, 256)
    n0 = check_int(fn, "n0", n0, p + 2)
    n = check_int(fn, "n", n, 1)
    rounds = check_int(fn, "rounds", rounds, 1, 10**6)
    check_choice(fn, "design", design, DESIGNS)
    check_choice(fn, "paradigm", paradigm, PARADIGMS)
    check_precision(fn, precision)
    sample_precision = precision if sample_precision is None else sample_precision
    check_precision(fn, sample_precision)
    check_choice(fn, "sampler", sampler, SAMPLERS)
    if sampler == "sufficient" and design != "block":
        raise InvalidInput(f"{fn}: sampler='sufficient' needs design='block' (the isotropic "
                           f"design's rows do not reduce to per-direction counts); got "
                           f"design={design!r}")
    return VerifierConfig(p, n0, n, rounds, design, paradigm, precision, sample_precision,
                          sampler)


def verifier_params(cfg: VerifierConfig, *, delta=0.5, r=0.2, sigma=1.0, sigma_c=0.5, s=1.0,
                    verify=True) -> VerifierParams:
    """Validated :class:`VerifierParams`.

    Scalars give one point; 1-D arrays (broadcast against each other) give a sweep that
    :func:`collapse_jax.engine.batch.run_sweep` runs under one compile. ``verify`` is a bool (or an
    array of them).
    """
    fn = "verifier_params"
    raw = {"delta": delta, "r": r, "sigma": sigma, "sigma_c": sigma_c, "s": s,
           "verify": np.asarray(verify, dtype=float)}
    arrays = {k: np.asarray(v, dtype=float) for k, v in raw.items()}
    shape = sweep_shape(fn, arrays)
    b = {k: np.broadcast_to(a, shape).ravel() for k, a in arrays.items()}
    for v in b["delta"]:
        check_float(fn, "delta", v, 0.0)
    for v in b["r"]:
        check_float(fn, "r", v, 0.0)
    for v in b["sigma"]:
        check_float(fn, "sigma", v, 0.0, lo_open=True)
    for v in b["sigma_c"]:
        check_float(fn, "sigma_c", v, 0.0)
    for v in b["s"]:
        check_float(fn, "s", v, 0.0, lo_open=True)
    for v in b["verify"]:
        if v not in (0.0, 1.0):
            raise InvalidInput(f"{fn}: verify={v!r} is out of range; allowed True or False")
    for r_, sc, s_, ver in zip(b["r"], b["sigma_c"], b["s"], b["verify"]):
        if ver and r_ * s_ + sc <= 0:
            raise InvalidInput(f"{fn}: r={r_} with sigma_c={sc} is out of range; the verifier "
                             "window r s + sigma_c must be > 0")
    dtype = jnp.float64 if cfg.precision == "float64" else jnp.float32
    return VerifierParams(*(jnp.asarray(np.broadcast_to(arrays[k], shape), dtype)
                            for k in VerifierParams._fields))


def verifier_kernel(key: Key, params: VerifierParams, cfg: VerifierConfig,
                    silo: Silo = 0) -> tuple[Any, Metrics]:
    """Generate - verify - retrain for ``cfg.rounds`` rounds (one seed).

    ``theta* = 0`` (the loop is equivariant under a shift of ``theta*`` and ``theta_c``
    together) and ``theta_c = delta e_1``. Round 0 fits OLS on ``n0`` real rows. Round
    ``k >= 1`` labels ``p n`` synthetic rows with ``theta_{k-1}`` plus fresh noise, keeps the
    rows the verifier accepts and refits OLS on them (``replace``) or on the real rows plus
    every accepted row so far (``accumulate``). A replace round whose accepted rows do not
    determine the fit keeps the previous coefficients where undetermined (see
    :func:`collapse_jax.knowledge_center.regression.ols`) and is flagged in ``fit_failed``.

    ``silo`` only decorrelates the seed stream (``fold_in``) for callers that batch silos.

    Returns ``(VerifierFinal, metrics)``; ``metrics`` maps ``err_star`` (``||theta_k -
    theta*||^2``), ``err_center`` (``||theta_k - theta_c||^2``), ``acc_rate`` (accepted /
    offered rows; row 0: 1), ``accepted`` (accepted rows; row 0: ``n0``), ``fit_failed``
    (0/1), ``theta`` (``(p,)`` coordinates) and, for the block design, ``accepted_dir``
    (``(p,)`` accepted rows per direction; row 0: 0) to arrays of leading size
    ``rounds + 1``.
    """
    dtype = jnp.float64 if cfg.precision == "float64" else jnp.float32
    sdtype = jnp.float64 if cfg.sample_precision == "float64" else jnp.float32
    p = cfg.p
    k_real, k_design, k_rounds = jax.random.split(jax.random.fold_in(key, silo), 3)
    theta_star = jnp.zeros((p,), dtype)
    unit = jnp.zeros((p,), dtype).at[0].set(1.0)
    theta_c = theta_star + params.delta * unit
    real = regression.real_data(k_real, cfg.n0, theta_star, params.sigma, dtype)
    theta0, _ = regression.ols(real, theta_star, block=False)
    block = cfg.design == "block"
    if block:
        block_round = (regression.block_round_sufficient if cfg.sampler == "sufficient"
                       else regression.block_round)

        def round_fn(k, theta):
            return block_round(k, theta, theta_c, cfg.n, params.r, params.sigma,
                               params.sigma_c, params.s, params.verify, sdtype)
    else:
        design = regression.isotropic_design(k_design, p, cfg.n, theta_c, dtype)

        def round_fn(k, theta):
            return regression.isotropic_round(k, design, theta, params.r, params.sigma,
                                              params.sigma_c, params.s, params.verify, sdtype)
    offered = jnp.asarray(p * cfg.n, dtype)

    def metrics(theta, st: regression.RoundStats, failed, rate):
        out = {"err_star": jnp.sum((theta - theta_star) ** 2),
               "err_center": jnp.sum((theta - theta_c) ** 2),
               "acc_rate": rate, "accepted": st.total, "fit_failed": failed, "theta": theta}
        if block:
            out["accepted_dir"] = st.count
        return out

    pool = pools.pool_for(cfg.paradigm, pools=POOLS, fn="verifier_kernel")
    # Only a pool of block rows alone (replace) has the block design's diagonal Gram matrix;
    # the accumulated pool also holds the real (isotropic) rows.
    fit_block = block and cfg.paradigm == "replace"

    def step(carry, k):
        theta, state = carry
        st = round_fn(k, theta)
        state = pool.update(state, st)
        new, failed = regression.ols(pool.read(state), theta, block=fit_block)
        return (new, state), metrics(new, st, failed, st.total / offered)

    keys = jax.random.split(k_rounds, cfg.rounds)
    (theta, _), out = jax.lax.scan(step, (theta0, pool.init(real)), keys)
    real_row = real._replace(count=jnp.zeros((p,), dtype))
    first = metrics(theta0, real_row, jnp.asarray(0.0, dtype), jnp.asarray(1.0, dtype))
    out = jax.tree.map(lambda a, b: jnp.concatenate([a[None], b]), first, out)
    final = VerifierFinal(theta_star, theta_c, theta0, theta, jnp.sum(out["fit_failed"]))
    return final, out
