"""The watchdog that stops a wedged run (exit 3), and its ``--watchdog`` flag."""

from __future__ import annotations

import faulthandler
import math
import os
import sys
import threading
import time

from collapse_jax.verdict.errors import EXIT_INTERNAL, CheckError, log_path

#: Default seconds without CPU progress before the watchdog stops a run (``--watchdog``,
#: or the environment variable ``COLLAPSE_JAX_WATCHDOG``; 0 disables it).
WATCHDOG_DEFAULT_S = 300.0
#: A week: a longer idle limit is not a limit (use 0 to disable the watchdog).
WATCHDOG_MAX_S = 7 * 86400.0


class Watchdog:
    """Stops a run whose process makes no progress: exit 3 with one line naming the stage.

    "No progress" is measured, not guessed: a background thread samples the process CPU time;
    when over the last ``timeout`` seconds of wall time the process used less than 2% of one
    core while a stage was running, the XLA runtime is wedged (the stall this toolkit has met
    on the CPU backend leaves every worker thread idle in ``block_until_ready``), and waiting
    longer cannot help. Compilation and computation keep at least one core busy, so a slow run
    is never stopped. The stack of every thread goes to the log file the line names, then the
    process exits with code 3 (``os._exit``: a wedged runtime cannot be shut down cleanly).
    """

    def __init__(self, prog: str, name: str, timeout: float, poll: float | None = None):
        self.prog, self.name, self.timeout = prog, name, float(timeout)
        self.poll = poll if poll is not None else min(5.0, max(0.05, self.timeout / 20))
        self.stage = "starting"
        self._stop = threading.Event()
        self._samples: list[tuple[float, float]] = []
        self._thread = None

    def set_stage(self, stage: str) -> None:
        self.stage = stage

    def __enter__(self):
        if self.timeout > 0:
            self._thread = threading.Thread(target=self._watch, name="collapse_jax-watchdog",
                                            daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        return False

    def _watch(self):
        while not self._stop.wait(self.poll):
            now, cpu = time.monotonic(), time.process_time()
            self._samples.append((now, cpu))
            while len(self._samples) > 1 and now - self._samples[1][0] >= self.timeout:
                self._samples.pop(0)
            t_old, cpu_old = self._samples[0]
            if now - t_old >= self.timeout and cpu - cpu_old < 0.02 * (now - t_old):
                self._fire(now - t_old, cpu - cpu_old)

    def _fire(self, waited: float, cpu: float):
        path = log_path(self.name)
        try:
            with open(path, "w") as f:
                f.write(f"watchdog: no progress for {waited:.0f}s in stage {self.stage!r} "
                        f"({cpu:.2f}s of CPU); stacks of every thread:\n")
                f.flush()
                faulthandler.dump_traceback(file=f, all_threads=True)
        except OSError:
            path = "(log not writable)"
        print(f"{self.prog}: error: watchdog: no progress for {waited:.0f}s in stage "
              f"{self.stage!r} (process idle; the compiled program is wedged); exit "
              f"{EXIT_INTERNAL}; stacks in {path}", file=sys.stderr, flush=True)
        sys.stdout.flush()
        os._exit(EXIT_INTERNAL)


def watchdog_timeout(args) -> float:
    """``--watchdog`` if given, else ``COLLAPSE_JAX_WATCHDOG``, else the default."""
    value = getattr(args, "watchdog", None)
    if value is None:
        env = os.environ.get("COLLAPSE_JAX_WATCHDOG")
        try:
            value = WATCHDOG_DEFAULT_S if env is None else float(env)
        except ValueError:
            raise CheckError(f"COLLAPSE_JAX_WATCHDOG={env!r} is invalid: allowed seconds "
                             ">= 0 (0 disables the watchdog)") from None
    if not (math.isfinite(value) and 0 <= value <= WATCHDOG_MAX_S):
        raise CheckError(f"--watchdog={value!r} is invalid: allowed 0 .. {WATCHDOG_MAX_S:g} "
                         "seconds (0 disables the watchdog)")
    return float(value)


def add_watchdog_flag(p) -> None:
    """``--watchdog SECONDS`` on a parser or argument group (read by :func:`watchdog_timeout`)."""
    p.add_argument("--watchdog", type=float, default=None, metavar="SECONDS",
                   help="stop with exit 3 when the process makes no CPU progress for this "
                        f"long (default {WATCHDOG_DEFAULT_S:g}, or $COLLAPSE_JAX_WATCHDOG; "
                        "0 disables)")
