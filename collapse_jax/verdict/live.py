"""What a running check says on stderr while it works, on a terminal or piped into a file.

* **Start line**: as soon as the run starts computing (its first traced program or its first
  stage, whichever comes first, so never before every flag has been validated: bad input
  still gets exactly one line), one line with the command, the seeds, generations, key,
  ``--quick``, the device and the compilation cache.
* **Stage lines**: on a terminal the one-line bar of :class:`~collapse_jax.verdict.cli.Progress`;
  piped, one line per stage with the elapsed time and an estimate of what remains at the mean
  pace of the stages so far, and at most one chunk line per 5 s.
* **Heartbeat**: piped, a line every :data:`HEARTBEAT_S` seconds in which nothing else was
  printed, naming the stage in progress (a long compile is not silence).

``$COLLAPSE_JAX_PROGRESS``: ``0`` silences all of it (scripts that want stderr for errors
only), ``1`` forces the piped style even on a terminal; unset: terminal bar or piped lines.
"""

from __future__ import annotations

import os
import sys
import threading
import time

ENV = "COLLAPSE_JAX_PROGRESS"
#: Seconds of silence after which a piped run prints a heartbeat line.
HEARTBEAT_S = 15.0
#: Seconds between two chunk lines of a piped run.
CHUNK_LINE_S = 5.0


def mode() -> str:
    """``"off"``, ``"tty"`` (the bar) or ``"lines"`` (piped style)."""
    v = os.environ.get(ENV, "").strip().lower()
    if v in ("0", "off", "false", "no"):
        return "off"
    if v in ("1", "on", "true", "yes", "lines"):
        return "lines"
    return "tty" if sys.stderr.isatty() else "lines"


class Live:
    """The start line and heartbeat of one run (at most one per process is armed)."""

    def __init__(self, prog: str, banner, heartbeat_s: float = HEARTBEAT_S):
        """``banner``: the start line's text, or a function returning it (called when the run
        starts, after the check has applied ``--quick`` and its own defaults)."""
        self.prog, self.banner, self.heartbeat_s = prog, banner, heartbeat_s
        self.mode = mode()
        self.t0 = time.perf_counter()
        self.last_print = self.t0
        self.stage = "the first stage"
        self._started = False
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    def say(self, line: str) -> None:
        """Print one piped-style line (nothing in ``off`` or ``tty`` mode)."""
        if self.mode != "lines":
            return
        with self._lock:
            print(line, file=sys.stderr, flush=True)
            self.last_print = time.perf_counter()

    def started(self) -> None:
        """The run computes: print the start line once and start the heartbeat."""
        if self._started or self.mode == "off":
            return
        self._started = True
        with self._lock:
            text = self.banner() if callable(self.banner) else self.banner
            print(f"{self.prog}: {text}", file=sys.stderr, flush=True)
            self.last_print = time.perf_counter()
        if self.mode == "lines" and self.heartbeat_s > 0:
            self._thread = threading.Thread(target=self._beat, name="collapse_jax-heartbeat",
                                            daemon=True)
            self._thread.start()

    def _beat(self) -> None:
        while not self._stop.wait(min(1.0, self.heartbeat_s)):
            if time.perf_counter() - self.last_print >= self.heartbeat_s:
                self.say(f"  ... {self.elapsed():.0f} s elapsed, still in {self.stage}")

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)


#: The run armed in this process (``None`` between runs).
_CURRENT: Live | None = None
_LISTENING = False


def current() -> Live | None:
    return _CURRENT


def _on_event(event: str, *args, **kwargs) -> None:
    live = _CURRENT
    if live is not None and not live._started and "trace" in event:
        live.started()


def arm(live: Live) -> None:
    """Make ``live`` the current run; the first JAX tracing event starts it."""
    global _CURRENT, _LISTENING
    _CURRENT = live
    if live.mode == "off":  # silenced: no listener, no thread, nothing in the process changes
        return
    if not _LISTENING:
        import jax.monitoring

        jax.monitoring.register_event_duration_secs_listener(_on_event)
        _LISTENING = True


def begin() -> None:
    """The check has validated every flag: print the start line now (it would otherwise wait
    for the first traced program, behind host-side work such as a quadrature)."""
    if _CURRENT is not None:
        _CURRENT.started()


def disarm() -> None:
    global _CURRENT
    if _CURRENT is not None:
        _CURRENT.close()
    _CURRENT = None
