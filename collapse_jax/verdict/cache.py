"""The persistent compilation cache every check uses by default.

A check compiles a handful of XLA programs whose shapes follow its flags; compiling is most of
a default run's wall time (on 2 CPU cores and even more so on a GPU, docs/speed.md). JAX can
keep compiled programs on disk and reuse them in a later process with the same program, the
same backend and the same versions, so a second run of a check with the same shapes spends its
time computing.

Where the cache lives, in order:

* ``--compile-cache DIR`` on any check (``--compile-cache off`` disables it for that run);
* ``$COLLAPSE_JAX_COMPILE_CACHE`` (a folder, or ``0`` / ``off`` / ``none`` to disable);
* a folder the user already gave JAX (``$JAX_COMPILATION_CACHE_DIR`` or
  ``jax.config.jax_compilation_cache_dir``): used as is;
* ``$XDG_CACHE_HOME/collapse_jax/xla``, else ``~/.cache/collapse_jax/xla``.

The engine also keeps each of its programs whole in ``programs/`` inside that folder
(:mod:`collapse_jax.engine.program_cache`), so that a second run skips tracing and lowering
too. A folder that cannot be created or written disables the cache with a one-line note on
stderr; a run never fails because of it. The cache changes no number: a program read back is
the one that would have been compiled. It is safe to delete the folder at any time.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ENV = "COLLAPSE_JAX_COMPILE_CACHE"
_OFF = {"0", "off", "none", "false", "no"}
#: Programs compiling faster than this are not written (JAX's own default is 1 s; the checks
#: compile many programs of 0.2-1 s whose sum matters). ``$COLLAPSE_JAX_CACHE_MIN_COMPILE_S``
#: overrides it (0 writes every program, which makes what a run writes independent of timing).
MIN_COMPILE_S = 0.2
MIN_COMPILE_ENV = "COLLAPSE_JAX_CACHE_MIN_COMPILE_S"


def add_cache_flag(p) -> None:
    """``--compile-cache DIR|off`` on a parser or argument group."""
    p.add_argument("--compile-cache", metavar="DIR|off", default=None,
                   help="persistent compilation cache folder (default "
                        f"${ENV}, else ~/.cache/collapse_jax/xla; 'off' disables): a second "
                        "run with the same shapes skips most compiling")


def min_compile_s() -> float:
    """The compile time below which a program is not written: ``$COLLAPSE_JAX_CACHE_MIN_
    COMPILE_S`` when it is a number >= 0, else :data:`MIN_COMPILE_S`."""
    try:
        value = float(os.environ.get(MIN_COMPILE_ENV, MIN_COMPILE_S))
    except ValueError:
        return MIN_COMPILE_S
    return value if value >= 0 else MIN_COMPILE_S


def default_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "collapse_jax" / "xla"


def resolve(flag: str | None, jax) -> str | None:
    """The cache folder this run uses, or ``None`` when disabled (see the module doc)."""
    for value in (flag, os.environ.get(ENV)):
        if value is not None and value.strip() != "":
            return None if value.strip().lower() in _OFF else str(Path(value).expanduser())
    given = jax.config.jax_compilation_cache_dir or os.environ.get("JAX_COMPILATION_CACHE_DIR")
    return given or str(default_dir())


def enable(flag: str | None, jax, prog: str = "collapse_jax") -> str | None:
    """Point JAX's persistent cache at the folder :func:`resolve` names; return it, or
    ``None`` when disabled or unusable (a note on stderr says why). Disabled means off for
    JAX too, even where ``$JAX_COMPILATION_CACHE_DIR`` names a folder."""
    folder = resolve(flag, jax)
    if folder is None:
        jax.config.update("jax_enable_compilation_cache", False)
        return None
    try:
        Path(folder).mkdir(parents=True, exist_ok=True)
        probe = Path(folder) / f".write-test-{os.getpid()}"
        probe.write_text("")
        probe.unlink()
    except OSError as e:
        print(f"{prog}: note: compilation cache disabled ({folder}: "
              f"{e.strerror or type(e).__name__})", file=sys.stderr)
        jax.config.update("jax_enable_compilation_cache", False)
        return None
    if jax.config.jax_compilation_cache_dir != folder:
        jax.config.update("jax_compilation_cache_dir", folder)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", min_compile_s())
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return folder
