"""The command-line harness every check shares: flags, output paths, exit codes, the run.

A check is a parser (:func:`base_parser` plus its own flags), a ``body(args) -> (report,
claims, figure_fn)`` and ``main(argv) = run_check(NAME, parser, body, argv)``;
:func:`run_check` parses, validates the output paths, enables float64, arms the watchdog,
hands ``body`` a :class:`collapse_jax.engine.batch.Options` as ``args.batch_options`` and an
empty :class:`~collapse_jax.verdict.family.ClaimPlan` as ``args.plan`` (the check declares its
claim ids there: the family size and the per-claim level follow), prints the verdict table
and writes ``--json`` / ``--curves`` / ``--plot``. See ``docs/writing_a_check.md``.

Contract (design.md), stated in every ``--help``:

* 0: every claim passes;
* 1: a claim fails (a refuted or undecided prediction);
* 2: bad input: one line naming the flag, the value and what is allowed, no traceback; every
  output path is checked before anything is computed;
* 3: internal error or watchdog: one line, the full traceback (or every thread's stack) in a
  log file whose path the line names;
* 130: interrupted (Ctrl-C), one line.

Bad input is recognised by type (:class:`collapse_jax.core._errors.InvalidInput`, which
:class:`CheckError` extends), never by the wording of a message. JSON, curves CSV and figures
are written atomically (a temporary file in the same folder, then ``os.replace``).

Importing this module is cheap: jax is imported when a check runs, matplotlib never (the
check's ``figure_fn`` draws its own figure and hands it to :func:`save_figure`).
"""

from __future__ import annotations

import argparse
import contextvars
import os
import platform
import sys
import time
from collections.abc import Callable

import numpy as np

import collapse_jax
from collapse_jax.core._errors import InvalidInput
from collapse_jax.verdict import cache, live
from collapse_jax.verdict.claim import Claim
from collapse_jax.verdict.curves import write_curves
from collapse_jax.verdict.errors import (
    EXIT_CODES_HELP,
    EXIT_FAIL,
    EXIT_INPUT,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_PASS,
    CheckError,
    input_error,
    internal_error,
)
from collapse_jax.verdict.family import ClaimPlan
from collapse_jax.verdict.outputs import PLOT_EXTENSIONS, check_output_path, save_figure
from collapse_jax.verdict.report import check_report, write_report
from collapse_jax.verdict.table import format_table
from collapse_jax.verdict.watchdog import Watchdog, add_watchdog_flag, watchdog_timeout

__all__ = [
    "EXIT_CODES_HELP", "EXIT_FAIL", "EXIT_INPUT", "EXIT_INTERNAL", "EXIT_INTERRUPTED",
    "EXIT_PASS", "PLOT_EXTENSIONS", "CheckError", "Progress", "add_watchdog_flag",
    "apply_quick", "base_parser", "check_flags", "check_output_path", "environment",
    "given_flags", "is_given", "numbered", "run_check", "save_figure",
]


#: The watchdog of the check running in this context (``None`` outside ``run_check``): every
#: :class:`Progress` stage and chunk message names its stage to it. A context variable, set
#: and reset around ``body``, so that nothing outlives a run.
_WATCHDOG: contextvars.ContextVar[Watchdog | None] = contextvars.ContextVar(
    "collapse_jax_watchdog", default=None)


def environment() -> dict:
    """Versions and device of this run."""
    from importlib import metadata

    import jax

    try:  # the installed distribution's version: importing ott itself takes about 0.9 s
        ott_version = metadata.version("ott-jax")
    except metadata.PackageNotFoundError:  # pragma: no cover - ott-jax is a dependency
        ott_version = None
    dev = jax.devices()
    return {
        "versions": {"collapse_jax": collapse_jax.__version__, "jax": jax.__version__,
                     "jaxlib": getattr(__import__("jaxlib"), "__version__", "unknown"),
                     "numpy": np.__version__, "ott-jax": ott_version,
                     "python": platform.python_version()},
        "device": {"platform": dev[0].platform, "kind": dev[0].device_kind, "count": len(dev),
                   "processes": jax.process_count(), "machine": platform.machine(),
                   # float32 matrix products: "highest" inside a check (engine.batch.float64)
                   "matmul_precision": jax.config.jax_default_matmul_precision or "default"},
    }


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("epilog", EXIT_CODES_HELP)
        super().__init__(*args, **kwargs)

    def error(self, message):  # one line, exit 2, no usage dump
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_INPUT)


def base_parser(name: str, description: str, *, seeds: int, generations: int,
                prog: str | None = None, chunk_note: str = "the same numbers") -> _Parser:
    """Parser with the flags every check shares.

    ``prog`` names the command in messages (default ``python -m proofs_checks.NAME``);
    a check outside ``proofs_checks`` passes its own, e.g. ``python my_check.py``, and
    its verdict table is then titled ``NAME`` instead of ``proofs_checks.NAME``.
    ``chunk_note`` ends the ``--chunk-size`` help: what chunking changes in this check's
    numbers (nothing, by default)."""
    p = _Parser(prog=f"python -m proofs_checks.{name}" if prog is None else prog,
                description=description)
    p.title_name = f"proofs_checks.{name}" if prog is None else name
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
    add_execution_flags(p, chunk_note)
    return p


def add_execution_flags(p, chunk_note: str) -> None:
    """``--chunk-size``, ``--devices``, ``--watchdog`` and ``--compile-cache`` on a parser or
    argument group (how a run executes, never what it computes); ``chunk_note`` ends the
    ``--chunk-size`` help."""
    p.add_argument("--chunk-size", type=int, default=None,
                   help="run seeds in chunks of this size, one compiled program for all "
                        f"chunks (bounds memory; {chunk_note})")
    p.add_argument("--devices", type=int, default=None,
                   help="shard the seed axis across this many devices (default 1)")
    add_watchdog_flag(p)
    cache.add_cache_flag(p)


class Progress:
    """Stage messages: a one-line bar on a terminal; piped, one line per stage with the elapsed
    time and an estimate of what remains (see :mod:`collapse_jax.verdict.live`;
    ``enabled=False`` silences it, ``True`` forces the bar)."""

    def __init__(self, total: int, enabled: bool | None = None):
        self.total, self.done = total, 0
        m = live.mode()
        self.style = ("tty" if enabled else "off") if enabled is not None else m
        self.enabled = self.style != "off"
        self.t0 = time.perf_counter()
        self._chunk_print = 0.0
        self._call: tuple[float, int] | None = None  # (time, done) of a batch call's 1st chunk
        self._last = (0, 0)  # (done, total) of the last chunk reported
        run = live.current()
        if run is not None and total > 0:
            run.stage = f"stage 1 of {total}"

    def _live(self):
        run = live.current()
        if run is not None:
            run.started()
        return run

    def _line(self, text: str) -> None:
        run = self._live()
        if run is not None:
            run.say(text)
        else:
            print(text, file=sys.stderr, flush=True)

    def chunks(self, done: int, total: int):
        """Chunk-level progress (``batch.Options(progress=...)`` calls it after every chunk).

        The pace of a batch call is measured from its first finished chunk on: that chunk
        carries the call's compile, and earlier stages are not this call's pace. Until a
        second chunk finishes there is no estimate ("~? s left")."""
        dog = _WATCHDOG.get()
        if dog is not None:
            dog.set_stage(f"chunk {min(done + 1, total)} of {total}")
        now = time.perf_counter()
        if self._call is None or done <= self._last[0] or total != self._last[1]:
            self._call = (now, done)  # a new batch call: its first chunk
        self._last = (done, total)
        if not self.enabled or total <= 1:
            return
        el = now - self.t0
        t1, d1 = self._call
        rate = (done - d1) / (now - t1) if done > d1 and now > t1 else 0.0
        if self.style == "tty":
            pace = f"{rate:.2f} chunks/s" if rate > 0 else "compiling"
            print(f"\r  chunks {done}/{total}  {pace}  {el:6.1f}s", end="",
                  file=sys.stderr, flush=True)
            if done == total:
                print(file=sys.stderr)
        elif done == total or el - self._chunk_print >= live.CHUNK_LINE_S:
            self._chunk_print = el
            left = f"{(total - done) / rate:.0f}" if rate > 0 else ("0" if done == total else "?")
            self._line(f"  chunks {done}/{total}  {el:.1f} s, ~{left} s left")

    def step(self, label: str):
        self.done += 1
        dog = _WATCHDOG.get()
        stage = f"stage {min(self.done + 1, self.total)} of {self.total} (after {label!r})"
        if dog is not None:
            dog.set_stage(stage)
        run = self._live()
        if run is not None:
            run.stage = stage if self.done < self.total else "the statistics and the report"
        if not self.enabled:
            return
        el = time.perf_counter() - self.t0
        if self.style == "tty":
            width = 24
            fill = int(width * self.done / self.total)
            print(f"\r[{'#' * fill}{'.' * (width - fill)}] {self.done}/{self.total} "
                  f"{label[:40]:<40} {el:6.1f}s", end="" if self.done < self.total else "\n",
                  file=sys.stderr, flush=True)
        else:
            left = el / self.done * (self.total - self.done)
            tail = f", ~{left:.0f} s left at this pace" if self.done < self.total else ""
            self._line(f"  [{self.done}/{self.total}] {label}: {el:.1f} s elapsed{tail}")


def given_flags(parser: argparse.ArgumentParser, argv) -> frozenset:
    """The ``argparse`` dests that ``argv`` sets explicitly, even to their default value
    (``--seeds 1000`` where 1000 is the default). argparse gives a dest its default only when
    the namespace it fills lacks it, so every dest starts at a private marker and those still
    holding it were not given."""
    marker = object()
    ns = argparse.Namespace(**{act.dest: marker for act in parser._actions
                               if act.dest != argparse.SUPPRESS})
    ns, _ = parser.parse_known_args(argv, namespace=ns)
    return frozenset(k for k, v in vars(ns).items() if v is not marker)


def is_given(a: argparse.Namespace, name: str, default) -> bool:
    """Whether flag ``name`` was given on the command line: from ``a.given`` (set by
    :func:`run_check`), else by comparing with ``default`` (a namespace parsed elsewhere)."""
    given = getattr(a, "given", None)
    return name in given if given is not None else getattr(a, name) != default


def preset_default(a: argparse.Namespace, defaults: dict, name: str, full, quick=None) -> None:
    """A preset's own value of flag ``name`` unless the user gave it: ``quick`` with
    ``--quick`` (when given), else ``full``. ``defaults``: the check's parser defaults."""
    if not is_given(a, name, defaults[name]):
        setattr(a, name, quick if quick is not None and a.quick else full)


def apply_quick(a: argparse.Namespace, defaults: dict, quick: dict, keys) -> None:
    """``--quick``: every flag in ``keys`` not given explicitly takes its quick value (a flag
    the user gave wins, even when it equals the default)."""
    if a.quick:
        for k in keys:
            if not is_given(a, k, defaults[k]):
                setattr(a, k, quick[k])


def check_flags(checks) -> None:
    """Raise :class:`CheckError` for the first ``(flag, value, ok, allowed)`` with ``ok``
    false, as one line: ``--flag=value is invalid: allowed ...``."""
    for flag, value, ok, allowed in checks:
        if not ok:
            raise CheckError(f"{flag}={value!r} is invalid: allowed {allowed}")


def numbered(items) -> str:
    """``"(1) a; (2) b; ..."``: the one-line form of a list printed in a verdict's note (the
    differences from the authors' setup that remain)."""
    return "; ".join(f"({i}) {d}" for i, d in enumerate(items, 1))


def fixed_by_preset(a, defaults: dict, names, allowed: str) -> list:
    """:func:`check_flags` rows refusing every flag of ``names`` (``argparse`` dests) whose
    value differs from the parser's default ``defaults[name]``: the flags a preset fixes.
    ``allowed`` says why (``"not given with --preset X (...)"``)."""
    return [(f"--{k.replace('_', '-')}", getattr(a, k), getattr(a, k) == defaults[k], allowed)
            for k in names]


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
    args.given = given_flags(parser, argv)
    written: set = set()  # outputs of this run (named by the Ctrl-C line)
    try:
        code = _run_check(name, parser, body, args, written, command_line=argv is None)
    except KeyboardInterrupt:
        written = [p for p in (getattr(args, "json", None), getattr(args, "curves", None),
                               getattr(args, "plot", None)) if p and p in written]
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


def usable_cores() -> int:
    """The CPU cores this process may run on (its affinity mask on Linux, else the count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def split_cpu(jax) -> int | None:
    """Split the CPU backend into one JAX device per core before it starts; returns the number
    of devices to shard seeds over, or ``None`` where it does not apply: one core, an
    accelerator as the default backend, a host device count the user set in ``XLA_FLAGS``, or
    a backend that has already started (a test process, a notebook).

    One CPU program of a vmapped scan of small steps keeps about 1.6 of 2 cores busy; two
    programs side by side keep both (the qiao-gaussian preset: 274 s computing against 323 s,
    docs/power_law.md). A seed's numbers change only at rounding (its program's batch width).
    """
    cores = usable_cores()
    if cores < 2 or "xla_force_host_platform_device_count" in os.environ.get("XLA_FLAGS", ""):
        return None
    try:
        jax.config.update("jax_num_cpu_devices", cores)
    except RuntimeError:  # the backend has started: its device count stays
        return None
    if jax.default_backend() != "cpu":
        return None
    return jax.local_device_count()


def _run_check(name, parser, body, args, written: set, command_line: bool = False) -> int:
    check_output_path("--json", getattr(args, "json", None))
    check_output_path("--curves", getattr(args, "curves", None), ("csv",))
    check_output_path("--plot", getattr(args, "plot", None), PLOT_EXTENSIONS)
    key = getattr(args, "key", None)
    if key is not None and not 0 <= key < 2**63:
        raise CheckError(f"--key={key!r} is invalid: allowed 0 .. 2**63 - 1")
    timeout = watchdog_timeout(args)
    import jax

    from collapse_jax.engine import batch

    args.compile_cache_dir = cache.enable(getattr(args, "compile_cache", None), jax, parser.prog)
    distributed = batch.maybe_initialize_distributed()
    # A check may ask for every core on the CPU backend (``parser.split_cpu(args)``): only on
    # the command line (a library caller's process keeps its devices) and on one host. Its
    # seeds are sharded over all of them unless --devices picks how many (1: one device).
    wants = getattr(parser, "split_cpu", None)
    if command_line and not distributed and wants is not None and wants(args):
        split = split_cpu(jax)
        if getattr(args, "devices", None) is None:
            args.devices = split
    if not batch.is_primary():
        # Several processes: all compute the same run in lockstep (collapse_jax.engine.batch);
        # process 0 alone prints the table and progress and writes the outputs.
        os.environ[live.ENV] = "0"
        for flag in ("json", "curves", "plot"):
            if getattr(args, flag, None) is not None:
                setattr(args, flag, None)
        sys.stdout = open(os.devnull, "w")  # for the rest of this process
    with batch.float64():  # for this run only: the caller's jax_enable_x64 is left as it was
        return _run_float64(name, parser, body, args, jax, batch, timeout, written)


def _banner(args, jax, devices) -> str:
    """The start line: what this run computes and where."""
    parts = []
    for flag in ("seeds", "generations", "rounds", "key"):
        if getattr(args, flag, None) is not None:
            parts.append(f"{flag} {getattr(args, flag)}")
    if getattr(args, "quick", False):
        parts.append("--quick")
    if getattr(args, "preset", None):
        parts.append(f"--preset {args.preset}")
    dev = jax.devices()[0]
    parts.append(f"{devices or 1} x {dev.platform}")
    cache_dir = getattr(args, "compile_cache_dir", None)
    parts.append(f"compile cache {cache_dir or 'off'}")
    return "running: " + ", ".join(parts) + " (compiling first; stage lines follow)"


def _run_float64(name, parser, body, args, jax, batch, timeout, written: set) -> int:
    if getattr(args, "chunk_size", None) is not None and args.chunk_size < 1:
        raise CheckError(f"--chunk-size={args.chunk_size} is invalid: allowed >= 1")
    devices = getattr(args, "devices", None)
    if devices is not None and not 1 <= devices <= jax.device_count():
        raise CheckError(f"--devices={devices} is invalid: allowed 1 .. "
                         f"{jax.device_count()} (devices visible to JAX)")
    bar = Progress(1)
    # How every batch of the run is split and sharded: passed to the check as
    # ``args.batch_options`` (each check hands it to collapse_jax.engine.batch as ``options=``),
    # never set globally.
    args.batch_options = batch.Options(devices=devices,
                                       chunk_size=getattr(args, "chunk_size", None),
                                       progress=bar.chunks)
    # The claims this run decides: the check declares their ids (hence the family size and
    # the per-claim level) before it computes; they are compared with the decided ones below.
    args.plan = ClaimPlan()
    run = live.Live(parser.prog, lambda: _banner(args, jax, devices))
    live.arm(run)
    with Watchdog(parser.prog, name, timeout) as dog:
        token = _WATCHDOG.set(dog)
        try:
            report, claims, figure_fn = body(args)
        finally:
            _WATCHDOG.reset(token)
            live.disarm()
    if run._started:
        run.say(f"  done computing in {run.elapsed():.1f} s")
    if not claims:
        raise RuntimeError(f"{name}: the run decided no claim (a check that cannot fail is a "
                           "defect)")
    if not args.plan.declared:
        raise RuntimeError(f"{name}: the check declared no claims (``args.plan.declare(ids)`` "
                           "before computing fixes the family size and the per-claim level)")
    args.plan.verify([c.id for c in claims])
    check_report(report)
    config = report.get("config")
    # ``dict(vars(args))`` holds ``args.batch_options`` (not a flag, not JSON: it carries the
    # progress callback; its devices and chunk size are the config's own flags), the plan and
    # the compile-cache folder (how the run executed, not what it computed).
    internal = ("batch_options", "plan", "compile_cache_dir", "given")
    if isinstance(config, dict) and any(k in config for k in internal):
        report = {**report, "config": {k: v for k, v in config.items() if k not in internal}}
    env = environment()
    full = {"check": name, "version": collapse_jax.__version__, **report,
            "device": env["device"], "versions": env["versions"],
            "compile_cache": getattr(args, "compile_cache_dir", None),
            "claims": [c.to_json() for c in claims]}
    title = (f"{getattr(parser, 'title_name', None) or f'proofs_checks.{name}'}  "
             f"collapse_jax {collapse_jax.__version__}  "
             f"device={env['device']['platform']}  precision={report.get('precision')}")
    ci_note = report.get("ci_note", "")
    print(format_table(title, claims, report.get("timing", {}), ci_note))
    if report.get("summary"):
        print(report["summary"])
    if args.json:
        write_report(args.json, full)
        written.add(args.json)
        print(f"wrote {args.json}")
    curves_path = getattr(args, "curves", None)
    if curves_path:
        write_curves(curves_path, report.get("curves") or {})
        written.add(curves_path)
        print(f"wrote {curves_path}")
    if args.plot:
        figure_fn(args.plot)
        written.add(args.plot)
        print(f"wrote {args.plot}")
    return EXIT_PASS if all(c.passed for c in claims) else EXIT_FAIL
