"""Reading the generations of a recursive-generation pipeline (and a reference set).

Accepted layouts of ``PATH``:

* an ``.npz`` archive whose arrays are named ``gen_0``, ``gen_1``, ... (each ``(samples,
  features)``);
* a directory of ``.npy`` files whose names end in the generation number (``round_0.npy``,
  ``round_12.npy``); they are memory-mapped, so a generation is read chunk by chunk;
* a ``.csv`` table with a ``generation`` column and one numeric column per feature;
* a ``.parquet`` table laid out like the CSV (needs pandas and pyarrow).

Every problem raises :class:`InvalidInput` with one line naming the file and what is wrong.
Generations are loaded one at a time (:meth:`Generations.load`), so only one generation's
samples need to be in memory.
"""

from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass, field

import numpy as np

from collapse_jax.core._errors import InvalidInput

_GEN_KEY = re.compile(r"^gen_(\d+)$")
_TRAILING_NUMBER = re.compile(r"(\d+)\.npy$", re.IGNORECASE)
#: rows per chunk when a generation is scanned for NaN / inf
_SCAN_ROWS = 65536


@dataclass
class Generations:
    """The generations found at ``path``: ``numbers[i]`` is the generation of ``loaders[i]``."""

    path: str
    layout: str
    numbers: list[int]
    loaders: list = field(repr=False)
    shapes: list[tuple[int, int]]

    def __len__(self) -> int:
        return len(self.numbers)

    @property
    def features(self) -> int:
        return self.shapes[0][1]

    def load(self, i: int) -> np.ndarray:
        """The samples of the ``i``-th generation, ``(samples, features)`` (possibly a memmap)."""
        return self.loaders[i]()


def _fail(path, message: str):
    raise InvalidInput(f"{path}: {message}")


def _check_array(path, what: str, a) -> tuple[int, int]:
    """Shape checks and a chunked scan for NaN / inf; returns ``(samples, features)``."""
    a = np.asarray(a) if not isinstance(a, np.ndarray) else a
    if a.ndim != 2:
        _fail(path, f"{what} has shape {a.shape}; allowed a 2-D array (samples, features)")
    if not (np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)):
        _fail(path, f"{what} has dtype {a.dtype}; allowed a numeric (float or integer) array")
    n, p = a.shape
    if p < 1:
        _fail(path, f"{what} has no features (shape {a.shape})")
    if n < 2:
        _fail(path, f"{what} has {n} sample(s); allowed at least 2 per generation")
    if np.issubdtype(a.dtype, np.floating):
        for lo in range(0, n, _SCAN_ROWS):
            block = np.asarray(a[lo:lo + _SCAN_ROWS])
            if not np.isfinite(block).all():
                row = lo + int(np.argwhere(~np.isfinite(block))[0][0])
                _fail(path, f"{what} holds NaN or inf (first at sample {row})")
    return int(n), int(p)


def _check_numbers(path, numbers: list[int], what: str) -> list[int]:
    if len(set(numbers)) != len(numbers):
        dup = sorted({k for k in numbers if numbers.count(k) > 1})
        _fail(path, f"generation number(s) {dup} appear more than once among the {what}")
    ordered = sorted(numbers)
    missing = sorted(set(range(ordered[-1] + 1)) - set(ordered))
    if missing:
        shown = ", ".join(map(str, missing[:5])) + (" ..." if len(missing) > 5 else "")
        _fail(path, f"generation numbers must run 0, 1, 2, ... without gaps; missing {shown}")
    if len(ordered) < 2:
        _fail(path, f"found {len(ordered)} generation; allowed at least 2")
    return ordered


def _finish(path, layout, items: dict[int, tuple[str, object]]) -> Generations:
    """``items``: generation -> (description, loader); checks every array, one at a time."""
    numbers = _check_numbers(path, list(items), "arrays" if layout != "directory" else "files")
    shapes, loaders = [], []
    for k in numbers:
        what, loader = items[k]
        shapes.append(_check_array(path, what, loader()))
        loaders.append(loader)
    feats = {s[1] for s in shapes}
    if len(feats) > 1:
        detail = ", ".join(f"generation {k}: {s[1]}" for k, s in zip(numbers, shapes))
        _fail(path, f"generations have different feature counts ({detail})")
    return Generations(str(path), layout, numbers, loaders, shapes)


def _npz_items(path) -> dict:
    try:
        archive = np.load(path, allow_pickle=False)
    except Exception as exc:  # corrupt archive, not a zip file, ...
        _fail(path, f"cannot be read as .npz ({type(exc).__name__}: {exc})")
    if not isinstance(archive, np.lib.npyio.NpzFile):
        _fail(path, "is not an .npz archive")
    items = {}
    for key in archive.files:
        m = _GEN_KEY.match(key)
        if not m:
            _fail(path, f"array {key!r} is not named gen_<number>; allowed names gen_0, gen_1, ...")
        items[int(m.group(1))] = (f"array {key!r}", lambda key=key: _read_npz(path, key))
    if not items:
        _fail(path, "holds no arrays; allowed arrays named gen_0, gen_1, ...")
    return items


def _read_npz(path, key):
    with np.load(path, allow_pickle=False) as archive:
        return archive[key]


def _read_npy(path):
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except Exception as exc:
        _fail(path, f"cannot be read as .npy ({type(exc).__name__}: {exc})")


def _dir_items(path) -> dict:
    items = {}
    names = sorted(f for f in os.listdir(path) if f.lower().endswith(".npy"))
    if not names:
        _fail(path, "holds no .npy files; allowed files whose names end in the generation number")
    for name in names:
        m = _TRAILING_NUMBER.search(name)
        if not m:
            _fail(path, f"file {name!r} does not end in a generation number (e.g. round_3.npy)")
        k = int(m.group(1))
        if k in items:
            _fail(path, f"files {items[k][0]} and {name!r} both give generation {k}")
        full = os.path.join(path, name)
        items[k] = (repr(name), lambda full=full: _read_npy(full))
    return items


def _read_csv_table(path) -> tuple[list[str], np.ndarray]:
    try:
        with open(path, newline="") as f:
            header = next(csv.reader(f), None)
    except (OSError, UnicodeDecodeError) as exc:
        _fail(path, f"cannot be read ({type(exc).__name__}: {exc})")
    if not header:
        _fail(path, "is empty; allowed a CSV table with a header row")
    header = [h.strip() for h in header]
    try:
        data = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2, dtype=float)
    except ValueError as exc:
        _fail(path, f"holds a value that is not a number ({exc})")
    if data.size == 0:
        _fail(path, "has a header but no rows")
    if data.shape[1] != len(header):
        _fail(path, f"rows have {data.shape[1]} values but the header names {len(header)} columns")
    return header, data


def _read_parquet_table(path) -> tuple[list[str], np.ndarray]:
    try:
        import pandas as pd
        import pyarrow  # noqa: F401
    except ImportError:
        _fail(path, "reading Parquet needs pandas and pyarrow; install them "
                    "(pip install pandas pyarrow) or convert the table to CSV or .npz")
    try:
        frame = pd.read_parquet(path)
    except Exception as exc:
        _fail(path, f"cannot be read as Parquet ({type(exc).__name__}: {exc})")
    try:
        data = frame.to_numpy(dtype=float)
    except (TypeError, ValueError):
        _fail(path, "holds a column that is not numeric")
    return [str(c).strip() for c in frame.columns], data


def _table_items(path, header, data) -> dict:
    if "generation" not in header:
        _fail(path, f"has no 'generation' column (columns: {', '.join(header[:8])})")
    if len(header) < 2:
        _fail(path, "has a 'generation' column but no feature columns")
    gcol = header.index("generation")
    gen = data[:, gcol]
    if not np.isfinite(gen).all() or not np.all(gen == np.round(gen)) or (gen < 0).any():
        _fail(path, "column 'generation' must hold non-negative integers")
    feats = np.delete(data, gcol, axis=1)
    gen = gen.astype(np.int64)
    return {int(k): (f"generation {int(k)}", lambda k=k: feats[gen == k]) for k in np.unique(gen)}


def load_generations(path) -> Generations:
    """Find, check and index the generations at ``path`` (see the module doc)."""
    path = os.fspath(path)
    if not os.path.exists(path):
        _fail(path, "does not exist")
    if os.path.isdir(path):
        return _finish(path, "directory", _dir_items(path))
    ext = os.path.splitext(path)[1].lower()
    if ext == ".npz":
        return _finish(path, "npz", _npz_items(path))
    if ext == ".csv":
        return _finish(path, "csv", _table_items(path, *_read_csv_table(path)))
    if ext in (".parquet", ".pq"):
        return _finish(path, "parquet", _table_items(path, *_read_parquet_table(path)))
    _fail(path, f"has extension {ext or '(none)'!r}; allowed .npz, .csv, .parquet or a directory "
                "of .npy files")


def load_reference(path, features: int):
    """The reference samples: one ``(samples, features)`` array from ``.npy``, a one-array
    ``.npz``, a CSV / Parquet table of feature columns (a ``generation`` column is dropped)."""
    path = os.fspath(path)
    if not os.path.exists(path):
        _fail(path, "does not exist")
    if os.path.isdir(path):
        _fail(path, "is a directory; the reference is one array (.npy, .npz with one array, "
                    ".csv or .parquet)")
    ext = os.path.splitext(path)[1].lower()
    if ext == ".npy":
        a = _read_npy(path)
    elif ext == ".npz":
        try:
            with np.load(path, allow_pickle=False) as archive:
                keys = list(archive.files)
                if len(keys) != 1:
                    _fail(path, f"holds {len(keys)} arrays; a reference .npz holds exactly one")
                a = archive[keys[0]]
        except InvalidInput:
            raise
        except Exception as exc:
            _fail(path, f"cannot be read as .npz ({type(exc).__name__}: {exc})")
    elif ext in (".csv", ".parquet", ".pq"):
        header, data = (_read_csv_table if ext == ".csv" else _read_parquet_table)(path)
        if "generation" in header:
            data = np.delete(data, header.index("generation"), axis=1)
        a = data
    else:
        _fail(path, f"has extension {ext or '(none)'!r}; allowed .npy, .npz, .csv or .parquet")
    _check_array(path, "the reference", a)
    if a.shape[1] != features:
        _fail(path, f"the reference has {a.shape[1]} features but the generations have {features}")
    return a
