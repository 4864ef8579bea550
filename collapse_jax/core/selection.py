"""Top-alpha selection: keep the ``n`` best-scoring of ``N = n / alpha`` candidates.

Two samplers return the *same distribution* of selected points:

* ``sort`` (any dimension, any metric): draw all ``N`` candidates, score them, keep the
  ``n`` with the smallest score (``lax.top_k``). Cost ``O(N log N)`` per generation.
* ``order-stat`` (one dimension, every metric): in 1-D every metric ranks candidates by
  ``|x - u*|``, so the selected set is "the n nearest of N i.i.d. draws to a point". In
  standardised coordinates ``z = (x - mu) / sigma`` with ``c = (u* - mu) / sigma``, the mass
  of the window ``|z - c| <= h`` that holds the ``(n+1)``-th nearest candidate is
  ``U ~ Beta(n + 1, N - n)`` (order statistics of i.i.d. uniforms), and given it the ``n``
  nearest are i.i.d. ``N(0, 1)`` truncated to ``[c - h, c + h]``. Drawing ``U``, solving
  ``Phi(c + h) - Phi(c - h) = U`` for ``h`` and sampling the truncated normal by its inverse
  CDF is exact and costs ``O(n)``: the ``N`` candidates are never materialised.

Both accept a traced ``n_active <= n_max`` (and ``n_candidates``) so that sweeps over ``n``
and ``alpha`` run under one compile; rows past ``n_active`` carry weight 0.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from jax.scipy.special import ndtr, ndtri

from collapse_jax.core._types import (
    Array,
    Float,
    Int,
    Key,
    Matrix,
    Points,
    RealArray,
    RealScalar,
    Vector,
    Weights,
)
from collapse_jax.core.prefix import first_true, prefix_count


def active_weights(n_max: int, n_active: RealScalar, dtype) -> Weights:
    """Weights ``1`` for the first ``n_active`` of ``n_max`` rows and ``0`` after."""
    return (jnp.arange(n_max) < n_active).astype(dtype)


def top_n(scores: Float[Array, " N"], n_max: int, n_active: RealScalar, n_candidates: RealScalar
          ) -> tuple[Int[Array, " m"], Weights]:
    """Indices of the ``n_max`` smallest scores among the first ``n_candidates`` entries.

    Returns ``(indices, weights)`` with weight 1 on the ``n_active`` best and 0 after.
    """
    live = jnp.arange(scores.shape[0]) < n_candidates
    scores = jnp.where(live, scores, jnp.inf)
    _, idx = jax.lax.top_k(-scores, n_max)
    return idx, active_weights(n_max, n_active, scores.dtype)


def mahalanobis_sq(x: Points, ref: Vector, precision: Matrix) -> Float[Array, " m"]:
    """Squared distance ``(x - ref)^T P (x - ref)`` of each row of ``x``."""
    diff = x - ref
    return jnp.einsum("mi,ij,mj->m", diff, precision, diff)


def _window_half_width(c, mass, max_iterations: int = 60, rtol: float = 1e-14):
    """Solve ``Phi(c + h) - Phi(c - h) = mass`` for ``h >= 0`` (``c <= 0``).

    Safeguarded Newton on a bracket (the function is increasing in ``h``), iterated until the
    step is below ``rtol * (1 + h)`` (at most 4 iterations from the initial guess on
    windows like the power-law check's; under ``vmap`` the loop runs until every lane has converged) or
    ``max_iterations``. A Newton step that lands on an end of the bracket is taken: near the
    root the step rounds to ``h`` itself, which is then an end. An open bracket rejected it
    and bisected away from the root (measured 2026-12-05: on windows like the power-law
    check's, ``c = -|N(0..3, 0.3)|`` and ``mass ~ Beta(201, 600)``, 23-51% of 1000 lanes
    needed 6 to 48 iterations; in the kernel the vmapped loop ran 23 per generation on average,
    a third of its time; the roots found are the same).
    """
    mass = jnp.clip(mass, 0.0, 1.0)
    lo = jnp.zeros_like(c)
    hi = -c + 40.0
    h0 = jnp.maximum(ndtri(0.5 * (1.0 + mass)), -c + ndtri(jnp.clip(mass, 1e-300, 1.0)))
    h0 = jnp.clip(h0, lo, hi)

    def body(state):
        i, h, lo, hi, _ = state
        f = ndtr(c + h) - ndtr(c - h) - mass
        lo = jnp.where(f < 0, h, lo)
        hi = jnp.where(f >= 0, h, hi)
        fp = jnp.exp(-0.5 * (c + h) ** 2) + jnp.exp(-0.5 * (c - h) ** 2)
        fp = fp * 0.3989422804014327
        step = h - f / jnp.where(fp > 0, fp, 1.0)
        ok = (step >= lo) & (step <= hi) & (fp > 0)
        new = jnp.where(ok, step, 0.5 * (lo + hi))
        done = (jnp.abs(new - h) <= rtol * (1.0 + h)) | (hi - lo <= rtol * (1.0 + h))
        return i + 1, new, lo, hi, done

    def cond(state):
        i, _, _, _, done = state
        return (i < max_iterations) & ~jnp.all(done)

    _, h, _, _, _ = jax.lax.while_loop(cond, body, (0, h0, lo, hi, jnp.zeros(c.shape, bool)))
    return h


def gamma_ge1(key: Key, shape_param: RealArray, shape: tuple[int, ...] = (), dtype=jnp.float64
              ) -> Float[Array, "..."]:
    """``Gamma(a, 1)`` draws for ``a >= 1`` by Marsaglia and Tsang's exact rejection method
    (no squeeze): ``d = a - 1/3``, ``c = 1 / sqrt(9 d)``, propose ``v = (1 + c x)^3`` with
    ``x ~ N(0, 1)`` and accept when ``log u < x^2 / 2 + d - d v + d log v``.

    All lanes propose together in a ``while_loop`` until each has accepted (acceptance is
    above 0.95 for every ``a >= 1``, about 0.99 for the ``a`` of top-alpha windows). Written
    out because ``jax.random.gamma`` compiles about twice as slowly on the CPU backend; the
    uniform is ``Phi`` of a second normal so that one threefry call feeds a round.
    """
    a = jnp.broadcast_to(jnp.asarray(shape_param, dtype), shape)
    d = a - 1.0 / 3.0
    c = 1.0 / jnp.sqrt(9.0 * d)
    size = max(1, math.prod(shape))

    def body(state):
        i, out, done = state
        draws = jax.random.normal(jax.random.fold_in(key, i), (2 * size,), dtype)
        x = draws[:size].reshape(shape)
        u = ndtr(draws[size:]).reshape(shape)
        v = (1.0 + c * x) ** 3
        safe_v = jnp.where(v > 0, v, 1.0)
        ok = (v > 0) & (jnp.log(u) < 0.5 * x * x + d - d * v + d * jnp.log(safe_v))
        return i + 1, jnp.where(ok & ~done, d * v, out), done | ok

    def cond(state):
        return ~jnp.all(state[2])

    init = (jnp.asarray(0, jnp.uint32), jnp.zeros(shape, dtype), jnp.zeros(shape, bool))
    return jax.lax.while_loop(cond, body, init)[1]


def window_mass(key: Key, n_active: RealArray, n_candidates: RealArray, shape: tuple[int, ...] = (),
                dtype=jnp.float64) -> Float[Array, "..."]:
    """Probability mass of the top-alpha window: ``U ~ Beta(n + 1, N - n)``.

    ``U`` is the CDF value of the ``(n+1)``-th smallest of ``N`` i.i.d. distances; it does not
    depend on the state, so a kernel draws all generations' masses at once, as
    ``G_a / (G_a + G_b)`` from two :func:`gamma_ge1` draws. ``N == n`` (``alpha = 1``) gives
    mass 1: every candidate is kept.
    """
    a = jnp.asarray(n_active, dtype) + 1.0
    b = jnp.asarray(n_candidates, dtype) - jnp.asarray(n_active, dtype)
    k_a, k_b = jax.random.split(key)
    g_a = gamma_ge1(k_a, a, shape, dtype)
    g_b = gamma_ge1(k_b, jnp.maximum(b, 1.0), shape, dtype)
    return jnp.where(b > 0, g_a / (g_a + g_b), 1.0)
def order_stat_window(key: Key, c: RealScalar, mass: RealScalar, n_max: int, n_active: RealScalar,
                      sample_dtype) -> tuple[Float[Array, " m"], Weights]:
    """Exact 1-D top-alpha draw: the ``n_active`` i.i.d. N(0, 1) candidates nearest to ``c``
    when the selection window holds probability ``mass`` (from :func:`window_mass`).

    Returns ``(z, weights)`` in standardised units: ``z`` has shape ``(n_max,)`` and rows past
    ``n_active`` (valid draws) have weight 0.
    """
    dtype = jnp.result_type(c)
    full = mass >= 1.0
    flip = jnp.where(c > 0, -1.0, 1.0).astype(dtype)
    cm = -jnp.abs(c)
    h = _window_half_width(cm, jnp.where(full, 0.5, mass))
    p_lo = jnp.where(full, 0.0, ndtr(cm - h)).astype(sample_dtype)
    p_hi = jnp.where(full, 1.0, ndtr(cm + h)).astype(sample_dtype)
    tiny = jnp.finfo(sample_dtype).tiny
    u = jax.random.uniform(key, (n_max,), sample_dtype)
    z = ndtri(jnp.clip(p_lo + u * (p_hi - p_lo), tiny, 1.0 - jnp.finfo(sample_dtype).epsneg))
    return flip * z.astype(dtype), active_weights(n_max, n_active, dtype)


def threshold_n(scores: Float[Array, " N"], n_max: int, n_active: RealScalar,
                n_candidates: RealScalar) -> tuple[Int[Array, " m"], Weights]:
    """:func:`top_n` by a threshold instead of a sort: the same rows, found without sorting.

    The bit pattern of a non-negative IEEE float, read as a signed integer, increases with
    its value, so bisection over the integers between the smallest and the largest live
    score finds the ``n_active``-th smallest score exactly in at most ``8 * itemsize - 1``
    counting passes of ``O(N)``. It stops at the first midpoint with exactly ``n_active``
    scores at or below it (a gap between the ``n_active``-th and the next score): those rows
    are the kept set. Otherwise (tied scores at the boundary) rows strictly below the
    threshold are kept, and rows equal to it in index order until ``n_active`` are kept
    (``lax.top_k``'s tie rule), so the kept set is exactly :func:`top_n`'s; the indices come
    in increasing row order instead of by score. Scores must be non-negative (squared
    distances). Cheaper than ``lax.top_k`` on the CPU backend when ``N`` is in the thousands
    (``benchmarks/power_law_speed.py --preset``); the early stop and the bracket took a seed's
    200 selections of 100 rows among 2,000 float64 scores from 11.5 to 5 ms of bisection
    (10 seeds vmapped in a scan, 2 cores, 2026-12-06).
    """
    width = 8 * scores.dtype.itemsize
    itype = jnp.int32 if width == 32 else jnp.int64
    top = jnp.iinfo(itype).max
    live = jnp.arange(scores.shape[0]) < n_candidates
    bits = jnp.where(live, jax.lax.bitcast_convert_type(jnp.maximum(scores, 0.0), itype), top)
    need = jnp.asarray(n_active).astype(itype)

    def halve(state):
        lo, hi, _ = state
        mid = lo + (hi - lo) // 2
        count = jnp.sum(bits <= mid, dtype=itype)
        enough = count >= need
        return jnp.where(enough, lo, mid + 1), jnp.where(enough, mid, hi), count == need

    # the threshold lies between the smallest and the largest live score's bits; ``exact``: a
    # midpoint with exactly ``need`` scores at or below it was found, and is the threshold
    lo = jnp.min(bits)
    hi = jnp.max(jnp.where(live, bits, 0))
    _, thr, _ = jax.lax.while_loop(lambda s: (s[0] < s[1]) & ~s[2], halve,
                                   (lo, hi, jnp.zeros((), bool)))
    below = bits < thr
    tie = bits == thr
    room = need - jnp.sum(below, dtype=itype)
    keep = below | (tie & (prefix_count(tie) <= room))
    idx = first_true(keep, n_max)
    return idx, active_weights(n_max, n_active, scores.dtype)
