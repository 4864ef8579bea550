"""Call-site batching: seeds x silos (x sweep points) via ``vmap``, one ``jit``.

Seed ``i`` always gets the key ``fold_in(key, i)``, so a seed's numbers do not depend on how
many seeds run, on the chunk size or on the devices; every sweep point sees the same seeds
(common random numbers, which sharpens comparisons between points).
"""

from __future__ import annotations

import time
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp

from ._types import Key
from ._validate import check_int


class Timing(NamedTuple):
    """Wall-clock seconds to compile and to run (the run blocks until results are ready)."""

    compile_s: float
    run_s: float


def seed_keys(key: Key, seeds: int) -> jax.Array:
    """Keys ``fold_in(key, i)`` for ``i = 0 .. seeds - 1``."""
    return jax.vmap(lambda i: jax.random.fold_in(key, i))(jnp.arange(seeds))


def _over_seeds(kernel, keys, params, cfg, silos: int, chunk_size: int | None):
    silo_ids = jnp.arange(silos)

    def one_seed(k):
        return jax.vmap(lambda s: kernel(k, params, cfg, s))(silo_ids)

    if chunk_size is None or chunk_size >= keys.shape[0]:
        return jax.vmap(one_seed)(keys)
    return jax.lax.map(one_seed, keys, batch_size=chunk_size)


@partial(jax.jit, static_argnames=("kernel", "cfg", "silos", "chunk_size"))
def _run(kernel, keys, params, cfg, silos, chunk_size):
    return _over_seeds(kernel, keys, params, cfg, silos, chunk_size)


@partial(jax.jit, static_argnames=("kernel", "cfg", "silos", "chunk_size"))
def _run_sweep(kernel, keys, params, cfg, silos, chunk_size):
    return jax.vmap(lambda p: _over_seeds(kernel, keys, p, cfg, silos, chunk_size))(params)


def _check(fn, seeds, silos, chunk_size):
    check_int(fn, "seeds", seeds, 1)
    check_int(fn, "silos", silos, 1)
    if chunk_size is not None:
        check_int(fn, "chunk_size", chunk_size, 1)


def _timed(f, keys, params, **static):
    t0 = time.perf_counter()
    compiled = f.lower(keys=keys, params=params, **static).compile()
    t1 = time.perf_counter()
    out = jax.block_until_ready(compiled(keys=keys, params=params))
    t2 = time.perf_counter()
    return out, Timing(t1 - t0, t2 - t1)


def run(kernel, key: Key, params, cfg, *, seeds: int, silos: int = 1,
        chunk_size: int | None = None, timed: bool = False):
    """Run ``kernel`` for ``seeds`` seeds x ``silos`` silos under one ``jit``.

    Every output leaf gains leading axes ``(seeds, silos)``. ``chunk_size`` bounds memory by
    running that many seeds at a time inside the compiled program (``lax.map``). With
    ``timed=True`` returns ``(output, Timing)``.
    """
    _check("run", seeds, silos, chunk_size)
    keys = seed_keys(key, seeds)
    static = {"kernel": kernel, "cfg": cfg, "silos": silos, "chunk_size": chunk_size}
    if timed:
        return _timed(_run, keys, params, **static)
    return _run(keys=keys, params=params, **static)


def run_sweep(kernel, key: Key, params, cfg, *, seeds: int, silos: int = 1,
              chunk_size: int | None = None, timed: bool = False):
    """Like :func:`run` for params whose leaves carry a leading sweep axis ``(P,)``.

    One compile covers every point; outputs gain leading axes ``(P, seeds, silos)``.
    """
    _check("run_sweep", seeds, silos, chunk_size)
    sizes = {leaf.shape[0] if leaf.ndim else None for leaf in jax.tree.leaves(params)}
    if None in sizes or len(sizes) != 1:
        raise ValueError("run_sweep: every parameter leaf needs the same leading sweep axis; "
                         "build them with selection_params(cfg, alpha=[...], ...)")
    keys = seed_keys(key, seeds)
    static = {"kernel": kernel, "cfg": cfg, "silos": silos, "chunk_size": chunk_size}
    if timed:
        return _timed(_run_sweep, keys, params, **static)
    return _run_sweep(keys=keys, params=params, **static)


@partial(jax.jit, static_argnames=("kernel", "cfg", "silos", "chunk_size"))
def _run_sweep_shared(kernel, keys, params, shared, cfg, silos, chunk_size):
    return jax.vmap(lambda p: _over_seeds(kernel, keys, (p, shared), cfg, silos, chunk_size))(
        params)


def run_sweep_shared(kernel, key: Key, params, shared, cfg, *, seeds: int, silos: int = 1,
                     chunk_size: int | None = None, timed: bool = False):
    """Like :func:`run_sweep`, plus ``shared`` arrays that every point and seed reads unbatched
    (a data set, a fixed network): the kernel is called as ``kernel(key, (p, shared), cfg,
    silo)``. Sharing avoids copying the arrays along the sweep axis.
    """
    _check("run_sweep_shared", seeds, silos, chunk_size)
    sizes = {leaf.shape[0] if leaf.ndim else None for leaf in jax.tree.leaves(params)}
    if None in sizes or len(sizes) != 1:
        raise ValueError("run_sweep_shared: every parameter leaf needs the same leading sweep "
                         "axis")
    keys = seed_keys(key, seeds)
    static = {"kernel": kernel, "cfg": cfg, "silos": silos, "chunk_size": chunk_size}
    if timed:
        t0 = time.perf_counter()
        compiled = _run_sweep_shared.lower(keys=keys, params=params, shared=shared,
                                           **static).compile()
        t1 = time.perf_counter()
        out = jax.block_until_ready(compiled(keys=keys, params=params, shared=shared))
        t2 = time.perf_counter()
        return out, Timing(t1 - t0, t2 - t1)
    return _run_sweep_shared(keys=keys, params=params, shared=shared, **static)
