"""How soon every check says what it will run, against bare interpreter and JAX start-up in
the same run: ``python benchmarks/start_line.py [--checks power_law ...] [--repeat 3]
[--json PATH]``.

For each check, a fresh process runs its default command (``--compile-cache off``, progress
forced to plain lines) and is stopped as soon as its start line (``python -m
proofs_checks.NAME: running: ...``) reaches stderr; the row is the time from launching the
process to that line (the median of ``--repeat`` launches), then the time ``--help`` takes for
every command. The baselines, launched the same way: ``python -c pass`` (the interpreter) and
``python -c "import jax; jax.devices()"`` (what any check must load before it can name the
device), and ``import ml_dtypes`` alone (JAX's dtype extension; its 0.7.0 release costs
0.57-0.87 s to import on the 2-core CI machine, hence ``ml_dtypes<0.7`` in pyproject.toml).
The target (issue 18): the start line within 1 s of launching, ``--help`` under 1 s.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import select
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from proofs_checks._help import COMMANDS  # noqa: E402  (stdlib only: no JAX)

CHECKS = [c for c in COMMANDS if c != "sweep"]  # the sweep starts from a grid file
TIMEOUT_S = 60.0


def _env() -> dict:
    return {**os.environ, "COLLAPSE_JAX_PROGRESS": "1", "COLLAPSE_JAX_WATCHDOG": "0"}


def until_start_line(check: str, extra: tuple[str, ...] = ()) -> float:
    """Seconds from launching ``python -m proofs_checks.CHECK [EXTRA]`` to its start line
    (``SystemExit`` naming the exit code and stderr when none comes)."""
    argv = [sys.executable, "-m", f"proofs_checks.{check}", "--compile-cache", "off", *extra]
    prefix = f"python -m proofs_checks.{check}: running:"
    t0 = time.perf_counter()
    p = subprocess.Popen(argv, cwd=ROOT, env=_env(), stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, start_new_session=True)
    try:
        seen = []
        while time.perf_counter() - t0 < TIMEOUT_S:
            ready, _, _ = select.select([p.stderr], [], [], 0.05)
            if not ready:
                if p.poll() is not None:
                    break
                continue
            line = p.stderr.readline()
            if not line:
                break
            text = line.decode(errors="replace")
            if text.startswith(prefix):
                return time.perf_counter() - t0
            seen.append(text.rstrip())
        try:  # stderr closed: the process is exiting; wait for its code
            code = p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            code = None
        when = f"within {TIMEOUT_S:.0f} s" if code is None else f"(exit {code})"
        raise SystemExit(f"{check}: no start line {when}; stderr: {' | '.join(seen)[-400:]}")
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
        p.wait()
        p.stderr.close()


def wall(argv: list[str]) -> float:
    """Seconds a process takes from launch to exit (it must exit 0)."""
    t0 = time.perf_counter()
    r = subprocess.run(argv, cwd=ROOT, env=_env(), capture_output=True, text=True,
                       timeout=TIMEOUT_S)
    dt = time.perf_counter() - t0
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {r.returncode}: {r.stderr.strip()[-400:]}")
    return dt


def median_of(fn, repeat: int) -> dict:
    xs = [fn() for _ in range(repeat)]
    return {"median_s": statistics.median(xs), "all_s": xs}


def versions() -> dict:
    out = subprocess.run([sys.executable, "-c", "import jax, jaxlib, ml_dtypes, numpy; "
                          "print(jax.__version__, jaxlib.__version__, ml_dtypes.__version__, "
                          "numpy.__version__)"], capture_output=True, text=True, check=True)
    names = ("jax", "jaxlib", "ml_dtypes", "numpy")
    return dict(zip(names, out.stdout.split()))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--checks", nargs="+", default=CHECKS, choices=CHECKS, metavar="NAME",
                    help=f"checks to launch (default all {len(CHECKS)}: {', '.join(CHECKS)})")
    ap.add_argument("--repeat", type=int, default=3, help="launches per row (median; 3)")
    ap.add_argument("--json", default=None, help="write the rows here")
    a = ap.parse_args(argv)
    if a.repeat < 1:
        ap.error(f"--repeat={a.repeat} is invalid: allowed >= 1")
    py = sys.executable
    base = {
        "python -c pass": median_of(lambda: wall([py, "-c", "pass"]), a.repeat),
        "import ml_dtypes": median_of(lambda: wall([py, "-c", "import ml_dtypes"]), a.repeat),
        "import jax; jax.devices()": median_of(
            lambda: wall([py, "-c", "import jax; jax.devices()"]), a.repeat),
    }
    start = {c: median_of(lambda c=c: until_start_line(c), a.repeat) for c in a.checks}
    helps = {c: median_of(lambda c=c: wall([py, "-m", f"proofs_checks.{c}", "--help"]), a.repeat)
             for c in COMMANDS}
    jax_s = base["import jax; jax.devices()"]["median_s"]
    print(f"{'baseline (process to exit)':<34} {'s':>6}")
    for name, r in base.items():
        print(f"{name:<34} {r['median_s']:6.2f}")
    print(f"\n{'check':<22} {'start line s':>12} {'x jax start':>11} {'--help s':>9}")
    for c in COMMANDS:
        s = start.get(c)
        line = f"{s['median_s']:12.2f} {s['median_s'] / jax_s:11.2f}" if s else f"{'-':>12} {'-':>11}"
        print(f"{c:<22} {line} {helps[c]['median_s']:9.3f}")
    worst = max(r["median_s"] for r in start.values())
    worst_help = max(r["median_s"] for r in helps.values())
    ok = worst <= 1.0 and worst_help < 1.0
    print(f"\nslowest start line {worst:.2f} s, slowest --help {worst_help:.3f} s "
          f"(targets: <= 1 s each): {'met' if ok else 'missed'}")
    if a.json:
        Path(a.json).write_text(json.dumps({
            "machine": {"processor": platform.processor() or platform.machine(),
                        "cores": len(os.sched_getaffinity(0)), "versions": versions()},
            "repeat": a.repeat, "baselines": base, "start_line": start, "help": helps,
            "slowest_start_line_s": worst, "slowest_help_s": worst_help, "target_met": ok},
            indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
