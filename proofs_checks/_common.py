"""The report layer every proofs_check shares: claims, verdicts, the table, JSON, exit codes.

Contract (design.md): exit 0 when every claim passes, 1 when any fails, 2 on invalid input
(one line naming the flag, the value and what is allowed; no traceback).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import platform
import sys
import time
import warnings
from collections.abc import Callable
from typing import Literal

import numpy as np

import collapse_jax

RELATIONS = ("equal", "below", "above")


@dataclasses.dataclass
class Claim:
    """One checkable statement and its verdict.

    ``relation='equal'``: passes when ``predicted`` lies inside ``ci``. ``'below'`` /
    ``'above'``: passes when the whole CI lies below / above ``predicted``. In every case the
    CI half-width must not exceed ``max_half_width``, otherwise the run could not discriminate
    and the claim fails with that reason.
    """

    id: str
    statement: str
    predicted: float
    measured: float
    ci: tuple[float, float]
    max_half_width: float
    relation: Literal["equal", "below", "above"] = "equal"
    note: str = ""
    passed: bool = dataclasses.field(init=False)
    reason: str = dataclasses.field(init=False)

    def __post_init__(self):
        lo, hi = (float(v) for v in self.ci)
        half = 0.5 * (hi - lo)
        finite = all(math.isfinite(v) for v in (lo, hi, float(self.measured),
                                                float(self.predicted)))
        if not finite:
            self.passed, self.reason = False, "non-finite estimate (see metrics)"
        elif half > self.max_half_width:
            self.passed = False
            self.reason = (f"CI too wide to discriminate: half-width {half:.3g} > "
                           f"{self.max_half_width:.3g}; add seeds")
        elif self.relation == "equal":
            self.passed = lo <= self.predicted <= hi
            self.reason = "prediction inside CI" if self.passed else "prediction outside CI"
        elif self.relation == "below":
            self.passed = hi < self.predicted
            self.reason = "CI below bound" if self.passed else "CI not below bound"
        else:
            self.passed = lo > self.predicted
            self.reason = "CI above bound" if self.passed else "CI not above bound"

    def to_json(self) -> dict:
        return {"id": self.id, "statement": self.statement, "relation": self.relation,
                "predicted": _num(self.predicted), "measured": _num(self.measured),
                "ci": [_num(self.ci[0]), _num(self.ci[1])],
                "max_half_width": _num(self.max_half_width), "passed": bool(self.passed),
                "reason": self.reason, "note": self.note}


def _num(v):
    v = float(v)
    return v if math.isfinite(v) else None


def to_jsonable(obj):
    """Nested dicts/lists/arrays to plain JSON values (NaN and inf as null)."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return _num(obj)
    return obj


def curve_summary(values) -> dict:
    """Per-generation mean and standard error over seeds (axis 0) of one metric."""
    v = np.asarray(values, dtype=float)
    v = v.reshape(v.shape[0], v.shape[1], -1)
    count = np.sum(np.isfinite(v), axis=0)
    with warnings.catch_warnings():  # all-NaN rows (e.g. no batch at t = 0) stay NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(v, axis=0)
        sd = np.nanstd(v, axis=0, ddof=1) if v.shape[0] > 1 else np.zeros_like(mean)
    se = sd / np.sqrt(np.maximum(count, 1))
    if v.shape[2] == 1:
        mean, se = mean[:, 0], se[:, 0]
    return {"mean": mean, "se": se}


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


class CheckError(ValueError):
    """Invalid command-line input (exit code 2)."""


def fail_arg(flag: str, value, allowed: str):
    raise CheckError(f"{flag}={value!r} is invalid: allowed {allowed}")


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2, no usage dump
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(2)


def base_parser(name: str, description: str, *, seeds: int, generations: int) -> _Parser:
    """Parser with the flags every check shares."""
    p = _Parser(prog=f"python -m proofs_checks.{name}", description=description)
    p.add_argument("--seeds", type=int, default=seeds, help=f"Monte Carlo seeds (default {seeds})")
    p.add_argument("--generations", type=int, default=generations,
                   help=f"generations per run (default {generations})")
    p.add_argument("--quick", action="store_true",
                   help="small configuration that still decides every claim (tests, CI)")
    p.add_argument("--json", metavar="PATH", help="write the report as JSON")
    p.add_argument("--plot", metavar="PATH", help="write the figure (PNG/PDF by extension)")
    p.add_argument("--key", type=int, default=0, help="PRNG seed (default 0)")
    p.add_argument("--chunk-size", type=int, default=None,
                   help="run seeds in chunks of this size, one compiled program for all "
                        "chunks (bounds memory; the same numbers)")
    p.add_argument("--devices", type=int, default=None,
                   help="shard the seed axis across this many devices (default 1)")
    return p


class Progress:
    """Stage messages on a terminal; silent when stderr is not a terminal."""

    def __init__(self, total: int, enabled: bool | None = None):
        self.total, self.done = total, 0
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.t0 = time.perf_counter()

    def chunks(self, done: int, total: int):
        """Chunk-level bar (``batch.options(progress=...)`` calls it after every chunk)."""
        if self.enabled and total > 1:
            el = time.perf_counter() - self.t0
            rate = done / max(el, 1e-9)
            print(f"\r  chunks {done}/{total}  {rate:.2f} chunks/s  {el:6.1f}s", end="",
                  file=sys.stderr, flush=True)
            if done == total:
                print(file=sys.stderr)

    def step(self, label: str):
        self.done += 1
        if self.enabled:
            width = 24
            fill = int(width * self.done / self.total)
            el = time.perf_counter() - self.t0
            print(f"\r[{'#' * fill}{'.' * (width - fill)}] {self.done}/{self.total} "
                  f"{label[:40]:<40} {el:6.1f}s", end="" if self.done < self.total else "\n",
                  file=sys.stderr, flush=True)


def simultaneous_level(n_claims: int, family: float = 0.95) -> float:
    """Per-claim CI level that gives ``family`` coverage over all claims at once
    (Bonferroni): with per-claim 95% intervals a check of 9 exact claims would fail about one
    run in three by chance alone."""
    return 1.0 - (1.0 - family) / max(n_claims, 1)


def format_table(title: str, claims: list[Claim], timing: dict, ci_note: str = "") -> str:
    """The verdict table printed by every check."""
    head = (f"{'id':<4} {'predicted':>11} {'measured':>11} {'CI':>25} {'half-w/max':>17}  "
            "verdict")
    lines = [title] + ([ci_note] if ci_note else []) + ["=" * len(head), head, "-" * len(head)]
    for c in claims:
        rel = {"equal": "", "below": "<", "above": ">"}[c.relation]
        half = 0.5 * (c.ci[1] - c.ci[0])
        lines.append(
            f"{c.id:<4} {rel + _fmt(c.predicted):>11} {_fmt(c.measured):>11} "
            f"{'[' + _fmt(c.ci[0]) + ', ' + _fmt(c.ci[1]) + ']':>25} "
            f"{_fmt(half, 2) + '/' + _fmt(c.max_half_width, 2):>17}  "
            f"{'PASS' if c.passed else 'FAIL'}")
        lines.append(f"     {c.statement}")
        if not c.passed:
            lines.append(f"     -> {c.reason}")
        if c.note:
            lines.append(f"     note: {c.note}")
    lines.append("-" * len(head))
    n_pass = sum(c.passed for c in claims)
    lines.append(f"{n_pass} passed, {len(claims) - n_pass} failed   "
                 f"(compile {timing.get('compile_s', 0):.1f}s, run {timing.get('run_s', 0):.1f}s, "
                 f"{timing.get('seed_generations_per_s', 0):.3g} seed-generations/s)")
    return "\n".join(lines)


def _fmt(v, digits: int = 4) -> str:
    v = float(v)
    if not math.isfinite(v):
        return "nan"
    if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e5):
        return f"{v:.{digits - 1}e}"
    return f"{v:.{digits}f}"


def write_report(path: str, report: dict) -> None:
    with open(path, "w") as f:
        json.dump(to_jsonable(report), f, indent=1, allow_nan=False)


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
    ``precision``, ``timing`` and ``curves``; ``figure_fn(path)`` draws the figure.
    ``wall_time`` prints the total wall time after a run that was not refused.
    """
    t0 = time.perf_counter()
    code = _run_check(name, parser, body, argv)
    if wall_time and code != 2:
        print(f"total wall time {time.perf_counter() - t0:.1f}s")
    return code


def _run_check(name, parser, body, argv) -> int:
    args = parser.parse_args(argv)
    import jax

    from collapse_jax import batch

    batch.maybe_initialize_distributed()
    jax.config.update("jax_enable_x64", True)
    try:
        if getattr(args, "chunk_size", None) is not None and args.chunk_size < 1:
            raise CheckError(f"--chunk-size={args.chunk_size} is invalid: allowed >= 1")
        devices = getattr(args, "devices", None)
        if devices is not None and not 1 <= devices <= jax.device_count():
            raise CheckError(f"--devices={devices} is invalid: allowed 1 .. "
                             f"{jax.device_count()} (devices visible to JAX)")
        bar = Progress(1)
        with batch.options(devices=devices, chunk_size=getattr(args, "chunk_size", None),
                           progress=bar.chunks):
            report, claims, figure_fn = body(args)
    except (CheckError, ValueError) as e:
        if isinstance(e, CheckError) or _is_validation(e):
            print(f"{parser.prog}: error: {e}", file=sys.stderr)
            return 2
        raise
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
        print(f"wrote {args.json}")
    if args.plot:
        figure_fn(args.plot)
        print(f"wrote {args.plot}")
    return 0 if all(c.passed for c in claims) else 1


def _is_validation(e: ValueError) -> bool:
    # Library validation errors name the function first: "fn: arg=value ...".
    msg = str(e)
    return ": " in msg and "=" in msg.split(": ", 1)[1]
