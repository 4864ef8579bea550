"""Data pools of recursive training: replace, accumulate, accumulate-subsample, buffer.

A generation of recursive training adds a batch of rows to a *data pool* and refits the model
on what the pool holds. Every pool here is a :class:`Pool`: a NamedTuple of pure functions
(optax style) over a NamedTuple or array state, all jit- and vmap-compatible:

* ``state = pool.init(rows, key)``: the pool holding the first (real) batch;
* ``state = pool.empty(rows)``: the pool holding nothing, shaped for batches like ``rows``;
* ``state = pool.update(state, rows, key)``: the pool after one more batch;
* ``pool.read(state)``: what the next model is fitted on.

The constructors:

* :func:`replace`: ``S_t = s(B_t)``, the statistic ``s`` of the newest batch only.
* :func:`accumulate`: ``S_t = merge(S_{t-1}, s(B_t)) = s(B_0 u ... u B_t)`` for a statistic
  that merges exactly (Gaussian :class:`~collapse_jax.core.gaussian.Moments`, regression
  sufficient statistics, label sums): O(size of ``s``) memory however many generations run.
* :func:`accumulate_subsample`: a fixed-size uniform random subset of every row seen so far,
  kept as a bottom-k sample (each row gets an i.i.d. ``U(0, 1)`` priority on arrival and the
  pool keeps the ``size`` smallest; consecutive pools are nested, not redrawn).
* :func:`buffer`: every row so far appended into a fixed-capacity array at the fill count
  (or written over from row 0: replace), with the choice an array so a sweep can vmap it.

:func:`pool_for` turns a config's static paradigm name into a :class:`Pool` once, before
tracing; an unknown name raises :class:`~collapse_jax.core._validate.InvalidInput`.

Example::

    >>> import jax, jax.numpy as jnp
    >>> from collapse_jax.core import pool as pools
    >>> p = pools.pool_for("accumulate")            # Gaussian moments, merged exactly
    >>> s = p.init(pools.Rows(jnp.array([[0.0], [2.0]])))
    >>> s = p.update(s, pools.Rows(jnp.array([[4.0]])))
    >>> float(p.read(s).mean[0]), float(p.read(s).count)
    (2.0, 3.0)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from collapse_jax.core._types import Array, Points, Weights
from collapse_jax.core._validate import InvalidInput
from collapse_jax.core.gaussian import Moments, merge_moments, moments

PARADIGMS = ("replace", "accumulate", "accumulate-subsample")


class Rows(NamedTuple):
    """One batch of rows as a pool consumes it.

    ``points``: the rows (leading axis = rows). ``weights``: row weights in {0, 1} (``None``:
    every row counts). ``priority``: bottom-k arrival priorities (``None``: drawn from the
    key, ``U(0, 1)`` for a live row and ``inf`` for a zero-weight one). ``moments``: the
    batch's :class:`~collapse_jax.core.gaussian.Moments` when the caller has them already.
    """

    points: Points
    weights: Weights | None = None
    priority: Array | None = None
    moments: Moments | None = None


class SubsamplePool(NamedTuple):
    """Fixed-size pool: points and their arrival priorities (``inf`` marks an empty slot)."""

    points: Points
    priority: Array


class Reservoir(NamedTuple):
    """Fixed-size pool of :func:`reservoir`: the rows, which slots are filled, and how many
    live rows have arrived so far."""

    points: Points
    filled: Array
    seen: Array


class Buffer(NamedTuple):
    """Fixed-capacity row buffer: ``rows`` (a pytree of arrays with a leading capacity axis)
    of which the first ``count`` are live."""

    rows: Any
    count: Array


class Pool(NamedTuple):
    """A data pool as three pure functions (see the module docstring).

    ``init(rows, key=None) -> state``, ``update(state, rows, key=None) -> state``,
    ``read(state) -> fit input``, ``empty(rows) -> state`` (nothing pooled yet, shaped for
    batches like ``rows``; ``init`` is not always ``update`` of it: an exact merge into zero
    statistics may round differently); ``stochastic`` says whether ``init``/``update`` need a key
    (only a subsample pool that draws its own priorities does). Customise one field with
    ``pool._replace(read=...)``.
    """

    init: Callable
    update: Callable
    read: Callable
    empty: Callable
    stochastic: bool = False


def _identity(x):
    return x


def _zeros_of(summarise: Callable) -> Callable:
    """``rows -> `` the statistic of ``rows`` with every entry zero (nothing pooled)."""
    return lambda rows: jax.tree.map(jnp.zeros_like, summarise(rows))


def rows_moments(rows: Rows) -> Moments:
    """Gaussian moments ``(sum w, sum w x / sum w, sum w (x - mean)(x - mean)^T)`` of the
    rows: ``rows.moments`` when given, else :func:`~collapse_jax.core.gaussian.moments`."""
    if rows.moments is not None:
        return rows.moments
    return moments(rows.points, rows.weights)


def bottom_k(pool: SubsamplePool, x: Array, priority: Array) -> SubsamplePool:
    """Rows with the ``k`` smallest priorities among ``pool`` and the new rows ``x``.

    ``k`` is the pool size; ``inf`` marks an empty slot or a row never to keep. With i.i.d.
    uniform priorities on arrival the pool is a uniform random subset of every row seen so
    far (bottom-k sampling): the one implementation of the accumulate-subsample pool.
    """
    all_x = jnp.concatenate([pool.points, x])
    all_p = jnp.concatenate([pool.priority, priority])
    _, idx = jax.lax.top_k(-all_p, pool.priority.shape[0])
    return SubsamplePool(all_x[idx], all_p[idx])


def replace(summarise: Callable = _identity) -> Pool:
    """Pool ``S_t = s(B_t)``: the statistic ``s`` (``summarise``) of the newest batch only.

    Args:
        summarise: ``rows -> statistic`` (default: the rows themselves).
    """

    def init(rows, key=None):
        return summarise(rows)

    def update(state, rows, key=None):
        return summarise(rows)

    return Pool(init, update, _identity, _zeros_of(summarise))


def accumulate(merge: Callable, summarise: Callable = _identity) -> Pool:
    """Pool ``S_t = merge(S_{t-1}, s(B_t))``: the statistic of every batch so far.

    Exact when ``merge(s(A), s(B)) = s(A u B)`` (Gaussian moments by the Chan et al. update,
    regression Gram matrices and label sums by addition).

    Args:
        merge: ``(statistic, statistic) -> statistic`` of the union.
        summarise: ``rows -> statistic`` (default: the rows themselves).
    """

    def init(rows, key=None):
        return summarise(rows)

    def update(state, rows, key=None):
        return merge(state, summarise(rows))

    return Pool(init, update, _identity, _zeros_of(summarise))


def _live_rows(state: SubsamplePool) -> Rows:
    return Rows(state.points, jnp.isfinite(state.priority).astype(state.points.dtype))


def accumulate_subsample(size: int, read: Callable = _live_rows) -> Pool:
    """Pool of the ``size`` rows with the smallest arrival priorities (bottom-k sampling).

    Each row gets priority ``u ~ U(0, 1)`` i.i.d. on arrival (``inf`` for a zero-weight
    row) unless ``rows.priority`` gives it, so the pool is a uniform random subset of size
    ``min(size, rows seen)`` of the whole history. The state starts empty (``inf``
    priorities) and ``init`` is one ``update``.

    Args:
        size: pool size ``k``.
        read: ``SubsamplePool -> fit input`` (default: the pool's rows with weight 1 where a
            slot is filled, 0 where it is empty).
    """

    def empty(rows):
        x = rows.points
        return SubsamplePool(jnp.zeros((size,) + x.shape[1:], x.dtype),
                             jnp.full((size,), jnp.inf, x.dtype))

    def update(state, rows, key=None):
        x = rows.points
        prio = rows.priority
        if prio is None:
            w = jnp.ones((x.shape[0],), x.dtype) if rows.weights is None else rows.weights
            prio = jnp.where(w > 0, jax.random.uniform(key, w.shape, x.dtype), jnp.inf)
        return bottom_k(state, x, prio)

    def init(rows, key=None):
        return update(empty(rows), rows, key)

    return Pool(init, update, read, empty, True)


def reservoir(size: int) -> Pool:
    """Accumulate-subsample pool by reservoir sampling (Vitter's Algorithm R), without a sort.

    The ``g``-th live row ever seen (``g`` from 0) takes slot ``g`` while ``g < size``, then
    slot ``floor(u (g + 1))`` when that is below ``size`` (so with probability
    ``size / (g + 1)``), evicting what was there; a batch is applied in row order (a
    scatter-max of row numbers: the last writer of a slot wins). ``u ~ U(0, 1)`` is
    ``rows.priority`` when given (``inf`` marks a row never to keep), else drawn from the
    key; a zero-weight row is never kept. Like :func:`accumulate_subsample` the pool is a
    uniform random subset of size ``min(size, rows seen)`` of the whole history, and the two
    give the same law of the whole sequence of pools (each arrival enters with probability
    ``size / (g + 1)`` independently, and evicts a uniformly chosen member:
    ``tests/core/test_pool.py`` compares the path laws); the draws differ, so their samples
    do. It costs ``O(size + batch)`` per update where the bottom-k merge sorts
    ``size + batch`` priorities: on the CPU backend that sort dominates a small kernel.
    The state is a :class:`Reservoir`; ``read`` gives the rows with weight 1 where a slot is
    filled, 0 where it is empty.
    """

    def empty(rows):
        x = rows.points
        return Reservoir(jnp.zeros((size,) + x.shape[1:], x.dtype),
                         jnp.zeros((size,), bool), jnp.zeros((), jnp.int32))

    def update(state, rows, key=None):
        x = rows.points
        n = x.shape[0]
        u = rows.priority
        if u is None:
            u = jax.random.uniform(key, (n,), x.dtype)
        live = jnp.isfinite(u)
        if rows.weights is not None:
            live = live & (rows.weights > 0)
        g = state.seen + jnp.cumsum(live.astype(jnp.int32)) - 1  # arrival number of each row
        late = jnp.floor(jnp.where(live, u, 0) * (g + 1).astype(u.dtype)).astype(jnp.int32)
        slot = jnp.where(g < size, g, late)
        slot = jnp.where(live & (slot < size), slot, size)  # size: dropped
        owner = jnp.full((size,), -1, jnp.int32).at[slot].max(
            jnp.arange(n, dtype=jnp.int32), mode="drop")
        take = owner >= 0
        new = x[jnp.maximum(owner, 0)]
        shape = (size,) + (1,) * (x.ndim - 1)
        return Reservoir(jnp.where(take.reshape(shape), new, state.points),
                         state.filled | take, state.seen + jnp.sum(live, dtype=jnp.int32))

    def init(rows, key=None):
        return update(empty(rows), rows, key)

    def read(state):
        return Rows(state.points, state.filled.astype(state.points.dtype))

    return Pool(init, update, read, empty, True)


def buffer(capacity: int, accumulate=True) -> Pool:
    """Fixed-capacity row buffer: append the batch at the fill count ``c`` (accumulate) or
    write it from row 0 (replace).

    With ``m`` new rows the write starts at ``min(a c, capacity - m)`` and the count becomes
    ``min(a c + l, capacity)``, ``a = 1`` (accumulate) or ``0`` (replace), ``l = m`` or, with
    ``Rows.weights``, the number of live (non-zero weight) rows, which must come first: a batch
    of static size ``m`` can then carry fewer rows (the dead tail is overwritten by the next
    append). Rows past the count are dead (stale or zero). ``rows`` of :class:`Rows` may be a
    pytree of arrays (images and labels) sharing the leading row axis.

    Args:
        capacity: rows the buffer holds.
        accumulate: a Python bool, or an array (``1.0`` accumulate, ``0.0`` replace) so that
            a sweep can vmap the paradigm under one compile.
    """
    static = isinstance(accumulate, bool)

    def init(rows, key=None):
        pts = rows.points
        m = jax.tree.leaves(pts)[0].shape[0]
        full = jax.tree.map(
            lambda a: jnp.zeros((capacity,) + a.shape[1:], a.dtype).at[:m].set(a), pts)
        return Buffer(full, jnp.asarray(m, jnp.int32))

    def update(state, rows, key=None):
        pts = rows.points
        m = jax.tree.leaves(pts)[0].shape[0]
        live = (jnp.asarray(m, jnp.int32) if rows.weights is None
                else jnp.sum(rows.weights > 0).astype(jnp.int32))
        if static:
            at = state.count if accumulate else jnp.asarray(0, jnp.int32)
            new_count = state.count + live if accumulate else live
        else:
            at = jnp.where(accumulate > 0, state.count, 0)
            new_count = jnp.where(accumulate > 0, state.count + live, live)
        at = jnp.minimum(at, capacity - m).astype(jnp.int32)

        def write(buf, a):
            return jax.lax.dynamic_update_slice(
                buf, a.astype(buf.dtype), (at,) + (jnp.int32(0),) * (a.ndim - 1))

        full = jax.tree.map(write, state.rows, pts)
        return Buffer(full, jnp.minimum(new_count, capacity).astype(jnp.int32))

    def empty(rows):
        return Buffer(jax.tree.map(lambda a: jnp.zeros((capacity,) + a.shape[1:], a.dtype),
                                   rows.points), jnp.asarray(0, jnp.int32))

    return Pool(init, update, _identity, empty)


def gaussian_pools(size: int | None = None) -> dict[str, Callable[[], Pool]]:
    """The three paradigms over Gaussian :class:`~collapse_jax.core.gaussian.Moments`.

    Each reads the pooled moments: ``replace`` those of the newest batch, ``accumulate`` the
    exact merge of every batch, ``accumulate-subsample`` those of the live rows of a
    ``size``-row bottom-k pool.
    """
    return {
        "replace": lambda: replace(rows_moments),
        "accumulate": lambda: accumulate(merge_moments, rows_moments),
        "accumulate-subsample": lambda: accumulate_subsample(
            size, read=lambda s: rows_moments(_live_rows(s))),
    }


def pool_for(name: str, *, size: int | None = None,
             pools: Mapping[str, Callable[[], Pool]] | None = None,
             fn: str = "pool_for") -> Pool:
    """The :class:`Pool` of paradigm ``name``, built once from a static config string.

    Args:
        name: a key of ``pools``.
        size: bottom-k pool size of the default Gaussian ``accumulate-subsample``.
        pools: paradigm name -> zero-argument constructor (default:
            :func:`gaussian_pools` ``(size)``).
        fn: the calling function's name, for the error message.

    Raises:
        InvalidInput: ``name`` is not a key of ``pools``, or the Gaussian
            ``accumulate-subsample`` pool has no ``size``.
    """
    if pools is None:
        if name == "accumulate-subsample" and size is None:
            raise InvalidInput(f"{fn}: size=None is out of range; paradigm="
                               "'accumulate-subsample' needs a pool size >= 1")
        pools = gaussian_pools(size)
    if name not in pools:
        raise InvalidInput(f"{fn}: paradigm={name!r} is unknown; allowed one of "
                           + ", ".join(pools))
    return pools[name]()


def growth_stages(steps: int, stages: int = 4) -> list[tuple[int, int]]:
    """``steps`` in ``stages`` (at most) equal runs ``(lo, hi]`` for :func:`staged_scan`."""
    cuts = sorted({round(steps * i / stages) for i in range(stages + 1)})
    return list(zip(cuts[:-1], cuts[1:]))


def staged_scan(step: Callable, carry, xs, stages: list[tuple[int, int]],
                grow: Callable):
    """``lax.scan(step, carry, xs)`` run as one scan per stage ``(lo, hi]``, with
    ``carry = grow(carry, hi)`` before each: a growing buffer (every row so far, kept by an
    accumulate refit without sufficient statistics) is then sized for the rows its stage can
    hold, so the work per step follows the filled size instead of the final one (about 0.6
    of it with 4 equal stages), at one compiled scan body per stage. ``grow`` must pad with
    what the step treats as empty (zero weights, ``+inf`` in a sorted buffer), so that the
    results do not depend on the staging. Returns the final carry and the stacked outputs."""
    outs = []
    for lo, hi in stages:
        carry = grow(carry, hi)
        part = jax.tree.map(lambda a, lo=lo, hi=hi: a[lo:hi], xs)
        carry, out = jax.lax.scan(step, carry, part)
        outs.append(out)
    return carry, jax.tree.map(lambda *o: jnp.concatenate(o), *outs)
