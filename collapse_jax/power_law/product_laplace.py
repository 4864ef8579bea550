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

Accumulate has no sufficient statistic: the pool is kept whole, per coordinate, in two
ascending buffers. Each generation's kept values are merged (:func:`_merge_sorted`: their ranks
by binary search, the buffer's by a prefix count) into a small buffer that holds the last
``flush`` generations; the median is the middle order statistic of both buffers together, found
by a binary search whose length depends on the small buffer only (:func:`_kth_union`), and the
sum of absolute deviations reads the big buffer through its prefix sums (:func:`_abs_dev_sum`).
Every ``flush`` generations the small buffer is merged into the big one (``+inf`` past its
filled prefix, grown in stages). A generation then costs ``O(flush n)`` instead of the
``O(t n)`` of one merge into the whole pool per generation, and the run
``O(T^2 n / flush + T flush n)``. The median is numpy's (the mean of the two middle values for
an even count). The truths and references are those
:func:`collapse_jax.power_law.kernel.seed_setting` derives, so a seed of this kernel and of
the Gaussian preset share them.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from collapse_jax.core import _random
from collapse_jax.core._validate import InvalidInput, check_choice, check_float, check_int
from collapse_jax.core.pool import growth_stages, staged_scan
from collapse_jax.core.prefix import prefix_count, prefix_sum
from collapse_jax.core.selection import mahalanobis_sq, threshold_n
from collapse_jax.core.sorting import median_columns, sort_columns
from collapse_jax.power_law.equivalent import GROUPS  # the Gaussian equivalent's (2, 4)
from collapse_jax.power_law.kernel import (
    SelectionParams,
    seed_setting,
    selection_config,
    selection_precision,
)

PARADIGMS = ("replace", "accumulate")
FLUSH = 16  # accumulate: generations between merges of the small buffer into the big one


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
    flush: int = FLUSH  # accumulate: generations the small sorted buffer holds between merges


def laplace_config(*, n: int, alpha: float, generations: int, paradigm: str, select: bool,
                   dim: int = 10, stages: int = 4, floor: float = 1e-6,
                   groups: int = 1, flush: int | None = None) -> LaplaceConfig:
    """Validated :class:`LaplaceConfig` in Qiao et al.'s setting (random truth, Gaussian
    reference rule, fixed metric, generation 0 = the truth).

    ``groups``: independent candidate sets per generation, each of ``int(n / alpha)``
    candidates of which the ``n`` nearest the reference are kept, and every kept point of
    every set refits the model (``groups * n`` per generation). ``1`` is the authors'
    recursion; ``G > 1`` carries ``1/G`` of its fluctuation with the same selection at each
    set's finite size, on its own random stream: the deterministic equivalent of
    :func:`equivalent_slopes`. ``flush`` (default :data:`FLUSH`): accumulate's generations
    between merges of the small sorted buffer into the big one (module docstring); it changes
    the cost, not the numbers (to rounding)."""
    fn = "laplace_config"
    groups = check_int(fn, "groups", groups, 1, 64)
    stages = check_int(fn, "stages", stages, 1, 64)
    floor = check_float(fn, "floor", floor, 0.0)
    flush = FLUSH if flush is None else check_int(fn, "flush", flush, 1, 10**4)
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
                         groups, flush)


def preset_params(cfg, *, offset: float = 3.0, fixed_scale: float = 0.3) -> SelectionParams:
    """The selection parameters that the truth and reference derivation of Qiao et al.'s
    non-Gaussian preset reads, for any of its kernels' configs (a :class:`LaplaceConfig` or a
    :class:`collapse_jax.power_law.mixture_family.MixtureConfig`: anything with ``n`` and
    ``candidates``)."""
    f = jnp.float64
    return SelectionParams(jnp.asarray(cfg.n / cfg.candidates, f), jnp.asarray(cfg.n, f),
                           jnp.asarray(offset, f), jnp.asarray(fixed_scale, f),
                           jnp.asarray(0.0, f))


def _merge_sorted(pool, new_sorted):
    """Merge ``new_sorted`` (``(m,)``, ascending) into the ascending buffer ``pool``
    (``(M,)``, ``+inf`` past its filled prefix), keeping the first ``M`` values (only
    ``+inf`` padding is dropped when the buffer is sized for every generation).

    New value ``j`` lands after the pool values ``<=`` it and the new values before it (one
    binary search each); every other slot ``k`` takes pool value ``k - (new values before
    k)``: one small scatter, a prefix count (:func:`collapse_jax.core.prefix.prefix_count`)
    and two gathers (three times faster on the CPU backend than scattering the pool)."""
    big, m = pool.shape[0], new_sorted.shape[0]
    pos_new = jnp.searchsorted(pool, new_sorted, side="right") + jnp.arange(m)
    taken = jnp.zeros(big, jnp.int32).at[pos_new].set(1, mode="drop")
    before = prefix_count(taken) - taken
    from_new = new_sorted[jnp.clip(before, 0, m - 1)]
    from_pool = pool[jnp.clip(jnp.arange(big) - before, 0, big - 1)]
    return jnp.where(taken == 1, from_new, from_pool)


def _kth_union(a, b, k):
    """The ``k``-th smallest value (0-based) of the union of the ascending buffers ``a`` and
    ``b`` (``+inf`` past their filled prefixes; ``k`` below the filled total): a binary search
    for the number ``i`` of values taken from ``a`` (ties: ``a`` first), in
    ``ceil(log2(len(b) + 2))`` steps, so its cost does not grow with ``a``."""
    la, lb = a.shape[0], b.shape[0]

    def at(v, i, fill):
        return jnp.where((i >= 0) & (i < v.shape[0]), v[jnp.clip(i, 0, v.shape[0] - 1)], fill)

    def enough(i):  # the (k+1) smallest hold i values of a: b[j - 1] < a[i], j = k + 1 - i
        return at(b, k - i, -jnp.inf) < at(a, i, jnp.inf)

    def body(_, lohi):
        lo, hi = lohi
        mid = (lo + hi) // 2
        ok = enough(mid)
        return (jnp.where((lo < hi) & ~ok, mid + 1, lo), jnp.where((lo < hi) & ok, mid, hi))

    lo = jnp.maximum(0, k + 1 - lb)
    hi = jnp.minimum(k + 1, la)
    steps = int(np.ceil(np.log2(lb + 2)))
    i, _ = jax.lax.fori_loop(0, steps, body, (lo, hi))
    return jnp.maximum(at(a, i - 1, -jnp.inf), at(b, k - i, -jnp.inf))


def _median_union(a, b, count):
    """Median of the ``count`` filled values of the ascending buffers ``a`` and ``b`` together
    (numpy's mean of the two middle values for an even count)."""
    return 0.5 * (_kth_union(a, b, (count - 1) // 2) + _kth_union(a, b, count // 2))


def _abs_dev_sum(big, sums, n_big, recent, m):
    """``sum |x - m|`` over the ``n_big`` filled values of the ascending ``big`` (through its
    prefix sums ``sums``, ``sums[i] = big[0] + ... + big[i - 1]``) and the filled values of
    ``recent`` (one pass over the small buffer)."""
    i = jnp.minimum(jnp.searchsorted(big, m, side="left"), n_big)  # big values below m
    s_i, s_all = sums[i], sums[n_big]
    below = m * i - s_i
    above = (s_all - s_i) - m * (n_big - i)
    rest = jnp.sum(jnp.where(jnp.isfinite(recent), jnp.abs(recent - m), 0.0))
    return below + above + rest


def _flush(big, sums, recent):
    """Merge the small buffer of recent values (``(d, m)``) into the big one (``(d, M)``) and
    refresh its prefix sums (``(d, M + 1)``)."""
    big = jax.vmap(_merge_sorted)(big, recent)
    filled = jnp.where(jnp.isfinite(big), big, 0.0)
    sums = jnp.concatenate([jnp.zeros_like(big[:, :1]), jax.vmap(prefix_sum)(filled)], axis=1)
    return big, sums


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

    def kept(k, loc, scale):
        if g == 1:
            x = loc + scale * _random.laplace(k, (cfg.candidates, d), dtype)
            if cfg.select:
                idx, _ = threshold_n(mahalanobis_sq(x, reference, precision), n, n,
                                     cfg.candidates)
                x = x[idx]
            return x
        # g independent candidate sets, the n nearest of each kept
        x = loc + scale * _random.laplace(k, (g, cfg.candidates, d), dtype)
        if cfg.select:
            idx = jax.vmap(lambda xg: threshold_n(mahalanobis_sq(xg, reference, precision),
                                                  n, n, cfg.candidates)[0])(x)
            x = jnp.take_along_axis(x, idx[..., None], axis=1)
        return x.reshape(-1, d)

    def metrics(scale):
        return {"ratio": jnp.sum(scale**2) / jnp.sum(scale0**2),
                "mean_abs_scale": jnp.mean(scale)}

    def replace_step(carry, xs):
        loc, scale = carry
        x = kept(xs[0], loc, scale)
        loc = median_columns(x)
        scale = jnp.mean(jnp.abs(x - loc), axis=0) + cfg.floor
        return (loc, scale), metrics(scale)

    def block(carry, xs):
        # ``flush`` generations: each merges its kept values into the small sorted buffer
        # and refits from both buffers; the big buffer (every earlier block, constant here)
        # takes the small one at the end
        loc, scale, big, sums = carry
        per = g * n  # kept values per coordinate and generation
        n_big = (xs[1][0] - 1) * per

        def gen(c, xs_):
            loc, scale, recent = c
            k, t = xs_
            recent = jax.vmap(_merge_sorted)(recent, sort_columns(kept(k, loc, scale)))
            count = t * per
            loc = jax.vmap(lambda b_, r: _median_union(b_, r, count))(big, recent)
            dev = jax.vmap(lambda b_, s_, r, m: _abs_dev_sum(b_, s_, n_big, r, m))(
                big, sums, recent, loc)
            scale = dev / count + cfg.floor
            return (loc, scale, recent), metrics(scale)

        recent = jnp.full((d, xs[1].shape[0] * per), jnp.inf, dtype)
        (loc, scale, recent), out = jax.lax.scan(gen, (loc, scale, recent), xs)
        big, sums = _flush(big, sums, recent)
        return (loc, scale, big, sums), out

    def grow(carry, hi):
        # blocks up to ``hi`` fill ``hi flush g n`` values per coordinate (at most all the
        # run's): the big buffer is padded with +inf (the merge drops it), the sums with the
        # total
        loc, scale, big, sums = carry
        extra = min(hi * cfg.flush, gens) * g * n - big.shape[1]
        return (loc, scale, jnp.pad(big, ((0, 0), (0, extra)), constant_values=jnp.inf),
                jnp.pad(sums, ((0, 0), (0, extra)), mode="edge"))

    # groups > 1 (the equivalent) draws on its own stream: a (g, N, d) draw from the run's key
    # would repeat the run's candidates in its first set
    keys = jax.random.split(k_gens if g == 1 else jax.random.fold_in(k_gens, 0xE0), gens)
    t = jnp.arange(1, gens + 1, dtype=jnp.int32)
    if not accumulate:
        _, out = jax.lax.scan(replace_step, (loc0, scale0), (keys, t))
    else:
        size, full = cfg.flush, gens // cfg.flush
        carry = (loc0, scale0, jnp.zeros((d, 0), dtype), jnp.zeros((d, 1), dtype))
        outs = []
        if full:
            xs = jax.tree.map(lambda a: a[: full * size].reshape(full, size, *a.shape[1:]),
                              (keys, t))
            carry, out = staged_scan(block, carry, xs, growth_stages(full, cfg.stages), grow)
            outs.append(jax.tree.map(lambda a: a.reshape(-1, *a.shape[2:]), out))
        if gens % size:  # the last, shorter block
            carry = grow(carry, -(-gens // size))
            _, out = block(carry, (keys[full * size:], t[full * size:]))
            outs.append(out)
        out = jax.tree.map(lambda *o: jnp.concatenate(o), *outs)
    first = metrics(scale0)
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
    cfgs = tuple(laplace_config(n=n, alpha=alpha, generations=generations,
                                paradigm="accumulate", select=True, dim=dim, groups=g)
                 for g in GROUPS)
    # every count in one compiled program (each count's recursion as its own program would
    # run it: the same numbers), compiled once instead of once per count
    (_, m), tm = batch.run(_counts_kernel, key, preset_params(cfgs[0]), cfgs, seeds=seeds,
                           timed=True, options=options)
    ratio = np.asarray(m["ratio"])[:, 0]  # (seeds, len(GROUPS), generations + 1)
    slopes = {g: stats.loglog_window_slope(t, np.log(ratio[:, i]), window)
              for i, g in enumerate(GROUPS)}
    return slopes, {"compile_s": tm.compile_s, "run_s": tm.run_s}


def _counts_kernel(key, params: SelectionParams, cfgs: tuple, silo=0):
    """:func:`laplace_product_kernel` under each config of ``cfgs`` (the same truth and
    reference, each on its own stream) in one program: ``ratio`` ``(len(cfgs), T + 1)``."""
    return None, {"ratio": jnp.stack([laplace_product_kernel(key, params, c, silo)[1]["ratio"]
                                      for c in cfgs])}


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
