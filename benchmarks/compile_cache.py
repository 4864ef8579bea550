"""A second run of a check through the persistent compilation cache, against the first, in one
benchmark run: ``python benchmarks/compile_cache.py [--check power_law] [--args ...]
[--json PATH]``.

Three fresh processes run the same command: with the cache off, with an empty cache folder
(``cold``: compiles and writes every program) and again with that folder (``warm``: reads
them back). Each row is the wall time of the whole process (import, compile, run, statistics)
and the check's own compile / run split; the target (issue 18) is ``warm <= cold / 2``. The
claims of the three runs are compared: the cache must change no number.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def one(check: str, extra: list[str], cache: str, report: Path) -> dict:
    argv = [sys.executable, "-m", f"proofs_checks.{check}", *extra, "--compile-cache", cache,
            "--json", str(report)]
    t0 = time.perf_counter()
    r = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if r.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(argv)} exited {r.returncode}: {r.stderr.strip()[-500:]}")
    rep = json.loads(report.read_text())
    return {"wall_s": wall, "rc": r.returncode, "timing": rep["timing"],
            "measured": [c["measured"] for c in rep["claims"]]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", default="power_law", help="check name (power_law)")
    ap.add_argument("--args", nargs=argparse.REMAINDER, default=[],
                    help="flags passed to the check (after everything else)")
    ap.add_argument("--json", default=None, help="write the rows here")
    a = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        rows = {"off": one(a.check, a.args, "off", t / "off.json")}
        rows["cold"] = one(a.check, a.args, str(t / "cc"), t / "cold.json")
        rows["warm"] = one(a.check, a.args, str(t / "cc"), t / "warm.json")
        size = sum(p.stat().st_size for p in (t / "cc").rglob("*") if p.is_file())
    same = rows["off"]["measured"] == rows["cold"]["measured"] == rows["warm"]["measured"]
    ratio = rows["warm"]["wall_s"] / rows["cold"]["wall_s"]
    print(f"proofs_checks.{a.check} {' '.join(a.args)}")
    print(f"{'run':<6} {'wall s':>8} {'compile s':>10} {'run s':>8}")
    for name, r in rows.items():
        print(f"{name:<6} {r['wall_s']:8.1f} {r['timing'].get('compile_s', float('nan')):10.1f} "
              f"{r['timing'].get('run_s', float('nan')):8.1f}")
    print(f"warm / cold wall time: {ratio:.2f} (target <= 0.5); cache {size / 1e6:.1f} MB; "
          f"claims identical across the three runs: {same}")
    if a.json:
        Path(a.json).write_text(json.dumps({"check": a.check, "args": a.args, "rows": rows,
                                            "warm_over_cold": ratio, "cache_bytes": size,
                                            "identical": same}, indent=1))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
