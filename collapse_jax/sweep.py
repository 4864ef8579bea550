"""Resumable parameter sweeps written incrementally to a results directory.

A sweep is the cartesian product of parameter lists (any array leaves of a kernel's params,
e.g. ``alpha``, ``n``, ``offset`` for the selection kernel). Points run ``batch_points`` at a
time through :func:`collapse_jax.batch.run_sweep` (one compile for every batch: the last batch
is padded), and each finished point is written at once, atomically, as
``DIR/points/point_NNNNN.csv``: long format with columns ``point``, the parameter names,
``metric``, ``generation``, ``mean``, ``se``, ``count``. ``DIR/config.json`` records the
configuration, the grid, versions and device. Running again on the same directory skips the
finished points, so an interrupted sweep resumes where it stopped; a directory made for another
configuration is refused.

Read the results with pandas: ``pandas.concat(map(pandas.read_csv, sorted(glob(DIR +
"/points/*.csv"))))`` (then ``.set_index([...]).to_xarray()`` for xarray), or with
:func:`load_results`, which needs only numpy.
"""

from __future__ import annotations

import csv
import itertools
import json
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path

import jax
import numpy as np

from . import __version__, batch
from ._validate import InvalidInput

#: Metrics summarised per generation when the kernel returns them (others are skipped:
#: matrices such as ``psi`` have no scalar curve).
SCALAR_NDIM = 1


def grid_points(grid: dict[str, list]) -> list[dict]:
    """Cartesian product of a ``{name: values}`` grid, in a fixed order."""
    if not grid:
        raise InvalidInput("grid_points: grid is empty; give at least one parameter list")
    names = list(grid)
    for k, v in grid.items():
        if len(v) == 0:
            raise InvalidInput(f"grid_points: grid[{k!r}] is empty")
    return [dict(zip(names, combo)) for combo in itertools.product(*(grid[k] for k in names))]


def _summaries(metrics: dict, p: int) -> list[tuple[str, int, float, float, int]]:
    rows = []
    for name, v in metrics.items():
        v = np.asarray(v)[p]
        v = v.reshape((-1,) + v.shape[2:])  # seeds x silos -> replicates
        if v.ndim != 1 + SCALAR_NDIM:
            continue
        finite = np.isfinite(v)
        count = finite.sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(count > 0, np.nansum(v, axis=0) / np.maximum(count, 1), np.nan)
            var = np.nansum((v - mean) ** 2, axis=0) / np.maximum(count - 1, 1)
            se = np.sqrt(var / np.maximum(count, 1))
        rows += [(name, g, float(mean[g]), float(se[g]), int(count[g]))
                 for g in range(v.shape[1])]
    return rows


def _write_point(path: Path, index: int, point: dict, rows) -> None:
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["point", *point, "metric", "generation", "mean", "se", "count"])
        for name, g, m, se, c in rows:
            w.writerow([index, *point.values(), name, g, repr(m), repr(se), c])
    os.replace(tmp, path)


def run_grid(kernel, key_seed: int, cfg, make_params: Callable[..., object],
             grid: dict[str, list], *, seeds: int, out_dir: str | os.PathLike,
             silos: int = 1, batch_points: int = 8, kernel_name: str | None = None,
             progress: Callable[[int, int, float], None] | None = None,
             stop_after: int | None = None) -> dict:
    """Run (or resume) a sweep; returns ``{"done": [...], "computed": [...]}`` point indices.

    ``make_params(**point_lists)`` builds the vmappable params from lists of values (e.g.
    ``lambda **kw: selection_params(cfg, **kw)``). ``progress(done, total, points_per_s)`` is
    called after every batch. ``stop_after`` stops after that many batches (to test resuming).
    """
    out = Path(out_dir)
    points = grid_points(grid)
    record = {"kernel": kernel_name or getattr(kernel, "__name__", str(kernel)),
              "cfg": {k: v for k, v in cfg._asdict().items()}, "grid": grid, "seeds": seeds,
              "silos": silos, "key": key_seed}
    cfg_path = out / "config.json"
    if cfg_path.exists():
        old = json.loads(cfg_path.read_text())
        if {k: old.get(k) for k in record} != json.loads(json.dumps(record)):
            raise InvalidInput(f"run_grid: out_dir={str(out)!r} holds a sweep with another "
                             "configuration; use a new directory")
    else:
        (out / "points").mkdir(parents=True, exist_ok=True)
        dev = jax.devices()[0]
        meta = {**record, "versions": {"collapse_jax": __version__, "jax": jax.__version__,
                                       "numpy": np.__version__,
                                       "python": platform.python_version()},
                "device": {"platform": dev.platform, "kind": dev.device_kind,
                           "count": jax.device_count()},
                "created": time.strftime("%Y-%m-%dT%H:%M:%S")}
        cfg_path.write_text(json.dumps(meta, indent=1))
    (out / "points").mkdir(parents=True, exist_ok=True)

    def path(i):
        return out / "points" / f"point_{i:05d}.csv"

    todo = [i for i in range(len(points)) if not path(i).exists()]
    computed = []
    key = jax.random.key(key_seed)
    batches = [todo[i:i + batch_points] for i in range(0, len(todo), batch_points)]
    t0 = time.perf_counter()
    for b, idx in enumerate(batches):
        if stop_after is not None and b >= stop_after:
            break
        padded = idx + [idx[-1]] * (batch_points - len(idx))
        lists = {k: [points[i][k] for i in padded] for k in grid}
        _, metrics = batch.run_sweep(kernel, key, make_params(**lists), cfg, seeds=seeds,
                                     silos=silos)
        for p, i in enumerate(idx):
            _write_point(path(i), i, points[i], _summaries(metrics, p))
            computed.append(i)
        if progress is not None:
            progress(len(points) - len(todo) + len(computed), len(points),
                     len(computed) / (time.perf_counter() - t0))
    done = [i for i in range(len(points)) if path(i).exists()]
    return {"done": done, "computed": computed, "total": len(points)}


def load_results(out_dir: str | os.PathLike) -> dict[str, np.ndarray]:
    """All finished points as column arrays (numpy only; pandas reads the same files)."""
    files = sorted((Path(out_dir) / "points").glob("point_*.csv"))
    cols: dict[str, list] = {}
    for f in files:
        with open(f, newline="") as fh:
            for row in csv.DictReader(fh):
                for k, v in row.items():
                    cols.setdefault(k, []).append(v)
    out = {}
    for k, v in cols.items():
        try:
            out[k] = np.asarray(v, dtype=float)
        except ValueError:
            out[k] = np.asarray(v)
    return out
