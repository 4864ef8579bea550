"""Compiled programs of :mod:`collapse_jax.engine.batch` kept on disk, next to JAX's cache.

JAX's persistent compilation cache skips XLA's compile in a second run, but not what comes
before it: tracing the kernel under ``vmap`` and lowering it to StableHLO, which JAX needs to
compute its cache key. For the checks' kernels that is most of a warm run's start (the
default power-law check, 2026-12-05: 4.6 s of tracing and 1.7 s of lowering against 1.1 s of
reading the executables back). This cache keys a whole engine program by what determines it
without tracing it, and keeps the serialised executable
(``jax.experimental.serialize_executable``) with its output size and memory need, so a
second run with the same program skips tracing, lowering and compiling. The executable read
back is the one compiled, so every number is the same (tested bit for bit).

The key is a SHA-256 of: the engine entry point; the kernel's module and qualified name;
the static configuration's ``repr`` (only plain values: ints, floats, strings, booleans,
``None`` and (named) tuples of them); the chunk, silo count and the parameters' tree
structure, shapes and dtypes; the JAX and jaxlib versions, the backend and device kind,
``XLA_FLAGS`` and the JAX options that change a lowering (64-bit mode, matmul precision, the
PRNG implementation); and the text of every source file of the ``collapse_jax`` package, so
that any change to the code starts afresh. A program is not kept when any of these cannot be
named that way: a kernel defined inside a function or a ``functools.partial`` (it may close
over data), a configuration holding other objects, several devices or processes. Nothing is
read or written while JAX's persistent cache is off (``--compile-cache off``, and the test
suite). An entry that cannot be read is ignored (and compiled again); the folder
``programs`` inside the compilation cache folder is safe to delete at any time (a program
that JAX's own cache then supplies is not kept again, :func:`jax_cache_hits`: delete the
whole folder to have both rebuilt), and entries of earlier code versions are never read
again (delete them to reclaim the space). Like
JAX's own cache, the folder holds executable code that runs are trusted to have written:
keep it private to the user (the default, ``~/.cache``, is).
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
import zlib
from pathlib import Path

import jax
import numpy as np

#: Bump when the entry layout changes.
FORMAT = 2
_SOURCE_DIGEST: str | None = None
#: Hits of JAX's persistent cache in this process (:func:`jax_cache_hits`).
_JAX_CACHE_HITS = [0]
_LISTENING = False
_HIT_EVENT = "/jax/compilation_cache/cache_hits"


def jax_cache_hits() -> int:
    """How many compiles of this process JAX has read back from its persistent cache so far
    (a ``jax.monitoring`` listener, registered at the first call). An executable read back
    that way must not be kept here: serialised again, it lacks functions that XLA's CPU
    runtime links at compile time, and a later process that runs it stops with
    ``NOT_FOUND: Function wrapped_iota not found`` (jax 0.10.2; reproduced on 2026-12-05 with
    the ``programs`` folder deleted and JAX's entries kept, which the module doc allows)."""
    global _LISTENING
    if not _LISTENING:
        import jax.monitoring

        def on_event(event, **_):
            if event == _HIT_EVENT:
                _JAX_CACHE_HITS[0] += 1

        jax.monitoring.register_event_listener(on_event)
        _LISTENING = True
    return _JAX_CACHE_HITS[0]


def folder() -> Path | None:
    """``<compilation cache folder>/programs`` while JAX's persistent cache is on, else None."""
    base = jax.config.jax_compilation_cache_dir
    if not base or not jax.config.jax_enable_compilation_cache:
        return None
    return Path(base) / "programs"


def _plain(value) -> bool:
    if value is None or isinstance(value, (bool, int, float, str)):
        return True
    if isinstance(value, tuple):
        return all(_plain(v) for v in value)
    return False


def _source_digest() -> str:
    global _SOURCE_DIGEST
    if _SOURCE_DIGEST is None:
        root = Path(__file__).resolve().parents[1]
        h = hashlib.sha256()
        for path in sorted(root.rglob("*.py")):
            h.update(str(path.relative_to(root)).encode())
            h.update(path.read_bytes())
        _SOURCE_DIGEST = h.hexdigest()
    return _SOURCE_DIGEST


def program_key(entry: str, kernel, cfg, silos: int, chunk: int, params) -> str | None:
    """The digest naming one engine program, or None when it cannot be named safely (module
    docstring)."""
    qual = getattr(kernel, "__qualname__", None)
    mod = getattr(kernel, "__module__", None)
    if qual is None or mod is None or "<" in qual or not _plain(cfg):
        return None
    import jaxlib

    device = jax.devices()[0]
    leaves, tree = jax.tree.flatten(params)
    parts = [
        FORMAT, entry, f"{mod}.{qual}", repr(cfg), silos, chunk, str(tree),
        [(type(x).__name__, np.shape(x), str(jax.numpy.result_type(x))) for x in leaves],
        jax.__version__, jaxlib.__version__, device.platform, device.device_kind,
        os.environ.get("XLA_FLAGS", ""), jax.config.jax_enable_x64,
        str(jax.config.jax_default_matmul_precision), str(jax.config.jax_default_prng_impl),
        bool(getattr(jax.config, "jax_threefry_partitionable", False)), _source_digest(),
    ]
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def load(digest: str | None):
    """``(compiled, out_bytes, per_chunk)`` kept under ``digest``, or None (absent, cache off,
    or unreadable)."""
    where = folder()
    if digest is None or where is None:
        return None
    path = where / f"{digest}.pkl"
    try:
        fmt, payload, in_tree, out_tree, out_bytes, per_chunk = pickle.loads(
            zlib.decompress(path.read_bytes()))
        if fmt != FORMAT:
            return None
        from jax.experimental import serialize_executable

        compiled = serialize_executable.deserialize_and_load(payload, in_tree, out_tree)
    except Exception:  # noqa: BLE001 - absent or unreadable: compile as if never kept
        return None
    return compiled, int(out_bytes), int(per_chunk)


def store(digest: str | None, compiled, out_bytes: int, per_chunk: int, *,
          fresh: bool = True) -> bool:
    """Keep ``compiled`` under ``digest`` (zlib-compressed, about 6x smaller; written to a
    temporary file, then renamed, so a reader never sees half an entry). ``fresh``: whether
    XLA compiled it in this process; one that JAX read back from its persistent cache is
    not kept (:func:`jax_cache_hits`). Returns whether it was written; never raises."""
    where = folder()
    if digest is None or where is None or not fresh:
        return False
    try:
        from jax.experimental import serialize_executable

        payload, in_tree, out_tree = serialize_executable.serialize(compiled)
        where.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=where, prefix=".tmp-", suffix=".pkl")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(zlib.compress(pickle.dumps(
                    (FORMAT, payload, in_tree, out_tree, int(out_bytes), int(per_chunk)),
                    protocol=pickle.HIGHEST_PROTOCOL), 6))
            os.replace(tmp, where / f"{digest}.pkl")
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except Exception:  # noqa: BLE001 - a cache that cannot be written is no error
        return False
    return True
