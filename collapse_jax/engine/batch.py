"""Call-site batching: seeds x silos (x sweep points) via ``vmap``, one ``jit``, chunks, devices.

Seed ``i`` always gets the key ``fold_in(key, i)``, so a seed's numbers do not depend on how
many seeds run, on the chunk size or on the number of devices; every sweep point sees the same
seeds (common random numbers, which sharpens comparisons between points).

* ``devices``: the seed axis is split across that many devices with ``jax.sharding`` (a 1-D
  mesh named ``"seeds"``); seeds are padded to a multiple of the device count and the padding
  is dropped from the outputs.
* several processes (``jax.distributed``, see :func:`maybe_initialize_distributed`): the mesh
  spans every process's devices; each process builds only its own shards of the keys and
  parameters (:func:`to_devices`) and gathers the others' outputs after each chunk
  (:func:`to_host`), so every process holds the global result and computes the same
  statistics; the command-line checks print and write from process 0 only (:func:`is_primary`).
* ``chunk_size``: seeds run ``chunk_size`` at a time in a host loop over one compiled program
  (the last chunk is padded), so device memory does not grow with the number of seeds.
  :func:`stream` hands each chunk to a reducer instead of keeping it, which bounds host memory
  too.

Configuration is passed explicitly, never held in module state: every entry point takes
``options=Options(devices=..., chunk_size=..., progress=...)`` (the command-line checks build
one from ``--devices`` / ``--chunk-size`` and their progress bar), and ``chunk_size`` /
``devices`` given directly override the ``options`` fields.

Memory is checked before anything runs: the program is traced and compiled from the shapes
alone, then (1) the outputs that will be kept (every chunk's, or one chunk's when streamed)
and (2) the compiled program's arguments, outputs and temporaries for one chunk (XLA's own
memory analysis) are compared with the memory available (``MemAvailable`` on the CPU, the
device's free memory on an accelerator; ``COLLAPSE_JAX_MEMORY_LIMIT`` overrides it, e.g.
``2G``). A run that does not fit raises :class:`MemoryEstimateError` (an ``InvalidInput``:
exit 2 in the checks) naming the estimate and the ``chunk_size`` that fits.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Callable
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from collapse_jax.core._types import Key
from collapse_jax.core._validate import InvalidInput, check_int
from collapse_jax.engine import program_cache

_UNSET = object()
#: Compiled programs by (function, kernel, cfg, silos, chunk, devices, parameter shapes):
#: a new parameter value of the same shape reuses the program (no retrace, no recompile).
_COMPILED: dict = {}


#: Fraction of the available memory a run may plan to use.
MEMORY_HEADROOM = 0.8



@contextlib.contextmanager
def float64():
    """A context in which JAX computes in float64 (``jax.enable_x64``) and multiplies float32
    matrices at full float32 precision (``jax.default_matmul_precision("highest")``),
    restoring both settings on exit: the checks and the sweep run in it, so that calling them
    from a notebook does not change the session's precision.

    On NVIDIA GPUs JAX's default precision rounds a float32 product's inputs to TF32 (10
    mantissa bits): the proxy check's Sinkhorn divergences then came out NaN on an H200 (9 of
    its 23 claims unreadable), and at "highest" it gives the CPU's verdicts. On the CPU
    "highest" is what XLA computes anyway (the same numbers). A precision the user chose
    (``JAX_DEFAULT_MATMUL_PRECISION``, e.g. ``tensorfloat32`` for speed) is kept."""
    scoped = getattr(jax, "enable_x64", None)
    if not callable(scoped):
        from jax.experimental import enable_x64 as scoped  # older JAX
    chosen = jax.config.jax_default_matmul_precision
    with scoped(True), jax.default_matmul_precision(chosen or "highest"):
        yield

class MemoryEstimateError(InvalidInput):
    """A run whose estimated memory exceeds what is available (raised before running)."""


def _parse_bytes(text: str, name: str = "COLLAPSE_JAX_MEMORY_LIMIT") -> int:
    units = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
    t = text.strip().upper().removesuffix("B").removesuffix("I")
    unit = t[-1] if t and t[-1] in units else ""
    try:
        value = float(t[: len(t) - len(unit)])
    except ValueError:
        raise InvalidInput(f"{name}={text!r} is invalid: allowed a byte "
                           "count such as 2000000000, 512M or 2G") from None
    if not (value > 0 and math.isfinite(value)):
        raise InvalidInput(f"{name}={text!r} is invalid: allowed > 0")
    return int(value * units[unit])


def available_bytes() -> int | None:
    """Memory a run may use: ``COLLAPSE_JAX_MEMORY_LIMIT`` if set, else ``MemAvailable``
    (CPU backend, Linux) or the first device's free memory; ``None`` when unknown."""
    env = os.environ.get("COLLAPSE_JAX_MEMORY_LIMIT")
    if env:
        return _parse_bytes(env)
    dev = jax.devices()[0]
    if dev.platform != "cpu":
        try:
            st = dev.memory_stats() or {}
            return int(st["bytes_limit"] - st.get("bytes_in_use", 0))
        except (KeyError, TypeError, AttributeError, RuntimeError):
            return None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _tree_bytes(tree) -> int:
    return sum(math.prod(x.shape) * np.dtype(x.dtype).itemsize
               for x in jax.tree.leaves(tree) if hasattr(x, "shape"))


def _fmt_bytes(b: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if b < 1024 or unit == "PB":
            return f"{b:.3g} {unit}"
        b /= 1024
    return f"{b:.3g} PB"  # pragma: no cover


def check_memory(name: str, *, kept: int, per_chunk: int, chunk: int, seeds: int,
                 available: int | None = None, lower_bound: bool = False) -> None:
    """Raise :class:`MemoryEstimateError` when ``kept`` bytes of outputs plus ``per_chunk``
    bytes of one chunk's program exceed the available memory (x ``MEMORY_HEADROOM``).

    The chunk size it suggests scales ``per_chunk`` linearly (conservative when the program
    has a fixed part); with ``lower_bound`` (``per_chunk`` counts outputs only, before
    compiling) it is an upper bound, and the next try refines it."""
    avail = available_bytes() if available is None else available
    if avail is None:
        return
    budget = MEMORY_HEADROOM * avail
    need = kept + per_chunk
    if need <= budget:
        return
    fit = int(0.95 * chunk * (budget - kept) / per_chunk) if per_chunk and kept < budget else 0
    most = "at most " if lower_bound else ""
    hint = (f"use --chunk-size {most}{max(fit, 1)} (chunk_size={max(fit, 1)}) or fewer seeds"
            if fit >= 1 else "the kept outputs alone do not fit: use fewer seeds or "
            "generations, or a check that streams (--chunk-size with batch means)")
    raise MemoryEstimateError(
        f"{name}: seeds={seeds} needs an estimated {_fmt_bytes(need)} "
        f"(kept outputs {_fmt_bytes(kept)}, one chunk of {chunk} seeds {_fmt_bytes(per_chunk)})"
        f" but {_fmt_bytes(avail)} is available; {hint}")


class Timing(NamedTuple):
    """Wall-clock seconds to compile and to run (the run blocks until results are ready)."""

    compile_s: float
    run_s: float


class Options(NamedTuple):
    """How a run is batched: ``devices`` to shard seeds over (``None``: one), ``chunk_size``
    seeds per program (``None``: automatic, see :func:`chunk_target_bytes`) and
    ``progress(done_chunks, total_chunks)``, called after every chunk. Pass it as
    ``options=`` to :func:`run`, :func:`run_sweep`, :func:`run_sweep_shared` or
    :func:`stream`."""

    devices: int | None = None
    chunk_size: int | None = None
    progress: Callable[[int, int], None] | None = None

    def checked(self, fn: str = "Options") -> Options:
        """Validate the fields (``ValueError`` naming ``fn``); returns ``self``."""
        if self.devices is not None:
            check_devices(fn, self.devices)
        if self.chunk_size is not None:
            check_int(fn, "chunk_size", self.chunk_size, 1)
        return self


def cpu_chunk_size(options: Options, seeds: int, per_device: int) -> int | None:
    """Seeds per program for a run whose CPU programs should hold at most ``per_device`` seeds
    per device: ``options.chunk_size`` when given; on the CPU backend, equal chunks of at most
    ``per_device`` seeds per device of ``options.devices``; elsewhere ``None`` (the automatic
    chunk, :func:`chunk_target_bytes`: an accelerator's width pays for what a CPU loses to a
    wide program, such as a working set beyond the cache or a ``while_loop`` that every lane
    runs until the slowest stops)."""
    check_int("cpu_chunk_size", "seeds", seeds, 1)
    check_int("cpu_chunk_size", "per_device", per_device, 1)
    if options.chunk_size is not None or jax.default_backend() != "cpu":
        return options.chunk_size
    parts = -(-seeds // (per_device * (options.devices or 1)))
    return -(-seeds // parts)


def check_devices(fn: str, devices: int) -> int:
    """Validate a device count against ``jax.device_count()``."""
    return check_int(fn, "devices", devices, 1, jax.device_count())


def maybe_initialize_distributed() -> bool:
    """Call ``jax.distributed.initialize()`` when the environment describes a multi-host job.

    Triggered by ``COLLAPSE_JAX_DISTRIBUTED=1`` (then JAX reads the coordinator from its usual
    variables or the cluster environment: Cloud TPU, SLURM, Open MPI) or by
    ``JAX_COORDINATOR_ADDRESS`` with ``JAX_NUM_PROCESSES`` and ``JAX_PROCESS_ID``. Returns
    whether it initialised. After it, ``jax.devices()`` lists every host's devices and
    ``devices=jax.device_count()`` shards seeds across all of them.
    """
    env = os.environ
    explicit = all(k in env for k in ("JAX_COORDINATOR_ADDRESS", "JAX_NUM_PROCESSES",
                                      "JAX_PROCESS_ID"))
    if env.get("COLLAPSE_JAX_DISTRIBUTED") != "1" and not explicit:
        return False
    if "JAX_CPU_COLLECTIVES_IMPLEMENTATION" not in env:
        # CPU devices of several processes need a collectives backend to gather results
        # (harmless on accelerators, whose collectives are their own)
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
    if explicit:
        jax.distributed.initialize(env["JAX_COORDINATOR_ADDRESS"],
                                   int(env["JAX_NUM_PROCESSES"]), int(env["JAX_PROCESS_ID"]))
    else:
        jax.distributed.initialize()
    return True


def clear_caches() -> None:
    """Release every compiled program: JAX's (``jax.clear_caches``) and the compiled chunk
    programs this module keeps. A long-lived process that runs many checks or sweeps calls it
    between them: each compiled CPU program holds about six memory mappings until released,
    and Linux allows 65,530 per process by default (docs/reporting.md)."""
    _COMPILED.clear()
    jax.clear_caches()


def multi_process() -> bool:
    """Whether this run spans several JAX processes (``jax.distributed`` initialised)."""
    return jax.process_count() > 1


def is_primary() -> bool:
    """Whether this process writes the run's outputs and prints its progress: process 0."""
    return jax.process_index() == 0


def to_devices(tree, sharding):
    """Place host values on ``sharding``. In one process this is ``jax.device_put``; when the
    sharding spans several processes, every process builds only its addressable shards from
    its own copy (``jax.make_array_from_callback``; every process holds the same values, so
    the global array is the one a single process would build). PRNG key arrays travel as
    their key data."""
    if not multi_process():
        return jax.device_put(tree, sharding)

    def put(x):
        if jax.dtypes.issubdtype(getattr(x, "dtype", None), jax.dtypes.prng_key):
            data = np.asarray(jax.random.key_data(x))
            arr = jax.make_array_from_callback(data.shape, sharding, lambda idx: data[idx])
            return jax.random.wrap_key_data(arr, impl=jax.random.key_impl(x))
        a = np.asarray(x)
        return jax.make_array_from_callback(a.shape, sharding, lambda idx: a[idx])

    return jax.tree.map(put, tree)


def to_host(tree):
    """Every leaf as a numpy array of the *global* result: in several processes each one
    gathers the shards of the others (``process_allgather``), so the statistics of every
    process see all seeds."""
    if not multi_process():
        return tree
    from jax.experimental import multihost_utils

    return jax.tree.map(lambda a: np.asarray(multihost_utils.process_allgather(a, tiled=True)),
                        tree)


def agree(ok: bool) -> bool:
    """Whether every process of the run says ``ok`` (one process: ``ok`` itself). Each process
    calls it at the same point, so one that refuses its input stops all of them instead of
    leaving the others waiting in a collective."""
    if not multi_process():
        return ok
    from jax.experimental import multihost_utils

    return bool(np.all(multihost_utils.process_allgather(np.asarray([ok], np.int32))))


def broadcast(values: np.ndarray) -> np.ndarray:
    """Process 0's ``values`` on every process (one process: ``values``)."""
    if not multi_process():
        return values
    from jax.experimental import multihost_utils

    return np.asarray(multihost_utils.broadcast_one_to_all(values))


def seed_keys(key: Key, seeds: int, start: int = 0) -> jax.Array:
    """Keys ``fold_in(key, i)`` for ``i = start .. start + seeds - 1``."""
    return jax.vmap(lambda i: jax.random.fold_in(key, i))(start + jnp.arange(seeds))


def _over_seeds(kernel, keys, params, cfg, silos: int):
    silo_ids = jnp.arange(silos)

    def one_seed(k):
        return jax.vmap(lambda s: kernel(k, params, cfg, s))(silo_ids)

    return jax.vmap(one_seed)(keys)


@partial(jax.jit, static_argnames=("kernel", "cfg", "silos"))
def _run(kernel, keys, params, cfg, silos):
    return _over_seeds(kernel, keys, params, cfg, silos)


@partial(jax.jit, static_argnames=("kernel", "cfg", "silos"))
def _run_sweep(kernel, keys, params, cfg, silos):
    return jax.vmap(lambda p: _over_seeds(kernel, keys, p, cfg, silos))(params)


@partial(jax.jit, static_argnames=("kernel", "cfg", "silos"))
def _run_sweep_shared(kernel, keys, params, cfg, silos):
    points, shared = params
    return jax.vmap(lambda p: _over_seeds(kernel, keys, (p, shared), cfg, silos))(points)


def _resolve(fn, seeds, silos, chunk_size, devices, options):
    check_int(fn, "seeds", seeds, 1)
    check_int(fn, "silos", silos, 1)
    chunk_size = options.chunk_size if chunk_size is _UNSET else chunk_size
    devices = options.devices if devices is _UNSET else devices
    if chunk_size is not None:
        check_int(fn, "chunk_size", chunk_size, 1)
    devices = 1 if devices is None else check_devices(fn, devices)
    chunk = seeds if chunk_size is None else min(chunk_size, seeds)
    chunk = -(-chunk // devices) * devices  # a multiple of the device count
    return chunk, devices, chunk_size is None


def chunk_target_bytes() -> int | None:
    """Working memory one program may use when no ``chunk_size`` is given: a run whose
    single program would need more is split into equal chunks that fit (the same numbers).
    ``COLLAPSE_JAX_CHUNK_BYTES`` (e.g. ``512M``; ``0`` never splits), else 512 MiB on the CPU
    and a quarter of the free memory on an accelerator. A streamed run counts its chunk's
    outputs twice more (the host copy and the reduction)."""
    env = os.environ.get("COLLAPSE_JAX_CHUNK_BYTES")
    if env is not None:
        if env.strip() == "0":
            return None
        return _parse_bytes(env, "COLLAPSE_JAX_CHUNK_BYTES")
    if jax.devices()[0].platform == "cpu":
        return 2**29
    avail = available_bytes()
    return None if avail is None else avail // 4


class _Program:
    """One compiled program for a fixed chunk of seeds, sharded over ``devices``."""

    def __init__(self, fn, kernel, key, params, cfg, silos, chunk, devices):
        self.fn, self.key, self.chunk = fn, key, chunk
        self.out_bytes = None
        self.static = {"kernel": kernel, "cfg": cfg, "silos": silos}
        self.mesh = None
        if devices > 1:
            self.mesh = Mesh(np.asarray(jax.devices()[:devices]), ("seeds",))
            params = to_devices(params, NamedSharding(self.mesh, PartitionSpec()))
        self.params = params
        self.compiled = None
        self.compile_s = 0.0
        self._traced = None  # set by out_size, used by prepare
        self._disk = _UNSET  # program_cache key, set by _disk_key

    def keys(self, start):
        keys = seed_keys(self.key, self.chunk, start)
        if self.mesh is not None:
            keys = to_devices(keys, NamedSharding(self.mesh, PartitionSpec("seeds")))
        return keys

    def key_spec(self):
        """Shape, dtype (and sharding) of one chunk's keys, without computing them."""
        spec = jax.eval_shape(lambda: seed_keys(self.key, self.chunk, 0))
        if self.mesh is not None:
            spec = jax.ShapeDtypeStruct(spec.shape, spec.dtype,
                                        sharding=NamedSharding(self.mesh, PartitionSpec("seeds")))
        return spec

    def _sig(self):
        """Key of this program in :data:`_COMPILED`."""
        return (self.fn, tuple(sorted(self.static.items(), key=lambda kv: kv[0])),
                self.chunk, None if self.mesh is None else self.mesh.devices.size,
                jax.tree.structure(self.params),
                tuple((np.shape(x), jnp.result_type(x)) for x in jax.tree.leaves(self.params)))

    def _trace(self):
        return self.fn.trace(keys=self.key_spec(), params=self.params, **self.static)

    def _disk_key(self):
        """Name of this program in :mod:`~collapse_jax.engine.program_cache` (None: not kept),
        computed once: the lookup and the store after a compile use the same name."""
        if self._disk is _UNSET:
            self._disk = None
            if self.mesh is None and not multi_process() and program_cache.folder() is not None:
                self._disk = program_cache.program_key(
                    self.fn.__name__, self.static["kernel"], self.static["cfg"],
                    self.static["silos"], self.chunk, self.params)
        return self._disk

    def _from_disk(self, sig):
        """The program kept on disk by an earlier process, entered in :data:`_COMPILED`."""
        t0 = time.perf_counter()
        cached = program_cache.load(self._disk_key())
        if cached is not None:
            self.compile_s = time.perf_counter() - t0
            _remember(sig, cached)
        return cached

    def out_size(self) -> int:
        """Bytes of one chunk's outputs, from the traced shapes (nothing is compiled). The
        trace is kept for :meth:`prepare` (JAX's own trace cache already made a second trace
        cheap: this saved tenths of a second in the power-law check, docs/reporting.md), and
        skipped for a program compiled earlier in this process or kept on disk."""
        sig = self._sig()
        cached = _COMPILED.get(sig) or self._from_disk(sig)
        if cached is not None:
            return cached[1]
        self._traced = self._trace()
        return _tree_bytes(self._traced.out_info)

    def prepare(self, name: str, n_chunks: int, seeds: int, keep_all: bool) -> int:
        """Trace and compile from shapes alone; before compiling, refuse a run whose kept
        outputs alone cannot fit. Returns the bytes of one chunk's program (arguments,
        outputs and temporaries), which the caller checks with the kept outputs."""
        sig = self._sig()
        cached = _COMPILED.get(sig)
        if cached is None and self._traced is None:
            cached = self._from_disk(sig)
        if cached is None:
            t0 = time.perf_counter()
            traced = self._traced if self._traced is not None else self._trace()
            self._traced = None  # the compiled program replaces it
            out_bytes = _tree_bytes(traced.out_info)
            # The kept outputs alone must fit before compiling (cheap: shapes only).
            check_memory(name, kept=out_bytes * ((n_chunks - 1) if keep_all else 0),
                         per_chunk=out_bytes, chunk=self.chunk, seeds=seeds,
                         lower_bound=True)
            hits = program_cache.jax_cache_hits()
            compiled = traced.lower().compile()
            try:
                ma = compiled.memory_analysis()
                per_chunk = int(ma.argument_size_in_bytes + ma.output_size_in_bytes
                                + ma.temp_size_in_bytes - ma.alias_size_in_bytes)
            except (AttributeError, TypeError, RuntimeError):  # backend without the analysis
                per_chunk = out_bytes
            self.compile_s = time.perf_counter() - t0
            cached = (compiled, out_bytes, per_chunk)
            _remember(sig, cached)
            program_cache.store(self._disk_key(), compiled, out_bytes, per_chunk,
                                fresh=program_cache.jax_cache_hits() == hits)
        self.compiled, self.out_bytes, per_chunk = cached
        return per_chunk

    def __call__(self, start):
        return self.compiled(keys=self.keys(start), params=self.params)


def _remember(sig, cached) -> None:
    if len(_COMPILED) >= 64:
        _COMPILED.pop(next(iter(_COMPILED)))
    _COMPILED[sig] = cached


def _chunks(seeds, chunk):
    return [(start, min(chunk, seeds - start)) for start in range(0, seeds, chunk)]


def _drive(name, fn, kernel, key, params, cfg, seeds, silos, chunk_size, devices, seed_axis,
           consume, keep_all=True, options=None):
    options = Options() if options is None else options
    chunk, devices, auto = _resolve(name, seeds, silos, chunk_size, devices, options)
    target = chunk_target_bytes() if auto else None
    # A streamed chunk's outputs are also copied and reduced on the host: count them twice
    # more against the target (a kept run's outputs are counted by check_memory instead).
    host = 0 if keep_all else 2
    probe = None
    if target is not None and chunk > devices:
        # The outputs alone (from the traced shapes, before compiling) already exceed the
        # target: start from a chunk whose outputs fit, so that one compile usually suffices.
        probe = _Program(fn, kernel, key, params, cfg, silos, chunk, devices)
        out_bytes = probe.out_size()
        if (1 + host) * out_bytes > target:
            chunk = max(devices,
                        int(chunk * target / ((1 + host) * out_bytes)) // devices * devices)
            probe = None
    # the probe (kept only where the chunk stayed) serves as the program: no second trace
    prog = probe if probe is not None else \
        _Program(fn, kernel, key, params, cfg, silos, chunk, devices)
    run_s = 0.0
    parts = _chunks(seeds, chunk)
    per_chunk = prog.prepare(name, len(parts), seeds, keep_all)
    need = per_chunk + host * prog.out_bytes
    if target is not None and need > target and chunk > devices:
        # No chunk size given and one program for every seed would need more working memory
        # than the target: run equal chunks of one smaller program (same numbers).
        compile_s = prog.compile_s
        chunk = max(devices, int(chunk * target / need) // devices * devices)
        prog = _Program(fn, kernel, key, params, cfg, silos, chunk, devices)
        parts = _chunks(seeds, chunk)
        per_chunk = prog.prepare(name, len(parts), seeds, keep_all)
        prog.compile_s += compile_s
    check_memory(name, kept=prog.out_bytes * ((len(parts) - 1) if keep_all else 0),
                 per_chunk=per_chunk, chunk=chunk, seeds=seeds)
    for i, (start, valid) in enumerate(parts):
        t0 = time.perf_counter()
        out = to_host(jax.block_until_ready(prog(start)))
        run_s += time.perf_counter() - t0
        consume(out, start, valid, seed_axis)
        if options.progress is not None:
            options.progress(i + 1, len(parts))
    return Timing(prog.compile_s, run_s)


def _take(out, valid, axis):
    return jax.tree.map(lambda a: np.asarray(a)[(slice(None),) * axis + (slice(0, valid),)], out)


def _collect(name, fn, kernel, key, params, cfg, seeds, silos, chunk_size, devices, timed,
             axis, options):
    pieces = []

    def consume(out, start, valid, seed_axis):
        if valid == out_len(out, seed_axis) and len(pieces) == 0 and start + valid == seeds:
            pieces.append(out)  # a single full chunk stays on device
        else:
            pieces.append(_take(out, valid, seed_axis))

    def out_len(out, ax):
        return jax.tree.leaves(out)[0].shape[ax]

    timing = _drive(name, fn, kernel, key, params, cfg, seeds, silos, chunk_size, devices, axis,
                    consume, options=options)
    if len(pieces) == 1:
        out = pieces[0]
    else:
        out = jax.tree.map(lambda *a: np.concatenate(a, axis=axis), *pieces)
    return (out, timing) if timed else out


def run(kernel, key: Key, params, cfg, *, seeds: int, silos: int = 1, chunk_size=_UNSET,
        devices=_UNSET, timed: bool = False, options: Options | None = None):
    """Run ``kernel`` for ``seeds`` seeds x ``silos`` silos under one compiled program.

    Every output leaf gains leading axes ``(seeds, silos)``. ``chunk_size`` runs that many
    seeds at a time (same numbers, bounded device memory; outputs are gathered on the host);
    ``devices`` shards each chunk's seeds across devices (both default to ``options``'
    fields, see :class:`Options`). With ``timed=True`` returns ``(output, Timing)``.
    """
    return _collect("run", _run, kernel, key, params, cfg, seeds, silos, chunk_size, devices,
                    timed, 0, options)


def run_sweep(kernel, key: Key, params, cfg, *, seeds: int, silos: int = 1,
              chunk_size=_UNSET, devices=_UNSET, timed: bool = False,
              options: Options | None = None):
    """Like :func:`run` for params whose leaves carry a leading sweep axis ``(P,)``.

    One compile covers every point; outputs gain leading axes ``(P, seeds, silos)``.
    """
    _check_sweep(params)
    return _collect("run_sweep", _run_sweep, kernel, key, params, cfg, seeds, silos, chunk_size,
                    devices, timed, 1, options)


def run_sweep_shared(kernel, key: Key, params, shared, cfg, *, seeds: int, silos: int = 1,
                     chunk_size=_UNSET, devices=_UNSET, timed: bool = False,
                     options: Options | None = None):
    """Like :func:`run_sweep`, plus ``shared`` arrays that every point and seed reads unbatched
    (a data set, a fixed network): the kernel is called as ``kernel(key, (point, shared), cfg,
    silo)``. Sharing avoids copying the arrays along the sweep axis; on several devices they
    are replicated like the parameters.
    """
    _check_sweep(params, "run_sweep_shared")
    return _collect("run_sweep_shared", _run_sweep_shared, kernel, key, (params, shared), cfg,
                    seeds, silos, chunk_size, devices, timed, 1, options)


def stream(kernel, key: Key, params, cfg, *, seeds: int, reduce: Callable, silos: int = 1,
           chunk_size=_UNSET, devices=_UNSET, sweep: bool = False, shared=None,
           options: Options | None = None) -> Timing:
    """Run chunk by chunk and hand each chunk to ``reduce(output, start)`` instead of keeping
    it: host memory holds one chunk at a time. ``output`` leaves are numpy arrays with the
    seed axis (axis 0, or 1 for a sweep) trimmed to the chunk's real seeds ``start ..``.
    ``shared`` (with ``sweep=True``) streams :func:`run_sweep_shared`.

    Returns the :class:`Timing`; the reducer keeps whatever statistics it needs (see
    :class:`GroupMeans` and :class:`SeedSummary`).
    """
    fn = _run_sweep if sweep else _run
    if shared is not None:
        if not sweep:
            raise InvalidInput("stream: shared arrays need sweep=True (run_sweep_shared)")
        _check_sweep(params, "stream")
        fn, params = _run_sweep_shared, (params, shared)
    elif sweep:
        _check_sweep(params)
    return _drive("stream", fn, kernel, key, params, cfg, seeds, silos, chunk_size, devices,
                  1 if sweep else 0,
                  lambda out, start, valid, ax: reduce(_take(out, valid, ax), start),
                  keep_all=False, options=options)


class GroupMeans:
    """Streaming reducer: the mean over each *group* of seeds of every array that
    ``derive(output)`` returns (seed axis ``seed_axis``).

    With ``groups=G`` and ``seeds=S`` seed ``i`` belongs to group ``floor(i G / S)`` (``G``
    contiguous groups whose sizes differ by at most one), whatever the chunk size: chunks may
    split groups, and the group means, hence every statistic built on them, do not depend on
    ``chunk_size``. Without ``groups`` each chunk is a group. Groups are i.i.d. replicates
    (up to a size difference of one), so bootstrapping or averaging group means (the
    batch-means method) gives valid intervals for any statistic that is a smooth function of
    seed means, with memory O(groups x generations) whatever the seed count.
    """

    def __init__(self, derive: Callable[[dict], dict], seed_axis: int = 0,
                 keep_first: tuple[str, ...] = (), groups: int | None = None,
                 seeds: int | None = None):
        if (groups is None) != (seeds is None):
            raise InvalidInput("GroupMeans: give both groups and seeds, or neither")
        if groups is not None:
            check_int("GroupMeans", "seeds", seeds, 1)
            check_int("GroupMeans", "groups", groups, 1, seeds)
        self.derive, self.axis, self.keep_first = derive, seed_axis, keep_first
        self.n_groups, self.seeds = groups, seeds
        self.groups: dict[str, list] = {}
        self._sums: dict[str, np.ndarray] = {}
        self._counts = None if groups is None else np.zeros(groups)
        self.sizes: list[int] = []
        #: per-seed values of the ``keep_first`` arrays from the first chunk (a sample of seeds
        #: for quantile bands)
        self.first: dict[str, np.ndarray] = {}

    def __call__(self, output, start):
        derived = {k: np.asarray(v, dtype=float) for k, v in self.derive(output).items()}
        n = next(iter(derived.values())).shape[self.axis] if derived else None
        if self.n_groups is not None and n is not None:
            # the groups this chunk's seeds fall in, and where each group's run starts
            gid = (np.arange(start, start + n) * self.n_groups) // self.seeds
            firsts = np.concatenate([[0], np.flatnonzero(np.diff(gid)) + 1])
            np.add.at(self._counts, gid, 1)
        for k, v in derived.items():
            if k in self.keep_first:
                self.first.setdefault(k, v)
            elif self.n_groups is None:
                self.groups.setdefault(k, []).append(np.mean(v, axis=self.axis))
            else:
                seg = np.add.reduceat(v, firsts, axis=self.axis)
                if k not in self._sums:
                    shape = list(seg.shape)
                    shape[self.axis] = self.n_groups
                    self._sums[k] = np.zeros(shape)
                idx = [slice(None)] * seg.ndim
                idx[self.axis] = gid[firsts]
                self._sums[k][tuple(idx)] += seg
        self.sizes.append(n)

    def result(self) -> dict:
        """``{name: array}`` with a leading group axis (in the position of the seed axis)."""
        if self.n_groups is None:
            return {k: np.stack(v, axis=self.axis) for k, v in self.groups.items()}
        out = {}
        for k, v in self._sums.items():
            shape = [1] * v.ndim
            shape[self.axis] = self.n_groups
            out[k] = v / self._counts.reshape(shape)
        return out


class SeedSummary:
    """Streaming reducer for checks whose statistics need, per seed, only a few numbers
    (columns at chosen generations, averages over a window) while their curves need only the
    mean and standard error over seeds at every generation.

    ``derive(output, start)`` turns one chunk's output into ``{name: array}`` with the seed
    axis first (the chunk's real seeds ``start ..``). Names in ``curves`` are summarised
    column by column (finite values only; Chan's merge of per-chunk means and sums of
    squared deviations, equal to the one-pass numbers to rounding); the first ``sample``
    seeds of them are also kept whole (for quantile bands and medians in figures). Every
    other name is kept per seed and concatenated: keep these small (seeds x a few columns).
    Memory: O(seeds x kept columns + sample x curve length), whatever the chunk size.
    """

    def __init__(self, derive: Callable, curves: tuple[str, ...] = (), sample: int = 0):
        check_int("SeedSummary", "sample", sample, 0)
        self.derive, self.curve_names, self.sample = derive, tuple(curves), sample
        self._n: dict[str, np.ndarray] = {}
        self._mean: dict[str, np.ndarray] = {}
        self._m2: dict[str, np.ndarray] = {}
        self._kept: dict[str, list] = {}
        self._sample: dict[str, list] = {}
        self._sampled = 0

    def __call__(self, output, start):
        derived = {k: np.asarray(v, dtype=float) for k, v in self.derive(output, start).items()}
        if not derived:
            return
        n = next(iter(derived.values())).shape[0]
        take = max(0, min(n, self.sample - self._sampled))
        for k, v in derived.items():
            if k not in self.curve_names:  # copies: a view would keep the whole chunk alive
                self._kept.setdefault(k, []).append(np.array(v, copy=True))
                continue
            if take:
                self._sample.setdefault(k, []).append(np.array(v[:take], copy=True))
            fin = np.isfinite(v)
            nb = fin.sum(axis=0).astype(float)
            vz = np.where(fin, v, 0.0)
            with np.errstate(invalid="ignore", divide="ignore"):
                mb = np.where(nb > 0, vz.sum(axis=0) / np.maximum(nb, 1), 0.0)
                m2b = np.sum(np.where(fin, (v - mb) ** 2, 0.0), axis=0)
            if k not in self._n:
                self._n[k], self._mean[k], self._m2[k] = nb, mb, m2b
                continue
            na, ma = self._n[k], self._mean[k]
            tot = na + nb
            delta = mb - ma
            frac = np.where(tot > 0, nb / np.maximum(tot, 1), 0.0)
            self._mean[k] = ma + delta * frac
            self._m2[k] = self._m2[k] + m2b + delta**2 * na * frac
            self._n[k] = tot
        self._sampled += take

    def summary(self, name: str) -> dict:
        """``{"mean", "se", "count"}`` over seeds at every column of curve ``name`` (NaN
        where fewer than two finite values; the same numbers as a one-pass ``nanmean`` and
        ``nanstd(ddof=1) / sqrt(count)`` to rounding)."""
        n = self._n[name]
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(n > 0, self._mean[name], np.nan)
            se = np.where(n > 1, np.sqrt(self._m2[name] / np.maximum(n - 1, 1)
                                         / np.maximum(n, 1)), np.nan)
        return {"mean": mean, "se": se, "count": n}

    def curve(self, name: str) -> dict:
        """:meth:`summary` in the shape of ``verdict.curve_summary`` (what the JSON reports
        hold): ``{"mean", "se"}`` per generation, trailing axes flattened into components and
        a single component squeezed."""
        s = self.summary(name)
        mean, se = (s[k].reshape(s[k].shape[0], -1) for k in ("mean", "se"))
        if mean.shape[1] == 1:
            mean, se = mean[:, 0], se[:, 0]
        return {"mean": mean, "se": se}

    def kept(self) -> dict:
        """Every per-seed (non-curve) array, all seeds in order."""
        return {k: np.concatenate(v, axis=0) for k, v in self._kept.items()}

    def sampled(self) -> dict:
        """The first ``sample`` seeds (fewer when the run has fewer) of every curve."""
        return {k: np.concatenate(v, axis=0) for k, v in self._sample.items()}


def _check_sweep(params, fn: str = "run_sweep"):
    sizes = {leaf.shape[0] if leaf.ndim else None for leaf in jax.tree.leaves(params)}
    if None in sizes or len(sizes) != 1:
        raise InvalidInput(f"{fn}: every parameter leaf needs the same leading sweep axis; "
                         "build them with selection_params(cfg, alpha=[...], ...)")
