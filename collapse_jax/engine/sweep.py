"""Resumable parameter sweeps written incrementally to a results directory.

A sweep is the cartesian product of parameter lists (any array leaves of a kernel's params,
e.g. ``alpha``, ``n``, ``offset`` for the selection kernel). Points run ``batch_points`` at a
time through :func:`collapse_jax.engine.batch.run_sweep` (one compile for every batch: the last batch
is padded), and each finished point is written at once, atomically (a temporary file in the
same folder, then ``os.replace``), as ``DIR/points/point_NNNNN.csv``: long format with
columns ``point``, the parameter names, ``metric``, ``generation``, ``mean``, ``se``,
``count``. ``DIR/config.json`` records the configuration, the grid, versions and device.

``DIR/manifest.json`` (also written atomically, after the point files it lists) holds, for
every finished point, its data-row count and the sha256 of its CSV:
``{"format": 1, "points": {"point_00003.csv": {"rows": R, "sha256": HEX}}}``. A point is
finished only when the manifest lists it and its file matches. Running again on the same
directory verifies every point file against the manifest and recomputes the points whose file
is missing, empty, cut mid-row, or differs in row count or checksum (and files the manifest
does not list); a directory made for another configuration is refused. Ctrl-C raises
:class:`SweepInterrupted` (a ``KeyboardInterrupt``) after recording every point written so
far, so nothing finished is lost.

Read the results with :func:`load_results` (numpy only), which verifies every listed point
and raises :class:`~collapse_jax.core._validate.InvalidInput` naming a damaged file instead of
returning partial rows; or with pandas once verified: ``pandas.concat(map(pandas.read_csv,
sorted(glob(DIR + "/points/*.csv"))))`` (then ``.set_index([...]).to_xarray()``).
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import json
import os
import platform
import secrets
import time
from collections.abc import Callable
from pathlib import Path

import jax
import numpy as np

from collapse_jax import __version__
from collapse_jax.core._validate import InvalidInput
from collapse_jax.engine import batch

#: Metrics summarised per generation when the kernel returns them (others are skipped:
#: matrices such as ``psi`` have no scalar curve).
SCALAR_NDIM = 1
#: File names inside a sweep directory.
CONFIG, MANIFEST, POINTS = "config.json", "manifest.json", "points"
#: Keys of ``config.json`` that define the run (compared on resume).
RECORD_KEYS = ("kernel", "cfg", "grid", "seeds", "silos", "key")


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C during :func:`run_grid`: ``done`` of ``total`` points are finished and recorded
    in ``out_dir``'s manifest; running again on ``out_dir`` resumes."""

    def __init__(self, done: int, total: int, out_dir: str):
        super().__init__(f"interrupted after {done} of {total} points")
        self.done, self.total, self.out_dir = done, total, out_dir


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


def point_name(index: int) -> str:
    """File name of point ``index`` inside ``DIR/points``."""
    return f"point_{index:05d}.csv"


def _point_csv(index: int, point: dict, rows) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["point", *point, "metric", "generation", "mean", "se", "count"])
    for name, g, m, se, c in rows:
        w.writerow([index, *point.values(), name, g, repr(m), repr(se), c])
    return buf.getvalue().encode()


def _atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` through a temporary file in the same folder, then ``os.replace``: a
    reader (or a resume after a crash) never sees a partial file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "xb") as f:  # "x": never another writer's file; mode from the umask
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _entry(data: bytes) -> dict:
    return {"rows": data.count(b"\n") - 1, "sha256": hashlib.sha256(data).hexdigest()}


def _damage(data: bytes | None, entry) -> str | None:
    """Why a point file's bytes do not match its manifest entry (``None`` when they do)."""
    if data is None:
        return "missing"
    if not data:
        return "empty"
    if not data.endswith(b"\n"):
        return "cut mid-row"
    if not isinstance(entry, dict):
        return "not in the manifest"
    rows = data.count(b"\n") - 1
    if rows != entry.get("rows"):
        return f"{rows} rows, manifest says {entry.get('rows')!r}"
    if hashlib.sha256(data).hexdigest() != entry.get("sha256"):
        return "checksum differs from the manifest"
    return None


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def read_manifest(out_dir: str | os.PathLike) -> dict[str, dict]:
    """``{file name: {"rows", "sha256"}}`` of the finished points of a sweep directory.

    Raises :class:`InvalidInput` naming ``manifest.json`` when it is missing or unreadable.
    """
    path = Path(out_dir) / MANIFEST
    try:
        man = json.loads(path.read_text())
    except FileNotFoundError:
        raise InvalidInput(f"{path} is missing: {str(out_dir)!r} is not a sweep directory "
                           "written by this version (resume it to rebuild the manifest)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InvalidInput(f"{path} is unreadable ({_reason(e)}); resume the sweep to "
                           "verify and recompute its points") from None
    points = man.get("points") if isinstance(man, dict) else None
    if not isinstance(points, dict) or not all(isinstance(v, dict) for v in points.values()):
        raise InvalidInput(f"{path} is corrupt (no 'points' table); resume the sweep to "
                           "verify and recompute its points")
    return points


def _reason(e: BaseException) -> str:
    return " ".join(str(getattr(e, "strerror", None) or e).split())


#: Settings added after sweeps were first recorded, with the value older records mean
#: (a record that lacks one resumes when the run holds that value).
ADDED_DEFAULTS = {"sampler": "rows"}


def without_added_defaults(rebuilt, stored):
    """``rebuilt`` (a record's value: a dict of settings, or anything) without the settings
    the ``stored`` one lacks where they hold the value an older record meant
    (:data:`ADDED_DEFAULTS`)."""
    if not isinstance(rebuilt, dict) or not isinstance(stored, dict):
        return rebuilt
    return {k: v for k, v in rebuilt.items()
            if k in stored or k not in ADDED_DEFAULTS or v != ADDED_DEFAULTS[k]}


def _prepare(out: Path, record: dict, extra: dict | None) -> None:
    """Create ``out`` with its ``config.json``, or check that it holds this very sweep."""
    if out.exists() and not out.is_dir():
        raise InvalidInput(f"run_grid: out_dir={str(out)!r} is a file; allowed a directory")
    cfg_path = out / CONFIG
    if cfg_path.exists():
        try:
            old = json.loads(cfg_path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise InvalidInput(f"run_grid: {cfg_path} is corrupt ({_reason(e)}); "
                               "use a new directory") from None
        if not isinstance(old, dict) or any(k not in old for k in RECORD_KEYS):
            raise InvalidInput(f"run_grid: {cfg_path} is incomplete (needs "
                               f"{', '.join(RECORD_KEYS)}); use a new directory")
        now = json.loads(json.dumps(record))
        if any(old[k] != without_added_defaults(now[k], old[k]) for k in record):
            raise InvalidInput(f"run_grid: out_dir={str(out)!r} holds a sweep with another "
                               "configuration; use a new directory")
    else:
        dev = jax.devices()[0]
        meta = {**{k: v for k, v in (extra or {}).items() if k not in RECORD_KEYS},
                **record, "versions": {"collapse_jax": __version__, "jax": jax.__version__,
                                       "numpy": np.__version__,
                                       "python": platform.python_version()},
                "device": {"platform": dev.platform, "kind": dev.device_kind,
                           "count": jax.device_count(), "processes": jax.process_count()},
                "created": time.strftime("%Y-%m-%dT%H:%M:%S")}
        try:
            out.mkdir(parents=True, exist_ok=True)
            _atomic_write(cfg_path, json.dumps(meta, indent=1).encode())
        except OSError as e:
            raise InvalidInput(f"run_grid: out_dir={str(out)!r} cannot be written "
                               f"({_reason(e)})") from None
    try:
        (out / POINTS).mkdir(exist_ok=True)
    except OSError as e:
        raise InvalidInput(f"run_grid: {out / POINTS} cannot be created ({_reason(e)})") from None
    for stale in (out / POINTS).glob(".point_*.tmp"):  # left by a killed writer
        stale.unlink(missing_ok=True)


def run_grid(kernel, key_seed: int, cfg, make_params: Callable[..., object],
             grid: dict[str, list], *, seeds: int, out_dir: str | os.PathLike,
             silos: int = 1, batch_points: int = 8, kernel_name: str | None = None,
             progress: Callable[[int, int, float], None] | None = None,
             stop_after: int | None = None, extra: dict | None = None,
             options: batch.Options | None = None) -> dict:
    """Run (or resume) a sweep; returns ``{"done", "computed", "total", "recomputed"}``.

    ``done`` and ``computed`` are point indices (finished, and computed by this call);
    ``recomputed`` maps each point whose file was damaged (missing, empty, cut mid-row, wrong
    row count or checksum, not in the manifest) to the reason; those points are among
    ``computed`` once they ran. ``make_params(**point_lists)`` builds the vmappable params
    from lists of values (e.g. ``lambda **kw: selection_params(cfg, **kw)``).
    ``progress(done, total, points_per_s)`` is called after every batch, once its points are
    recorded. ``stop_after`` stops after that many batches (to test resuming). ``extra`` is
    stored in a new ``config.json`` beside the run's record but not compared on resume (the
    command line keeps its flags there). ``options`` (:class:`batch.Options`) sets the devices
    and chunk size of every batch. Ctrl-C raises :class:`SweepInterrupted` after recording
    every finished point.
    """
    out = Path(out_dir)
    points = grid_points(grid)
    record = {"kernel": kernel_name or getattr(kernel, "__name__", str(kernel)),
              "cfg": {k: v for k, v in cfg._asdict().items()}, "grid": grid, "seeds": seeds,
              "silos": silos, "key": key_seed}
    if not batch.is_primary():
        # several processes: process 0 reads and writes the folder; this one computes the
        # same batches in lockstep (the points to run come from process 0)
        return _follow(kernel, key_seed, cfg, make_params, grid, points, seeds, silos,
                       batch_points, stop_after, options)
    try:
        _prepare(out, record, extra)
    except InvalidInput:
        batch.broadcast(np.full(len(points) + 1, -1, np.int64))  # the others stop too
        raise
    pdir = out / POINTS
    index = {point_name(i): i for i in range(len(points))}
    unlisted = "not in the manifest"
    try:
        manifest = read_manifest(out) if (out / MANIFEST).exists() else {}
    except InvalidInput:
        manifest = {}  # unreadable: no file can be trusted, each one is recomputed below
        unlisted = f"{MANIFEST} unreadable"
    recomputed: dict[int, str] = {}
    todo = []
    for name, i in index.items():
        data = _read(pdir / name)
        if data is None and name not in manifest:
            todo.append(i)  # never started
        elif (why := _damage(data, manifest.get(name))) is not None:
            recomputed[i] = unlisted if why == "not in the manifest" else why
            todo.append(i)
    manifest = {k: v for k, v in manifest.items() if k in index and index[k] not in recomputed}
    batch.broadcast(_todo_mask(todo, len(points)))
    _atomic_write(out / MANIFEST, _manifest_bytes(manifest))
    computed: list[int] = []
    key = jax.random.key(key_seed)
    t0 = time.perf_counter()
    try:
        for idx in _batches(todo, batch_points, stop_after):
            metrics = _run_batch(kernel, key, cfg, make_params, grid, points, idx,
                                 batch_points, seeds, silos, options)
            for p, i in enumerate(idx):
                data = _point_csv(i, points[i], _summaries(metrics, p))
                _atomic_write(pdir / point_name(i), data)
                manifest[point_name(i)] = _entry(data)
                computed.append(i)
            _atomic_write(out / MANIFEST, _manifest_bytes(manifest))
            if progress is not None:
                progress(len(manifest), len(points), len(computed) / (time.perf_counter() - t0))
    except KeyboardInterrupt:
        _atomic_write(out / MANIFEST, _manifest_bytes(manifest))  # every point written so far
        raise SweepInterrupted(len(manifest), len(points), str(out)) from None
    return {"done": sorted(index[k] for k in manifest), "computed": computed,
            "total": len(points), "recomputed": recomputed}


def _todo_mask(todo: list[int], total: int) -> np.ndarray:
    """``[1, m_0, .., m_{P-1}]`` with ``m_i = 1`` for a point to compute (``[-1, ...]``: the
    run was refused)."""
    mask = np.zeros(total + 1, np.int64)
    mask[0] = 1
    mask[1 + np.asarray(todo, np.int64)] = 1
    return mask


def _batches(todo: list[int], batch_points: int, stop_after: int | None) -> list[list[int]]:
    """The batches of points a run computes, the same in every process."""
    out = [todo[i:i + batch_points] for i in range(0, len(todo), batch_points)]
    return out if stop_after is None else out[:stop_after]


def _run_batch(kernel, key, cfg, make_params, grid, points, idx, batch_points, seeds, silos,
               options) -> dict:
    """Metrics of the points ``idx``, padded with the last one to ``batch_points`` (one
    compiled program serves every batch)."""
    padded = idx + [idx[-1]] * (batch_points - len(idx))
    lists = {k: [points[i][k] for i in padded] for k in grid}
    return batch.run_sweep(kernel, key, make_params(**lists), cfg, seeds=seeds, silos=silos,
                           options=options)[1]


def _follow(kernel, key_seed, cfg, make_params, grid, points, seeds, silos, batch_points,
            stop_after, options) -> dict:
    """A process other than 0 of a multi-process sweep: run the batches process 0 runs (its
    points to compute, broadcast), write nothing."""
    mask = batch.broadcast(np.zeros(len(points) + 1, np.int64))
    if mask[0] < 0:
        raise InvalidInput("run_grid: process 0 refused the sweep folder (its message says "
                           "why); nothing was computed")
    todo = [i for i in range(len(points)) if mask[1 + i]]
    key = jax.random.key(key_seed)
    for idx in _batches(todo, batch_points, stop_after):
        _run_batch(kernel, key, cfg, make_params, grid, points, idx, batch_points, seeds, silos,
                   options)
    return {"done": [], "computed": todo, "total": len(points), "recomputed": {}}


def _manifest_bytes(manifest: dict) -> bytes:
    return json.dumps({"format": 1, "points": dict(sorted(manifest.items()))},
                      indent=1).encode()


def verify(out_dir: str | os.PathLike) -> dict[str, str]:
    """``{file name: reason}`` of every damaged point file the manifest lists (empty when all
    match). Raises :class:`InvalidInput` when the manifest itself is missing or unreadable."""
    pdir = Path(out_dir) / POINTS
    return {name: why for name, entry in read_manifest(out_dir).items()
            if (why := _damage(_read(pdir / name), entry)) is not None}


def load_results(out_dir: str | os.PathLike) -> dict[str, np.ndarray]:
    """All finished points as column arrays (numpy only; pandas reads the same files).

    Every point the manifest lists is verified first (row count and sha256); a missing,
    empty, truncated or altered file raises :class:`InvalidInput` naming it, never partial
    rows. Point files the manifest does not list are unfinished and left out.
    """
    pdir = Path(out_dir) / POINTS
    cols: dict[str, list] = {}
    for name, entry in sorted(read_manifest(out_dir).items()):
        data = _read(pdir / name)
        why = _damage(data, entry)
        if why is not None:
            raise InvalidInput(f"load_results: {pdir / name} is damaged ({why}); resume the "
                               "sweep (python -m proofs_checks.sweep --resume "
                               f"{out_dir}) to recompute it")
        for row in csv.DictReader(io.StringIO(data.decode())):
            for k, v in row.items():
                cols.setdefault(k, []).append(v)
    out = {}
    for k, v in cols.items():
        try:
            out[k] = np.asarray(v, dtype=float)
        except ValueError:
            out[k] = np.asarray(v)
    return out
