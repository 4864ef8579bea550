"""Resumable sweep of the Gaussian selection (power-law) kernel over a parameter grid.

``python -m proofs_checks.sweep --out DIR --alpha 0.1 0.25 0.5 --offset 0 1 --n 200 400``
runs the cartesian grid (one compile for all points) and writes one CSV per finished point to
``DIR/points/`` plus ``DIR/config.json``; ``python -m proofs_checks.sweep --resume DIR``
continues an interrupted sweep without recomputing finished points. Each CSV holds the
per-generation mean and standard error over seeds of every metric (long format; pandas and
xarray read it).
"""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path

from ._common import CheckError, _Parser

PROG = "python -m proofs_checks.sweep"


def build_parser():
    p = _Parser(prog=PROG, description=__doc__.split("\n")[0])
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--out", metavar="DIR", help="new results directory")
    where.add_argument("--resume", metavar="DIR", help="continue the sweep stored in DIR")
    p.add_argument("--alpha", type=float, nargs="+", default=[0.25])
    p.add_argument("--n", type=int, nargs="+", default=[200])
    p.add_argument("--offset", type=float, nargs="+", default=[0.0])
    p.add_argument("--fixed-scale", type=float, nargs="+", default=[1.0])
    p.add_argument("--dim", type=int, default=1)
    p.add_argument("--generations", type=int, default=200)
    p.add_argument("--paradigm", default="accumulate",
                   choices=("accumulate", "replace", "accumulate-subsample"))
    p.add_argument("--metric", default="current-fit", choices=("current-fit", "fixed",
                                                                "euclidean"))
    p.add_argument("--truth", default="standard", choices=("standard", "random"))
    p.add_argument("--estimator", default="mle", choices=("mle", "unbiased"))
    p.add_argument("--precision", default="float64", choices=("float64", "float32"))
    p.add_argument("--seeds", type=int, default=1000)
    p.add_argument("--silos", type=int, default=1)
    p.add_argument("--key", type=int, default=0)
    p.add_argument("--batch-points", type=int, default=8,
                   help="grid points vmapped together (one compile for all batches)")
    p.add_argument("--chunk-size", type=int, default=None)
    p.add_argument("--devices", type=int, default=None)
    return p


def _settings(a) -> dict:
    if a.resume:
        cfg_path = Path(a.resume) / "config.json"
        if not cfg_path.exists():
            raise CheckError(f"--resume={a.resume!r} is invalid: allowed a directory made by "
                             "--out (no config.json there)")
        meta = json.loads(cfg_path.read_text())
        c, g = meta["cfg"], meta["grid"]
        return dict(out=a.resume, grid=g, seeds=meta["seeds"], silos=meta["silos"],
                    key=meta["key"], cfg=c)
    for flag, vals, ok, allowed in (
            ("--alpha", a.alpha, lambda v: 0 < v <= 1, "(0, 1]"),
            ("--n", a.n, lambda v: v >= a.dim + 1, f">= dim + 1 = {a.dim + 1}"),
            ("--offset", a.offset, lambda v: v >= 0 and math.isfinite(v), ">= 0"),
            ("--fixed-scale", a.fixed_scale, lambda v: v > 0, "> 0")):
        for v in vals:
            if not ok(v):
                raise CheckError(f"{flag}={v!r} is invalid: allowed {allowed}")
    for flag, v, lo in (("--seeds", a.seeds, 2), ("--silos", a.silos, 1),
                        ("--generations", a.generations, 2), ("--batch-points", a.batch_points,
                                                              1), ("--dim", a.dim, 1)):
        if v < lo:
            raise CheckError(f"{flag}={v!r} is invalid: allowed >= {lo}")
    if Path(a.out).exists() and any(Path(a.out).iterdir()):
        raise CheckError(f"--out={a.out!r} is invalid: allowed a new or empty directory "
                         "(use --resume to continue a sweep)")
    from collapse_jax.loops import selection_config

    cfg = selection_config(dim=a.dim, n=max(a.n), n_max=max(a.n), alpha=max(a.alpha),
                           alpha_min=min(a.alpha), generations=a.generations,
                           paradigm=a.paradigm, metric=a.metric, truth=a.truth,
                           estimator=a.estimator, precision=a.precision)
    grid = {"alpha": a.alpha, "n": [float(v) for v in a.n], "offset": a.offset,
            "fixed_scale": a.fixed_scale}
    return dict(out=a.out, grid=grid, seeds=a.seeds, silos=a.silos, key=a.key,
                cfg=cfg._asdict())


def main(argv=None) -> int:
    a = build_parser().parse_args(argv)
    import jax

    jax.config.update("jax_enable_x64", True)
    from collapse_jax import batch, sweep
    from collapse_jax.loops import SelectionConfig, selection_kernel, selection_params

    try:
        s = _settings(a)
        cfg = SelectionConfig(**s["cfg"])
        t0 = time.perf_counter()
        tty = sys.stderr.isatty()

        def progress(done, total, rate):
            if tty:
                print(f"\r  points {done}/{total}  {rate:.2f} points/s  "
                      f"{time.perf_counter() - t0:6.1f}s", end="", file=sys.stderr, flush=True)

        with batch.options(devices=a.devices, chunk_size=a.chunk_size):
            res = sweep.run_grid(selection_kernel, s["key"], cfg,
                                 lambda **kw: selection_params(cfg, **kw), s["grid"],
                                 seeds=s["seeds"], silos=s["silos"], out_dir=s["out"],
                                 batch_points=a.batch_points, kernel_name="selection_kernel",
                                 progress=progress)
    except (CheckError, ValueError) as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    if tty:
        print(file=sys.stderr)
    print(f"{len(res['done'])}/{res['total']} points in {s['out']} "
          f"({len(res['computed'])} computed now, {time.perf_counter() - t0:.1f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
