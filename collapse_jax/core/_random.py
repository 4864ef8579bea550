"""Random draws that compile fast.

On the CPU backend (jax 0.10, partitionable threefry), ``jax.random.normal(key, (m, d))``
under ``vmap`` takes several times longer to *compile* than the same number of draws
requested as a flat vector and reshaped (measured: ~6 s vs ~0.7 s of compiler CPU time per
call site). With partitionable threefry (the default since jax 0.5) a draw depends only on
its linear index, so the flat call returns exactly the same numbers as the shaped one: the
helpers change compile time, never results.
"""

from __future__ import annotations

import math

import jax

from collapse_jax.core._types import Key


def normal(key: Key, shape: tuple[int, ...], dtype) -> jax.Array:
    """Standard normal draws of ``shape``, generated flat and reshaped."""
    return jax.random.normal(key, (math.prod(shape),), dtype).reshape(shape)


def uniform(key: Key, shape: tuple[int, ...], dtype) -> jax.Array:
    """Uniform ``[0, 1)`` draws of ``shape``, generated flat and reshaped."""
    return jax.random.uniform(key, (math.prod(shape),), dtype).reshape(shape)
