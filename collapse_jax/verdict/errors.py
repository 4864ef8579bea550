"""Exit codes, the bad-input exception and the one-line error reports of every check.

Bad input is recognised by type (:class:`collapse_jax.core._errors.InvalidInput`, which
:class:`CheckError` extends), never by the wording of a message: it prints one line and
returns 2; any other exception prints one line naming a log file that holds the traceback
and returns 3.
"""

from __future__ import annotations

import os
import sys
import tempfile
import traceback

from collapse_jax.core._errors import InvalidInput

#: Exit codes of every check (and of ``proofs_checks.sweep``).
EXIT_PASS, EXIT_FAIL, EXIT_INPUT, EXIT_INTERNAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
EXIT_CODES_HELP = ("exit codes: 0 every claim passes; 1 a claim fails; 2 bad input (one line "
                   "naming the flag); 3 internal error or watchdog (one line, traceback in the "
                   "log file it names); 130 interrupted")


class CheckError(InvalidInput):
    """Invalid command-line input (exit code 2)."""


def log_path(name: str) -> str:
    """Where a check writes the traceback of an internal error or a watchdog stop."""
    folder = os.environ.get("COLLAPSE_JAX_LOG_DIR") or tempfile.gettempdir()
    return os.path.join(folder, f"collapse_jax-{name}-{os.getpid()}.log")


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split())


def input_error(prog: str, e: BaseException) -> int:
    """Print bad input ``e`` as one line, return 2."""
    print(f"{prog}: error: {_one_line(e)}", file=sys.stderr)
    return EXIT_INPUT


def internal_error(prog: str, name: str, e: BaseException) -> int:
    """Write the traceback of ``e`` to the log file, print one line naming it, return 3."""
    path = log_path(name)
    try:
        with open(path, "w") as f:
            traceback.print_exception(type(e), e, e.__traceback__, file=f)
    except OSError:
        path = "(log not writable)"
    msg = _one_line(e)
    if len(msg) > 200:
        msg = msg[:197] + "..."
    print(f"{prog}: internal error: {type(e).__name__}: {msg} (exit {EXIT_INTERNAL}; "
          f"traceback in {path})", file=sys.stderr)
    return EXIT_INTERNAL
