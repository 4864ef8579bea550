"""Prefix sums and counts of a vector by blocked matmuls.

The CPU backend's ``jnp.cumsum`` of a vector of thousands of values runs as a sequential
loop; summing blocks of :data:`PREFIX_BLOCK` values with one matmul by a triangular matrix of
ones, and the blocks' totals the same way, is several times faster there (measured on 2 cores:
0.23 s against 0.07 s for a seed's 200 merges of 12,500 values per coordinate, 16 seeds
vmapped; ``jnp.nonzero`` with a fixed size, which counts with ``cumsum``, 3.0 against 1.7 ms
per seed's 200 selections of 100 rows among 2,000). Used by the sorted pools of the product
Laplace family and by :func:`collapse_jax.core.selection.threshold_n`.
"""

from __future__ import annotations

import jax.numpy as jnp

PREFIX_BLOCK = 32  # the width of the blocks summed by a triangular matmul
#: Longest vector whose float32 prefix count is exact (every count up to ``2**24`` is).
EXACT_COUNT = 2**24


def prefix_sum(x):
    """Inclusive prefix sum ``cumsum(x)`` of a vector in its own dtype, by blocks: sums within
    blocks of :data:`PREFIX_BLOCK` are one matmul with an upper triangular matrix of ones, the
    blocks' totals are summed the same way at the next level, and a plain ``cumsum`` adds the
    few totals left."""
    b = PREFIX_BLOCK
    size = x.shape[-1]
    tri = jnp.triu(jnp.ones((b, b), x.dtype))

    def level(v):
        blocks = -(-v.shape[-1] // b)
        v = jnp.pad(v, (0, blocks * b - v.shape[-1])).reshape(blocks, b)
        inner = v @ tri
        return inner, inner[:, -1]

    inner, totals = level(x)
    inner2, totals2 = level(totals)
    offsets2 = jnp.cumsum(totals2) - totals2
    block_sums = (inner2 + offsets2[:, None]).reshape(-1)[: totals.shape[0]]
    out = inner + (block_sums - totals)[:, None]
    return out.reshape(-1)[:size]


def prefix_count(flags):
    """Inclusive prefix count ``cumsum(flags)`` (``int32``) of a boolean or 0/1 vector:
    :func:`prefix_sum` in float32, exact for vectors up to :data:`EXACT_COUNT` long; a longer
    one (decided from the static shape) counts with ``jnp.cumsum``."""
    if flags.shape[-1] > EXACT_COUNT:
        return jnp.cumsum(flags.astype(jnp.int32), dtype=jnp.int32)
    return prefix_sum(flags.astype(jnp.float32)).astype(jnp.int32)


def first_true(flags, size: int):
    """The indices of the first ``size`` true entries of ``flags``, in increasing order, ``0``
    past the last one: ``jnp.nonzero(flags, size=size, fill_value=0)[0]`` counted by
    :func:`prefix_count` and placed by one scatter."""
    slot = jnp.where(flags, prefix_count(flags) - 1, size)
    rows = jnp.arange(flags.shape[-1], dtype=jnp.int32)
    return jnp.zeros(size, jnp.int32).at[slot].set(rows, mode="drop")
