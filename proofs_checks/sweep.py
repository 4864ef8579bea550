"""Resumable parameter sweeps of the simulation kernels over a grid.

``python -m proofs_checks.sweep --out DIR --alpha 0.1 0.25 0.5 --offset 0 1 --n 200 400``
runs the cartesian grid of the power-law (Gaussian selection) kernel;
``python -m proofs_checks.sweep --kernel knowledge_center --out DIR --delta 0 0.5 1 --r 0.1 0.5``
runs the verifier-filtered retraining kernel over ``(delta, r, sigma, sigma_c, verify)``.
One compile serves every point. Each finished point is written at once as a CSV in
``DIR/points/`` plus ``DIR/config.json``; ``python -m proofs_checks.sweep --resume DIR``
continues an interrupted sweep (of either kernel) without recomputing finished points. Each
CSV holds the per-generation mean and standard error over seeds of every metric (long
format; pandas and xarray read it).
"""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path

from ._common import CheckError, _Parser

PROG = "python -m proofs_checks.sweep"


KERNELS = ("power_law", "knowledge_center")


def build_parser():
    p = _Parser(prog=PROG, description=__doc__.split("\n")[0])
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--out", metavar="DIR", help="new results directory")
    where.add_argument("--resume", metavar="DIR", help="continue the sweep stored in DIR")
    p.add_argument("--kernel", default="power_law", choices=KERNELS,
                   help="power_law (Gaussian selection, default) or knowledge_center "
                        "(verifier-filtered regression)")
    g = p.add_argument_group("power_law grid (lists) and structure")
    g.add_argument("--alpha", type=float, nargs="+", default=[0.25])
    g.add_argument("--n", type=int, nargs="+", default=None,
                   help="power_law: kept points per generation, a list (200); "
                        "knowledge_center: synthetic rows per direction, one value (2000)")
    g.add_argument("--offset", type=float, nargs="+", default=[0.0])
    g.add_argument("--fixed-scale", type=float, nargs="+", default=[1.0])
    g.add_argument("--dim", type=int, default=1)
    g.add_argument("--metric", default="current-fit", choices=("current-fit", "fixed",
                                                                "euclidean"))
    g.add_argument("--truth", default="standard", choices=("standard", "random"))
    g.add_argument("--estimator", default="mle", choices=("mle", "unbiased"))
    v = p.add_argument_group("knowledge_center grid (lists) and structure")
    v.add_argument("--delta", type=float, nargs="+", default=[0.5])
    v.add_argument("--r", type=float, nargs="+", default=[0.2])
    v.add_argument("--sigma", type=float, nargs="+", default=[1.0])
    v.add_argument("--sigma-c", type=float, nargs="+", default=[0.5])
    v.add_argument("--verify", type=int, nargs="+", default=[1], choices=(0, 1),
                   help="1 with the verifier, 0 without; '1 0' sweeps both")
    v.add_argument("--p", type=int, default=5)
    v.add_argument("--n0", type=int, default=20)
    v.add_argument("--design", default="block", choices=("block", "isotropic"))
    c = p.add_argument_group("common")
    c.add_argument("--generations", "--rounds", dest="generations", type=int, default=None,
                   help="generations (power_law, 200) or rounds (knowledge_center, 30)")
    c.add_argument("--paradigm", default=None,
                   choices=("accumulate", "replace", "accumulate-subsample"),
                   help="power_law: accumulate (default), replace, accumulate-subsample; "
                        "knowledge_center: replace (default) or accumulate")
    c.add_argument("--precision", default="float64", choices=("float64", "float32"))
    c.add_argument("--seeds", type=int, default=1000)
    c.add_argument("--silos", type=int, default=1)
    c.add_argument("--key", type=int, default=0)
    c.add_argument("--batch-points", type=int, default=8,
                   help="grid points vmapped together (one compile for all batches)")
    c.add_argument("--chunk-size", type=int, default=None)
    c.add_argument("--devices", type=int, default=None)
    return p


def _check_lists(checks) -> None:
    for flag, vals, ok, allowed in checks:
        for v in vals:
            if not ok(v):
                raise CheckError(f"{flag}={v!r} is invalid: allowed {allowed}")


def _power_law_settings(a) -> tuple[dict, dict]:
    n = [200] if a.n is None else a.n
    a.generations = 200 if a.generations is None else a.generations
    _check_lists((
        ("--alpha", a.alpha, lambda v: 0 < v <= 1, "(0, 1]"),
        ("--n", n, lambda v: v >= a.dim + 1, f">= dim + 1 = {a.dim + 1}"),
        ("--offset", a.offset, lambda v: v >= 0 and math.isfinite(v), ">= 0"),
        ("--fixed-scale", a.fixed_scale, lambda v: v > 0 and math.isfinite(v), "> 0")))
    if a.dim < 1:
        raise CheckError(f"--dim={a.dim!r} is invalid: allowed >= 1")
    from collapse_jax.loops import selection_config

    cfg = selection_config(dim=a.dim, n=max(n), n_max=max(n), alpha=max(a.alpha),
                           alpha_min=min(a.alpha), generations=a.generations,
                           paradigm=a.paradigm or "accumulate", metric=a.metric,
                           truth=a.truth, estimator=a.estimator, precision=a.precision)
    grid = {"alpha": a.alpha, "n": [float(v) for v in n], "offset": a.offset,
            "fixed_scale": a.fixed_scale}
    return cfg._asdict(), grid


def _knowledge_center_settings(a) -> tuple[dict, dict]:
    n = [2000] if a.n is None else a.n
    if len(n) != 1:
        raise CheckError(f"--n={n!r} is invalid: allowed one value for --kernel "
                         "knowledge_center (rows per direction are static structure)")
    if a.paradigm not in (None, "replace", "accumulate"):
        raise CheckError(f"--paradigm={a.paradigm!r} is invalid: allowed replace or "
                         "accumulate for --kernel knowledge_center")
    a.generations = 30 if a.generations is None else a.generations
    _check_lists((
        ("--delta", a.delta, lambda v: v >= 0 and math.isfinite(v), ">= 0"),
        ("--r", a.r, lambda v: v >= 0 and math.isfinite(v), ">= 0"),
        ("--sigma", a.sigma, lambda v: v > 0 and math.isfinite(v), "> 0"),
        ("--sigma-c", a.sigma_c, lambda v: v >= 0 and math.isfinite(v), ">= 0")))
    from collapse_jax.verifier_loop import verifier_config

    cfg = verifier_config(p=a.p, n0=a.n0, n=n[0], rounds=a.generations, design=a.design,
                          paradigm=a.paradigm or "replace", precision=a.precision)
    grid = {"delta": a.delta, "r": a.r, "sigma": a.sigma, "sigma_c": a.sigma_c,
            "verify": [float(v) for v in a.verify]}
    return cfg._asdict(), grid


def _settings(a) -> dict:
    if a.resume:
        cfg_path = Path(a.resume) / "config.json"
        if not cfg_path.exists():
            raise CheckError(f"--resume={a.resume!r} is invalid: allowed a directory made by "
                             "--out (no config.json there)")
        meta = json.loads(cfg_path.read_text())
        kernel = {"selection_kernel": "power_law",
                  "verifier_kernel": "knowledge_center"}.get(meta["kernel"])
        if kernel is None:
            raise CheckError(f"--resume={a.resume!r} is invalid: its kernel "
                             f"{meta['kernel']!r} is not one of {', '.join(KERNELS)}")
        return dict(kernel=kernel, out=a.resume, grid=meta["grid"], seeds=meta["seeds"],
                    silos=meta["silos"], key=meta["key"], cfg=meta["cfg"])
    for flag, v, lo in (("--seeds", a.seeds, 2), ("--silos", a.silos, 1),
                        ("--generations", a.generations, 2),
                        ("--batch-points", a.batch_points, 1)):
        if v is not None and v < lo:
            raise CheckError(f"{flag}={v!r} is invalid: allowed >= {lo}")
    if Path(a.out).exists() and any(Path(a.out).iterdir()):
        raise CheckError(f"--out={a.out!r} is invalid: allowed a new or empty directory "
                         "(use --resume to continue a sweep)")
    build = _power_law_settings if a.kernel == "power_law" else _knowledge_center_settings
    cfg, grid = build(a)
    return dict(kernel=a.kernel, out=a.out, grid=grid, seeds=a.seeds, silos=a.silos,
                key=a.key, cfg=cfg)


def _kernel(name: str, cfg_dict: dict):
    """``(kernel, cfg, make_params, kernel_name)`` of a sweep."""
    if name == "power_law":
        from collapse_jax.loops import SelectionConfig, selection_kernel, selection_params

        cfg = SelectionConfig(**cfg_dict)
        return (selection_kernel, cfg, lambda **kw: selection_params(cfg, **kw),
                "selection_kernel")
    from collapse_jax.verifier_loop import VerifierConfig, verifier_kernel, verifier_params

    cfg = VerifierConfig(**cfg_dict)

    def make(verify, **kw):
        return verifier_params(cfg, verify=[bool(v) for v in verify], **kw)

    return verifier_kernel, cfg, make, "verifier_kernel"


def main(argv=None) -> int:
    a = build_parser().parse_args(argv)
    import jax

    jax.config.update("jax_enable_x64", True)
    from collapse_jax import batch, sweep

    try:
        s = _settings(a)
        kernel, cfg, make_params, kernel_name = _kernel(s["kernel"], s["cfg"])
        t0 = time.perf_counter()
        tty = sys.stderr.isatty()

        def progress(done, total, rate):
            if tty:
                print(f"\r  points {done}/{total}  {rate:.2f} points/s  "
                      f"{time.perf_counter() - t0:6.1f}s", end="", file=sys.stderr, flush=True)

        with batch.options(devices=a.devices, chunk_size=a.chunk_size):
            res = sweep.run_grid(kernel, s["key"], cfg, make_params, s["grid"],
                                 seeds=s["seeds"], silos=s["silos"], out_dir=s["out"],
                                 batch_points=a.batch_points, kernel_name=kernel_name,
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
