"""Short sorts by a sorting network of vector minima and maxima.

XLA's CPU sort calls a compiled comparator once per comparison; sorting many short rows (the
product Laplace family sorts its 100 kept values of each of 10 coordinates every generation)
spends most of its time in those calls. A bitonic network sorts every row at once with
``log2(m) (log2(m) + 1) / 2`` stages of elementwise ``minimum`` / ``maximum``: measured on 2
cores on 2026-12-06, 6.3 against 19.6 ms per seed for 200 generations of (10, 100) rows, 10
seeds vmapped in a scan. The result is ``jnp.sort``'s for finite values (and infinities); a
NaN spreads to the other value of every pair it meets instead of sorting last.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

#: Rows longer than this go to ``jnp.sort``: the network's stages grow as ``log2(m)^2`` and
#: its programs take longer to compile.
NETWORK_MAX = 1024


def sort_last(x):
    """``jnp.sort(x, axis=-1)`` by a bitonic network (the row padded with ``+inf`` to a power
    of two) for rows up to :data:`NETWORK_MAX` long, by ``jnp.sort`` beyond."""
    m = x.shape[-1]
    if m <= 1:
        return x
    if m > NETWORK_MAX:
        return jnp.sort(x, axis=-1)
    size = 1 << (m - 1).bit_length()
    lead = x.shape[:-1]
    if size > m:
        x = jnp.concatenate([x, jnp.full((*lead, size - m), jnp.inf, x.dtype)], axis=-1)
    k = 2
    while k <= size:
        j = k // 2
        while j >= 1:
            # compare-exchange i with i + j (bit j of i clear); ascending where bit k of i is
            # clear, descending where it is set
            v = x.reshape(*lead, size // (2 * j), 2, j)
            a, b = v[..., 0, :], v[..., 1, :]
            lo, hi = jnp.minimum(a, b), jnp.maximum(a, b)
            i = np.arange(size // (2 * j))[:, None] * 2 * j + np.arange(j)[None, :]
            ascending = (i & k) == 0
            x = jnp.stack([jnp.where(ascending, lo, hi), jnp.where(ascending, hi, lo)],
                          axis=-2).reshape(*lead, size)
            j //= 2
        k *= 2
    return x[..., :m]


def sort_columns(x):
    """``jnp.sort(x, axis=0)`` of a 2-D array, returned transposed (``(columns, rows)``): the
    layout the sorted pools of :mod:`collapse_jax.power_law.product_laplace` keep."""
    return sort_last(x.T)


def median_columns(x):
    """``jnp.median(x, axis=0)`` of a 2-D array (numpy's mean of the two middle values for an
    even count) through :func:`sort_last`."""
    s = sort_last(x.T)
    m = s.shape[-1]
    return 0.5 * (s[:, (m - 1) // 2] + s[:, m // 2])
