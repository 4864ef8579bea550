"""Random draws that compile and run fast.

On the CPU backend (jax 0.10, partitionable threefry), ``jax.random.normal(key, (m, d))``
under ``vmap`` takes several times longer to *compile* than the same number of draws
requested as a flat vector and reshaped (measured: ~6 s vs ~0.7 s of compiler CPU time per
call site), and several times longer to *run* as well: 2000 x 10 draws per call, 10 seeds
vmapped, 200 calls in a scan, one core (2026-12-06, AMD EPYC): Laplace 0.87 s shaped
against 0.31 s flat, float64 normal 1.99 against 0.84 s, float64 uniform 0.81 against
0.21 s (the shaped call hashes a counter built from one ``iota`` per dimension). With
partitionable threefry (the default since jax 0.5) a draw depends only on its linear index,
so the flat call returns exactly the same numbers as the shaped one: the helpers change
compile and run time, never results (``tests/core/test_random.py``). Every draw of more than
one dimension in the package goes through them, except the networks' initial weights, which
equinox's layer constructors draw once per model.

:func:`normal_f32` is the one helper that changes the stream (not the law): it draws float32
normals from both 32-bit halves of each 64-bit threefry output, where
``jax.random.normal(..., float32)`` spends one threefry block on each 32-bit word.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from collapse_jax.core._types import Key


def normal(key: Key, shape: tuple[int, ...], dtype) -> jax.Array:
    """Standard normal draws of ``shape``, generated flat and reshaped."""
    return jax.random.normal(key, (math.prod(shape),), dtype).reshape(shape)


def uniform(key: Key, shape: tuple[int, ...], dtype) -> jax.Array:
    """Uniform ``[0, 1)`` draws of ``shape``, generated flat and reshaped."""
    return jax.random.uniform(key, (math.prod(shape),), dtype).reshape(shape)


def laplace(key: Key, shape: tuple[int, ...], dtype) -> jax.Array:
    """Standard Laplace draws of ``shape``, generated flat and reshaped."""
    return jax.random.laplace(key, (math.prod(shape),), dtype).reshape(shape)


def exponential(key: Key, shape: tuple[int, ...], dtype) -> jax.Array:
    """Standard exponential draws of ``shape``, generated flat and reshaped."""
    return jax.random.exponential(key, (math.prod(shape),), dtype).reshape(shape)


def bernoulli(key: Key, p: jax.Array) -> jax.Array:
    """``jax.random.bernoulli(key, p)`` (one draw per entry of ``p``), drawn flat."""
    return jax.random.bernoulli(key, p.reshape(-1)).reshape(p.shape)


def categorical(key: Key, logits: jax.Array) -> jax.Array:
    """``jax.random.categorical(key, logits)`` over the last axis (the Gumbel-max draw), with
    its Gumbel noise drawn flat."""
    g = jax.random.gumbel(key, (logits.size,), logits.dtype).reshape(logits.shape)
    return jnp.argmax(g + logits, axis=-1)


_F32_ONE_BITS = np.uint32(0x3F800000)
_F32_ABOVE_MINUS_ONE = np.nextafter(np.float32(-1.0), np.float32(0.0))


def normal_f32(key: Key, shape: tuple[int, ...]) -> jax.Array:
    """Standard normal float32 draws of ``shape``: ``jax.random.normal``'s own conversion (23
    random mantissa bits to a uniform on ``(-1, 1)``, then ``sqrt(2) erfinv``; bit-identical to
    it when fed the same 32-bit words, ``tests/core/test_random.py``) applied to both halves of
    ``jax.random.bits(key, ., uint64)``. Partitionable threefry hashes one counter per output
    word, 32- or 64-bit alike, so this takes half the threefry work of
    ``jax.random.normal(key, shape, float32)``: about 1.6x faster on the CPU backend, where
    the hash dominates the draw (``benchmarks/power_law_speed.py --preset``). A different
    stream than ``jax.random.normal`` from the same key, the same law. Needs 64-bit types
    (``jax_enable_x64``); without them it is ``jax.random.normal``.
    """
    size = math.prod(shape)
    if not jax.config.jax_enable_x64:
        return normal(key, shape, jnp.float32)
    pairs = jax.random.bits(key, ((size + 1) // 2,), jnp.uint64)
    words = jnp.concatenate([(pairs >> 32).astype(jnp.uint32), pairs.astype(jnp.uint32)])
    return normal_from_bits(words[:size]).reshape(shape)


def normal_from_bits(words: jax.Array) -> jax.Array:
    """float32 N(0, 1) from uint32 words, as ``jax.random.normal`` converts them."""
    unit = jax.lax.bitcast_convert_type((words >> 9) | _F32_ONE_BITS, jnp.float32) - 1.0
    lo = _F32_ABOVE_MINUS_ONE
    u = jnp.maximum(lo, unit * (np.float32(1.0) - lo) + lo)
    return np.float32(math.sqrt(2.0)) * jax.lax.erf_inv(u)
