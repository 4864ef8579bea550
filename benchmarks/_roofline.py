"""The sampling roofline shared by the benchmarks (no JAX configuration of its own: the
draws take the default float type of the caller's JAX setup)."""

from __future__ import annotations

import math
import platform
import time

import jax
import jax.numpy as jnp


def roofline(seeds: int, draws, generations: int, repeats: int = 1) -> tuple[float, float]:
    """Compile time and the best run time (the first run and ``repeats`` more) of bare
    ``jax.random.normal((seeds, *draws))`` once per generation (``draws`` an int or a shape),
    summed so that nothing is optimised away. The draws are requested flat and reshaped, as
    the kernels draw (:func:`collapse_jax.core._random.normal`: the same numbers), since on
    the CPU backend a shaped request runs 2-4x slower and would set the roofline below what a
    kernel can draw (before 2026-12-06 the roofline used the shaped request)."""
    from collapse_jax.core import _random

    shape = (seeds, *((draws,) if isinstance(draws, int) else tuple(draws)))
    axes = tuple(range(1, len(shape)))
    dtype = jnp.result_type(float)

    def f(key):
        def body(c, k):
            return c + jnp.sum(_random.normal(k, shape, dtype), axis=axes), None
        return jax.lax.scan(body, jnp.zeros(seeds), jax.random.split(key, generations))[0]

    t0 = time.perf_counter()
    comp = jax.jit(f).lower(jax.random.key(0)).compile()
    compile_s = time.perf_counter() - t0
    best = math.inf
    for r in range(1 + repeats):
        t1 = time.perf_counter()
        jax.block_until_ready(comp(jax.random.key(1 + r)))
        best = min(best, time.perf_counter() - t1)
    return compile_s, best


def roofline_per_seed(seeds: int, size: int, generations: int, repeats: int = 1,
                      draw=None) -> tuple[float, float]:
    """As :func:`roofline`, but each seed draws ``size`` float32 normals from its own key as
    one flat vector, vmapped over seeds: the way a kernel under ``batch.run`` draws its
    candidates (``collapse_jax.core._random.normal``). ``draw(key, size)``: the draw to time
    (default ``jax.random.normal(key, (size,), float32)``)."""
    if draw is None:
        def draw(key, size):
            return jax.random.normal(key, (size,), jnp.float32)

    def f(keys):
        def one(key):
            def body(c, k):
                return c + jnp.sum(draw(k, size)), None
            return jax.lax.scan(body, jnp.zeros((), jnp.float32),
                                jax.random.split(key, generations))[0]
        return jax.vmap(one)(keys)

    keys = jax.random.split(jax.random.key(0), seeds)
    t0 = time.perf_counter()
    comp = jax.jit(f).lower(keys).compile()
    compile_s = time.perf_counter() - t0
    best = math.inf
    for r in range(1 + repeats):
        k = jax.random.split(jax.random.key(1 + r), seeds)
        t1 = time.perf_counter()
        jax.block_until_ready(comp(k))
        best = min(best, time.perf_counter() - t1)
    return compile_s, best


def cpu_description() -> dict:
    """The host CPU as the ratios against numpy depend on it: its model, usable cores, the
    widest x86 vector extension (numpy 2 sorts, partitions and draws with AVX-512 where the
    CPU has it, and XLA's CPU code does not gain as much) and numpy's version."""
    import numpy as np

    from collapse_jax.verdict.cli import usable_cores

    model, flags = platform.processor() or platform.machine(), set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name") and ":" in line:
                    model = line.split(":", 1)[1].strip()
                elif line.startswith("flags") and ":" in line:
                    flags = set(line.split(":", 1)[1].split())
                if model and flags:
                    break
    except OSError:
        pass
    simd = next((x for x in ("avx512f", "avx2", "avx", "sse4_2") if x in flags), None)
    return {"cpu": model, "cores": usable_cores(), "simd": simd, "numpy": np.__version__}
