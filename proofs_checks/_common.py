"""The command-line layer every proofs_check shares: flags, output paths, exit codes, the run.

Claims, verdicts, the table, the JSON report and the curves CSV live in the library
(:mod:`collapse_jax.verdict`); this module re-exports them.

Contract (design.md), stated in every ``--help``:

* 0: every claim passes;
* 1: a claim fails (a refuted or undecided prediction);
* 2: bad input: one line naming the flag, the value and what is allowed, no traceback; every
  output path is checked before anything is computed;
* 3: internal error or watchdog: one line, the full traceback (or every thread's stack) in a
  log file whose path the line names;
* 130: interrupted (Ctrl-C), one line.

Bad input is recognised by type (:class:`collapse_jax._validate.InvalidInput`, which
:class:`CheckError` extends), never by the wording of a message. JSON, curves CSV and figures
are written atomically (a temporary file in the same folder, then ``os.replace``).
"""

from __future__ import annotations

import argparse
import faulthandler
import math
import os
import platform
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable

import numpy as np

import collapse_jax
from collapse_jax._validate import InvalidInput

# The report layer lives in the library (collapse_jax.verdict); re-exported here so that the
# checks and every existing ``from proofs_checks._common import ...`` keep working.
from collapse_jax.verdict.claim import Claim as Claim
from collapse_jax.verdict.curves import curve_summary as curve_summary
from collapse_jax.verdict.curves import write_curves as write_curves
from collapse_jax.verdict.family import simultaneous_level as simultaneous_level
from collapse_jax.verdict.files import atomic_write_text as atomic_write_text
from collapse_jax.verdict.files import chmod_default, suppress_os_error, temporary_sibling
from collapse_jax.verdict.json_values import _num as _num
from collapse_jax.verdict.json_values import to_jsonable as to_jsonable
from collapse_jax.verdict.report import write_report as write_report
from collapse_jax.verdict.table import _fmt as _fmt
from collapse_jax.verdict.table import format_table as format_table

#: Exit codes of every check (and of ``proofs_checks.sweep``).
EXIT_PASS, EXIT_FAIL, EXIT_INPUT, EXIT_INTERNAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
EXIT_CODES_HELP = ("exit codes: 0 every claim passes; 1 a claim fails; 2 bad input (one line "
                   "naming the flag); 3 internal error or watchdog (one line, traceback in the "
                   "log file it names); 130 interrupted")
#: Extensions ``--plot`` accepts (formats matplotlib writes without extra packages).
PLOT_EXTENSIONS = ("png", "pdf", "svg", "eps", "ps", "jpg", "jpeg")
#: Default seconds without CPU progress before the watchdog stops a run (``--watchdog``,
#: or the environment variable ``COLLAPSE_JAX_WATCHDOG``; 0 disables it).
WATCHDOG_DEFAULT_S = 300.0
#: A week: a longer idle limit is not a limit (use 0 to disable the watchdog).
WATCHDOG_MAX_S = 7 * 86400.0


def environment() -> dict:
    """Versions and device of this run."""
    import jax

    try:
        import ott
        ott_version = getattr(ott, "__version__", "unknown")
    except ImportError:  # pragma: no cover - ott-jax is a dependency
        ott_version = None
    dev = jax.devices()
    return {
        "versions": {"collapse_jax": collapse_jax.__version__, "jax": jax.__version__,
                     "jaxlib": getattr(__import__("jaxlib"), "__version__", "unknown"),
                     "numpy": np.__version__, "ott-jax": ott_version,
                     "python": platform.python_version()},
        "device": {"platform": dev[0].platform, "kind": dev[0].device_kind, "count": len(dev),
                   "machine": platform.machine()},
    }


class CheckError(InvalidInput):
    """Invalid command-line input (exit code 2)."""


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("epilog", EXIT_CODES_HELP)
        super().__init__(*args, **kwargs)

    def error(self, message):  # one line, exit 2, no usage dump
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_INPUT)


# ---------------------------------------------------------------------------------------------
# Output paths: checked before computing, written atomically.


def check_output_path(flag: str, path, extensions: tuple[str, ...] | None = None) -> str:
    """Raise :class:`CheckError` unless ``path`` can be written: a non-empty name whose folder
    exists and is writable, that is not itself a folder, with one of ``extensions`` (without
    the dot; ``None`` accepts any)."""
    if path is None:
        return path
    path = str(path)
    if not path.strip():
        raise CheckError(f"{flag}={path!r} is invalid: allowed a file name")
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise CheckError(f"{flag}={path!r} is invalid: it is a folder; allowed a file name")
    if not os.path.isdir(folder):
        raise CheckError(f"{flag}={path!r} is invalid: folder {folder!r} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise CheckError(f"{flag}={path!r} is invalid: folder {folder!r} is not writable")
    if os.path.exists(path) and not os.access(path, os.W_OK):
        raise CheckError(f"{flag}={path!r} is invalid: the file exists and is not writable")
    if extensions is not None:
        ext = os.path.splitext(path)[1].lower().lstrip(".")
        if ext not in extensions:
            raise CheckError(f"{flag}={path!r} is invalid: allowed extensions "
                             f"{', '.join('.' + e for e in extensions)}")
    return path


def save_figure(fig, path: str, **kwargs) -> None:
    """``fig.savefig`` to ``path`` atomically (format from the extension)."""
    tmp = temporary_sibling(path)
    fmt = os.path.splitext(path)[1].lstrip(".").lower() or None
    try:
        chmod_default(tmp)
        fig.savefig(tmp, format=fmt, **kwargs)
        os.replace(tmp, path)
    except BaseException:
        with suppress_os_error():
            os.unlink(tmp)
        raise


# ---------------------------------------------------------------------------------------------
# Watchdog and internal-error log.


def log_path(name: str) -> str:
    """Where a check writes the traceback of an internal error or a watchdog stop."""
    folder = os.environ.get("COLLAPSE_JAX_LOG_DIR") or tempfile.gettempdir()
    return os.path.join(folder, f"collapse_jax-{name}-{os.getpid()}.log")


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


def base_parser(name: str, description: str, *, seeds: int, generations: int) -> _Parser:
    """Parser with the flags every check shares."""
    p = _Parser(prog=f"python -m proofs_checks.{name}", description=description)
    p.add_argument("--seeds", type=int, default=seeds, help=f"Monte Carlo seeds (default {seeds})")
    p.add_argument("--generations", type=int, default=generations,
                   help=f"generations per run (default {generations})")
    p.add_argument("--quick", action="store_true",
                   help="small configuration that still decides every claim (tests, CI)")
    p.add_argument("--json", metavar="PATH", help="write the report as JSON")
    p.add_argument("--curves", metavar="PATH",
                   help="write the per-generation curves as a long CSV (setting, metric, "
                        "component, generation, mean, se); read it with "
                        "collapse_jax.verdict.read_curves")
    p.add_argument("--plot", metavar="PATH", help="write the figure (PNG/PDF by extension)")
    p.add_argument("--key", type=int, default=0, help="PRNG seed (default 0)")
    p.add_argument("--chunk-size", type=int, default=None,
                   help="run seeds in chunks of this size, one compiled program for all "
                        "chunks (bounds memory; the same numbers)")
    p.add_argument("--devices", type=int, default=None,
                   help="shard the seed axis across this many devices (default 1)")
    add_watchdog_flag(p)
    return p


def add_watchdog_flag(p) -> None:
    """``--watchdog SECONDS`` on a parser or argument group (read by :func:`watchdog_timeout`)."""
    p.add_argument("--watchdog", type=float, default=None, metavar="SECONDS",
                   help="stop with exit 3 when the process makes no CPU progress for this "
                        f"long (default {WATCHDOG_DEFAULT_S:g}, or $COLLAPSE_JAX_WATCHDOG; "
                        "0 disables)")


class Progress:
    """Stage messages on a terminal; silent when stderr is not a terminal."""

    #: the running check's watchdog: every stage and chunk message names its stage
    watchdog: Watchdog | None = None

    def __init__(self, total: int, enabled: bool | None = None):
        self.total, self.done = total, 0
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.t0 = time.perf_counter()

    def chunks(self, done: int, total: int):
        """Chunk-level bar (``batch.Options(progress=...)`` calls it after every chunk)."""
        if Progress.watchdog is not None:
            Progress.watchdog.set_stage(f"chunk {min(done + 1, total)} of {total}")
        if self.enabled and total > 1:
            el = time.perf_counter() - self.t0
            rate = done / max(el, 1e-9)
            print(f"\r  chunks {done}/{total}  {rate:.2f} chunks/s  {el:6.1f}s", end="",
                  file=sys.stderr, flush=True)
            if done == total:
                print(file=sys.stderr)

    def step(self, label: str):
        self.done += 1
        if Progress.watchdog is not None:
            Progress.watchdog.set_stage(f"stage {min(self.done + 1, self.total)} of "
                                        f"{self.total} (after {label!r})")
        if self.enabled:
            width = 24
            fill = int(width * self.done / self.total)
            el = time.perf_counter() - self.t0
            print(f"\r[{'#' * fill}{'.' * (width - fill)}] {self.done}/{self.total} "
                  f"{label[:40]:<40} {el:6.1f}s", end="" if self.done < self.total else "\n",
                  file=sys.stderr, flush=True)


def apply_quick(a: argparse.Namespace, defaults: dict, quick: dict, keys) -> None:
    """``--quick``: every flag in ``keys`` still at its default takes its quick value (a flag
    the user gave explicitly wins)."""
    if a.quick:
        for k in keys:
            if getattr(a, k) == defaults[k]:
                setattr(a, k, quick[k])


def check_flags(checks) -> None:
    """Raise :class:`CheckError` for the first ``(flag, value, ok, allowed)`` with ``ok``
    false, as one line: ``--flag=value is invalid: allowed ...``."""
    for flag, value, ok, allowed in checks:
        if not ok:
            raise CheckError(f"{flag}={value!r} is invalid: allowed {allowed}")


def run_check(name: str, parser: argparse.ArgumentParser,
              body: Callable[[argparse.Namespace], tuple[dict, list[Claim], object]],
              argv=None, *, wall_time: bool = False) -> int:
    """Parse, validate, run ``body``, print the table, write JSON / figure, return exit code.

    ``body`` returns ``(report, claims, figure_fn)``; ``report`` holds ``config``,
    ``precision``, ``timing`` and ``curves`` (``--curves`` writes the latter as a long CSV);
    ``figure_fn(path)`` draws the figure.
    ``wall_time`` prints the total wall time after a run that was not refused. Output paths
    are checked before ``body`` runs; bad input returns 2, an internal error 3 (traceback in a
    log file), Ctrl-C 130.
    """
    t0 = time.perf_counter()
    args = parser.parse_args(argv)
    _WRITTEN.clear()  # outputs of this run only (several checks may run in one process)
    try:
        code = _run_check(name, parser, body, args)
    except KeyboardInterrupt:
        written = [p for p in (getattr(args, "json", None), getattr(args, "curves", None),
                               getattr(args, "plot", None)) if p and p in _WRITTEN]
        print(f"{parser.prog}: interrupted after {time.perf_counter() - t0:.1f}s; "
              + (f"written before: {', '.join(written)}" if written else "nothing was written"),
              file=sys.stderr)
        return EXIT_INTERRUPTED
    except InvalidInput as e:
        return input_error(parser.prog, e)
    except Exception as e:  # noqa: BLE001 - every other failure is an internal error
        return internal_error(parser.prog, name, e)
    if wall_time and code != EXIT_INPUT:
        print(f"total wall time {time.perf_counter() - t0:.1f}s")
    return code


#: Output files written by the running check (named by the Ctrl-C line).
_WRITTEN: set = set()


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


def _run_check(name, parser, body, args) -> int:
    check_output_path("--json", getattr(args, "json", None))
    check_output_path("--curves", getattr(args, "curves", None), ("csv",))
    check_output_path("--plot", getattr(args, "plot", None), PLOT_EXTENSIONS)
    key = getattr(args, "key", None)
    if key is not None and not 0 <= key < 2**63:
        raise CheckError(f"--key={key!r} is invalid: allowed 0 .. 2**63 - 1")
    timeout = watchdog_timeout(args)
    import jax

    from collapse_jax import batch

    batch.maybe_initialize_distributed()
    jax.config.update("jax_enable_x64", True)
    if getattr(args, "chunk_size", None) is not None and args.chunk_size < 1:
        raise CheckError(f"--chunk-size={args.chunk_size} is invalid: allowed >= 1")
    devices = getattr(args, "devices", None)
    if devices is not None and not 1 <= devices <= jax.device_count():
        raise CheckError(f"--devices={devices} is invalid: allowed 1 .. "
                         f"{jax.device_count()} (devices visible to JAX)")
    bar = Progress(1)
    # How every batch of the run is split and sharded: passed to the check as ``args.batch``
    # (each check hands it to collapse_jax.batch as ``options=``), never set globally.
    args.batch = batch.Options(devices=devices, chunk_size=getattr(args, "chunk_size", None),
                               progress=bar.chunks)
    with Watchdog(parser.prog, name, timeout) as dog:
        Progress.watchdog = dog
        try:
            report, claims, figure_fn = body(args)
        finally:
            Progress.watchdog = None
    if not claims:
        raise RuntimeError(f"{name}: the run decided no claim (a check that cannot fail is a "
                           "defect)")
    env = environment()
    full = {"check": name, "version": collapse_jax.__version__, **report,
            "device": env["device"], "versions": env["versions"],
            "claims": [c.to_json() for c in claims]}
    title = (f"proofs_checks.{name}  collapse_jax {collapse_jax.__version__}  "
             f"device={env['device']['platform']}  precision={report.get('precision')}")
    ci_note = report.get("ci_note", "")
    print(format_table(title, claims, report.get("timing", {}), ci_note))
    if args.json:
        write_report(args.json, full)
        _WRITTEN.add(args.json)
        print(f"wrote {args.json}")
    curves_path = getattr(args, "curves", None)
    if curves_path:
        write_curves(curves_path, report.get("curves") or {})
        _WRITTEN.add(curves_path)
        print(f"wrote {curves_path}")
    if args.plot:
        figure_fn(args.plot)
        _WRITTEN.add(args.plot)
        print(f"wrote {args.plot}")
    return EXIT_PASS if all(c.passed for c in claims) else EXIT_FAIL
