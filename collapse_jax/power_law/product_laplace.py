"""Qiao et al.'s Laplace family: independent Laplace coordinates refit by median and mean
absolute deviation, with top-alpha selection toward the Gaussian preset's reference.

``subexperiments/NonGaussian_Modeling/non_gaussian_experiment.py`` (XinbaoQiao/When-Sample-
Selection-Bias-Precipitates-Model-Collapse), read point by point: the truth of the Gaussian
preset (``mu* ~ N(0, I)``, ``Sigma* = A A^T + 0.1 I``), the Laplace with location ``mu*`` and
scale ``b_j = sqrt(Sigma*_jj / 2)`` per coordinate (variance ``Sigma*_jj``; the correlations
of ``Sigma*`` are dropped), generation 0 = that truth with an empty pool; each generation draws
``N = n / alpha`` candidates (``n`` without selection), keeps the ``n`` nearest the reference
``u*`` (``mu* + 3 N(0, 1)`` on 5 random coordinates) under the full ``(0.3 Sigma*)^{-1}``
metric, and refits ``loc = median``, ``b = mean |x - loc| + 1e-6`` per coordinate, on the
generation's kept points (replace) or on every kept point so far (accumulate).

Accumulate has no sufficient statistic: the pool is kept whole, per coordinate as a sorted
buffer of ``generations * n`` values (``+inf`` past the ``t n`` filled), into which each
generation's kept values are merged in ``O(generations * n)`` (their ranks by binary search,
the pool's by a prefix count, :func:`_merge_sorted`) instead of re-sorting; the median is
then read off at ``t n / 2`` (numpy's mean of the two middle values for an even count)
and the mean absolute deviation is one pass. The truths and references are those
:func:`collapse_jax.power_law.kernel.seed_setting` derives, so a seed of this kernel and of
the Gaussian preset share them.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from collapse_jax.core._validate import InvalidInput, check_choice, check_float, check_int
from collapse_jax.core.pool import growth_stages, staged_scan
from collapse_jax.core.selection import mahalanobis_sq, threshold_n
from collapse_jax.power_law.equivalent import GROUPS  # the Gaussian equivalent's (2, 4)
from collapse_jax.power_law.kernel import (
    SelectionParams,
    seed_setting,
    selection_config,
    selection_precision,
)

PARADIGMS = ("replace", "accumulate")


class LaplaceConfig(NamedTuple):
    """Static structure (hashable): the Gaussian preset's selection config (truth, reference
    rule, sizes), the paradigm, the stages in which accumulate's sorted pool grows
    (:func:`collapse_jax.core.pool.staged_scan`) and the floor added to the refit scale (the
    authors' 1e-6)."""

    sel: object  # kernel.SelectionConfig
    paradigm: str
    select: bool
    n: int
    candidates: int
    stages: int
    floor: float
    groups: int = 1


def laplace_config(*, n: int, alpha: float, generations: int, paradigm: str, select: bool,
                   dim: int = 10, stages: int = 4, floor: float = 1e-6,
                   groups: int = 1) -> LaplaceConfig:
    """Validated :class:`LaplaceConfig` in Qiao et al.'s setting (random truth, Gaussian
    reference rule, fixed metric, generation 0 = the truth).

    ``groups``: independent candidate sets per generation, each of ``int(n / alpha)``
    candidates of which the ``n`` nearest the reference are kept, and every kept point of
    every set refits the model (``groups * n`` per generation). ``1`` is the authors'
    recursion; ``G > 1`` carries ``1/G`` of its fluctuation with the same selection at each
    set's finite size, on its own random stream: the deterministic equivalent of
    :func:`equivalent_slopes`."""
    fn = "laplace_config"
    groups = check_int(fn, "groups", groups, 1, 64)
    stages = check_int(fn, "stages", stages, 1, 64)
    floor = check_float(fn, "floor", floor, 0.0)
    dim = check_int(fn, "dim", dim, 1, 64)
    n = check_int(fn, "n", n, 2, 10**5)
    generations = check_int(fn, "generations", generations, 2, 10**4)
    alpha = check_float(fn, "alpha", alpha, 0.0, 1.0, lo_open=True)
    check_choice(fn, "paradigm", paradigm, PARADIGMS)
    sel = selection_config(dim=dim, n=n, alpha=alpha, generations=generations, metric="fixed",
                           truth="random", reference="gaussian", start="truth",
                           outputs="light")
    candidates = int(n / alpha) if select else n  # the authors' int(n / alpha)
    return LaplaceConfig(sel, paradigm, bool(select), n, candidates, stages, float(floor),
                         groups)


def preset_params(cfg, *, offset: float = 3.0, fixed_scale: float = 0.3) -> SelectionParams:
    """The selection parameters that the truth and reference derivation of Qiao et al.'s
    non-Gaussian preset reads, for any of its kernels' configs (a :class:`LaplaceConfig` or a
    :class:`collapse_jax.power_law.mixture_family.MixtureConfig`: anything with ``n`` and
    ``candidates``)."""
    f = jnp.float64
    return SelectionParams(jnp.asarray(cfg.n / cfg.candidates, f), jnp.asarray(cfg.n, f),
                           jnp.asarray(offset, f), jnp.asarray(fixed_scale, f),
                           jnp.asarray(0.0, f))


PREFIX_BLOCK = 32  # _prefix_count: the width of the blocks summed by a triangular matmul


def _prefix_count(flags):
    """Inclusive prefix count ``cumsum(flags)`` of a 0/1 vector, exact up to ``2**24``, by
    blocks: counts within blocks of :data:`PREFIX_BLOCK` are one matmul with an upper
    triangular matrix of ones (float32), the blocks' totals are counted the same way at the
    next level, and a plain ``cumsum`` adds the few totals left. The CPU backend's
    ``jnp.cumsum`` of the pool-length vector was the merge's hot spot (0.23 s of a seed's 200
    generations at 12,500 values per coordinate against 0.07 s by blocks, 16 seeds vmapped,
    2 cores)."""
    b = PREFIX_BLOCK
    size = flags.shape[-1]
    tri = jnp.triu(jnp.ones((b, b), jnp.float32))

    def level(x):
        blocks = -(-x.shape[-1] // b)
        x = jnp.pad(x, (0, blocks * b - x.shape[-1])).reshape(blocks, b)
        inner = x @ tri
        return inner, inner[:, -1]

    inner, totals = level(flags.astype(jnp.float32))
    inner2, totals2 = level(totals)
    offsets2 = jnp.cumsum(totals2) - totals2
    block_sums = (inner2 + offsets2[:, None]).reshape(-1)[: totals.shape[0]]
    out = inner + (block_sums - totals)[:, None]
    return out.reshape(-1)[:size].astype(jnp.int32)


def _merge_sorted(pool, new_sorted):
    """Merge ``new_sorted`` (``(m,)``, ascending) into the ascending buffer ``pool``
    (``(M,)``, ``+inf`` past its filled prefix), keeping the first ``M`` values (only
    ``+inf`` padding is dropped when the buffer is sized for every generation).

    New value ``j`` lands after the pool values ``<=`` it and the new values before it (one
    binary search each); every other slot ``k`` takes pool value ``k - (new values before
    k)``: one small scatter, a prefix count (:func:`_prefix_count`) and two gathers (three
    times faster on the CPU backend than scattering the pool)."""
    big, m = pool.shape[0], new_sorted.shape[0]
    pos_new = jnp.searchsorted(pool, new_sorted, side="right") + jnp.arange(m)
    taken = jnp.zeros(big, jnp.int32).at[pos_new].set(1, mode="drop")
    before = _prefix_count(taken) - taken
    from_new = new_sorted[jnp.clip(before, 0, m - 1)]
    from_pool = pool[jnp.clip(jnp.arange(big) - before, 0, big - 1)]
    return jnp.where(taken == 1, from_new, from_pool)


def _median_sorted(pool, count):
    """Median of the first ``count`` values of an ascending buffer (numpy's convention)."""
    lo = pool[(count - 1) // 2]
    hi = pool[count // 2]
    return 0.5 * (lo + hi)


def laplace_product_kernel(key, params: SelectionParams, cfg: LaplaceConfig, silo=0):
    """One seed of Qiao et al.'s Laplace family (module docstring). Returns ``(None,
    metrics)`` with ``ratio`` (``Tr Cov_t / Tr Cov_0 = sum b_t^2 / sum b_0^2``: the
    dispersion ratio ``Disp(P_t) / Disp(P_0)`` without the authors' 4096-draw Monte Carlo)
    and ``mean_abs_scale`` (``mean_j b_j``), each ``(generations + 1,)``."""
    sel = cfg.sel
    dtype = jnp.float64
    truth, reference, (_, _, k_gens) = seed_setting(key, params, sel, dtype, silo)
    precision = selection_precision("fixed", params.fixed_scale, truth)
    loc0 = truth.mean
    scale0 = jnp.sqrt(jnp.maximum(jnp.diagonal(truth.cov), 1e-8) / 2.0)
    d, n, gens, g = sel.dim, cfg.n, sel.generations, cfg.groups
    accumulate = cfg.paradigm == "accumulate"

    def refit_batch(kept):
        loc = jnp.median(kept, axis=0)
        return loc, jnp.mean(jnp.abs(kept - loc), axis=0) + cfg.floor

    def step(carry, xs):
        loc, scale, pool = carry
        k, t = xs
        if g == 1:
            x = loc + scale * jax.random.laplace(k, (cfg.candidates, d), dtype)
            if cfg.select:
                idx, _ = threshold_n(mahalanobis_sq(x, reference, precision), n, n,
                                     cfg.candidates)
                x = x[idx]
        else:  # g independent candidate sets, the n nearest of each kept
            x = loc + scale * jax.random.laplace(k, (g, cfg.candidates, d), dtype)
            if cfg.select:
                idx = jax.vmap(lambda xg: threshold_n(mahalanobis_sq(xg, reference, precision),
                                                      n, n, cfg.candidates)[0])(x)
                x = jnp.take_along_axis(x, idx[..., None], axis=1)
            x = x.reshape(-1, d)
        if not accumulate:
            loc, scale = refit_batch(x)
            return (loc, scale, pool), _metrics(scale)
        pool = jax.vmap(_merge_sorted)(pool, jnp.sort(x, axis=0).T)
        count = (t * (g * n)).astype(jnp.int32)
        loc = jax.vmap(lambda p: _median_sorted(p, count))(pool)
        filled = jnp.arange(pool.shape[1]) < count
        mad = jnp.sum(jnp.where(filled, jnp.abs(pool - loc[:, None]), 0.0), axis=1) / count
        return (loc, mad + cfg.floor, pool), _metrics(mad + cfg.floor)

    def _metrics(scale):
        return {"ratio": jnp.sum(scale**2) / jnp.sum(scale0**2),
                "mean_abs_scale": jnp.mean(scale)}

    def grow(carry, hi):
        # stage (lo, hi] holds hi n values per coordinate (+inf past t n: the merge drops it)
        loc, scale, pool = carry
        extra = (hi * g * n if accumulate else 1) - pool.shape[1]
        return loc, scale, jnp.pad(pool, ((0, 0), (0, extra)), constant_values=jnp.inf)

    # groups > 1 (the equivalent) draws on its own stream: a (g, N, d) draw from the run's key
    # would repeat the run's candidates in its first set
    keys = jax.random.split(k_gens if g == 1 else jax.random.fold_in(k_gens, 0xE0), gens)
    stages = growth_stages(gens, cfg.stages) if accumulate else [(0, gens)]
    _, out = staged_scan(step, (loc0, scale0, jnp.zeros((d, 0), dtype)),
                         (keys, jnp.arange(1, gens + 1, dtype=dtype)), stages, grow)
    first = _metrics(scale0)
    return None, jax.tree.map(lambda a, b: jnp.concatenate([a[None], b]), first, out)


def equivalent_slopes(key, *, n: int, alpha: float, generations: int, window, seeds: int,
                      dim: int = 10, options=None) -> tuple[dict, dict]:
    """Per-seed log-log window slopes of the dispersion ratio under accumulate + selection:
    the deterministic equivalent of the first ``seeds`` seeds of
    :func:`laplace_product_kernel` under ``key`` (the same truths and references, from
    :func:`~collapse_jax.power_law.kernel.seed_setting`), run with each candidate-set count of
    :data:`GROUPS` on its own random stream, so that no candidate of the run enters it.

    With ``G`` sets per generation the refit reads ``G n`` kept points, ``G`` independent
    copies of one generation's selection at the run's own finite size, so the fit carries
    ``1/G`` of the run's fluctuation: to first order ``slope(G) = slope_inf + b / G``, and
    :func:`collapse_jax.power_law.equivalent.fluctuation_extrapolated` gives the run's
    expected slope (``G = 1``) and the mean-field limit (``G -> inf``). The median refit has no
    expected-moment recursion (the Gaussian equivalent's), so the equivalent is this recursion
    of pooled kept samples.

    Returns ``({G: (seeds,) slopes}, {"compile_s", "run_s"})``."""
    from collapse_jax.core import stats
    from collapse_jax.engine import batch

    fn = "equivalent_slopes"
    seeds = check_int(fn, "seeds", seeds, 2, 10**5)
    if not (isinstance(window, tuple) and len(window) == 2
            and 1 <= window[0] < window[1] <= generations):
        raise InvalidInput(f"{fn}: window={window!r}: allowed (start, end) with "
                           f"1 <= start < end <= generations = {generations}")
    t = np.arange(generations + 1)
    slopes, timing = {}, {"compile_s": 0.0, "run_s": 0.0}
    for g in GROUPS:
        cfg = laplace_config(n=n, alpha=alpha, generations=generations, paradigm="accumulate",
                             select=True, dim=dim, groups=g)
        (_, m), tm = batch.run(laplace_product_kernel, key, preset_params(cfg), cfg,
                               seeds=seeds, timed=True, options=options)
        slopes[g] = stats.loglog_window_slope(t, np.log(np.asarray(m["ratio"])[:, 0]), window)
        timing["compile_s"] += tm.compile_s
        timing["run_s"] += tm.run_s
    return slopes, timing


def numpy_reference(seed: int, n: int, alpha: float, generations: int, paradigm: str,
                    select: bool, dim: int = 10, offset: float = 3.0) -> np.ndarray:
    """The authors' loop in numpy for one seed (their rules, a numpy stream): the dispersion
    ratio ``sum b_t^2 / sum b_0^2`` per generation. Used by the tests to check the merge-based
    accumulate against a plain ``np.median`` of the whole pool."""
    rng = np.random.default_rng(seed)
    mu = rng.normal(size=dim)
    a = rng.normal(size=(dim, dim))
    sigma = a @ a.T + 0.1 * np.eye(dim)
    u = mu.copy()
    dims = rng.choice(dim, size=max(1, dim // 2), replace=False)
    u[dims] += rng.normal(size=dims.size) * offset
    prec = np.linalg.inv(0.3 * sigma)
    loc, scale = mu.copy(), np.sqrt(np.maximum(np.diag(sigma), 1e-8) / 2)
    s0 = np.sum(scale**2)
    pool, out = [], [1.0]
    n_gen = int(n / alpha) if select else n
    for _ in range(generations):
        x = rng.laplace(loc, scale, size=(n_gen, dim))
        if select:
            diff = x - u
            x = x[np.argsort(np.sum(diff @ prec * diff, axis=1))[:n]]
        if paradigm == "accumulate":
            pool.append(x)
            x = np.vstack(pool)
        loc = np.median(x, axis=0)
        scale = np.mean(np.abs(x - loc), axis=0) + 1e-6
        out.append(np.sum(scale**2) / s0)
    return np.asarray(out)
