"""Data-pool updates of recursive training: replace, accumulate, accumulate-subsample.

Each paradigm is an ``init`` / ``update`` pair over a NamedTuple state (optax style) plus a
``moments`` read-out, all pure and vmappable:

* ``replace``: the model is refit on the newest batch only.
* ``accumulate``: the model is refit on the union of all batches so far (the real data
  included). The state is the pooled :class:`~collapse_jax.core.gaussian.Moments`, merged exactly,
  so memory is O(d^2) per seed however many generations run.
* ``accumulate-subsample``: the model is refit on a fixed-size pool of ``pool_size`` points
  that is a uniform random subset of everything generated so far. It is kept as a bottom-k
  sample: every point gets an i.i.d. uniform priority when it arrives and the pool holds the
  ``pool_size`` smallest, which is exactly a uniform subset of the history (consecutive pools
  are nested, not redrawn from scratch). Memory O(pool_size * d).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from collapse_jax.core._types import Array, Key, Points, Weights
from collapse_jax.core._validate import InvalidInput
from collapse_jax.core.gaussian import Moments, merge_moments, moments

PARADIGMS = ("replace", "accumulate", "accumulate-subsample")


class SubsamplePool(NamedTuple):
    """Fixed-size pool: points and their arrival priorities (``inf`` marks an empty slot)."""

    points: Points
    priority: Array


def bottom_k(pool: SubsamplePool, x: Array, priority: Array) -> SubsamplePool:
    """Merge rows ``x`` with their ``priority`` into ``pool``, keeping the rows with the
    pool-size smallest priorities (``inf`` marks an empty slot or a row never to keep). With
    i.i.d. uniform priorities on arrival the pool is a uniform random subset of every row seen
    so far (bottom-k sampling). The one implementation of the accumulate-subsample pool: the
    Gaussian, fixed-design and proxy kernels all call it."""
    all_x = jnp.concatenate([pool.points, x])
    all_p = jnp.concatenate([pool.priority, priority])
    _, idx = jax.lax.top_k(-all_p, pool.priority.shape[0])
    return SubsamplePool(all_x[idx], all_p[idx])


def init(paradigm: str, key: Key, x: Points, w: Weights, pool_size: int):
    """Pool state holding the first (real) batch ``x`` with row weights ``w``."""
    if paradigm in ("replace", "accumulate"):
        return moments(x, w)
    if paradigm == "accumulate-subsample":
        empty = SubsamplePool(
            jnp.zeros((pool_size, x.shape[1]), x.dtype), jnp.full((pool_size,), jnp.inf, x.dtype)
        )
        return update(paradigm, empty, key, x, w)
    raise InvalidInput(f"paradigms.init: paradigm={paradigm!r} is unknown; allowed one of "
                     + ", ".join(PARADIGMS))


def update(paradigm: str, state, key: Key, x: Points, w: Weights, batch: Moments | None = None):
    """Add the batch ``x`` (row weights ``w`` in {0, 1}) to the pool.

    ``batch`` may pass the batch's moments when the caller has them already.
    """
    if batch is None:
        batch = moments(x, w)
    if paradigm == "replace":
        return batch
    if paradigm == "accumulate":
        return merge_moments(state, batch)
    if paradigm == "accumulate-subsample":
        prio = jnp.where(w > 0, jax.random.uniform(key, w.shape, x.dtype), jnp.inf)
        return bottom_k(state, x, prio)
    raise InvalidInput(f"paradigms.update: paradigm={paradigm!r} is unknown")


def pool_moments(paradigm: str, state) -> Moments:
    """Moments of the data the next model is fitted on."""
    if paradigm == "accumulate-subsample":
        return moments(state.points, jnp.isfinite(state.priority).astype(state.points.dtype))
    return state
