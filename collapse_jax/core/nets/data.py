"""Real image data for the neural generator: scikit-learn digits or a local MNIST file.

Images come back as float32 rows in ``[0, 1]`` (``(N, H * W)``) with int32 labels in
``0 .. 9``. Nothing is ever downloaded: :func:`load_digits` reads the 1797 8x8 digits that ship
with scikit-learn, :func:`load_mnist` reads a file the user already has (IDX, optionally
gzipped, or ``.npz``) and raises a one-line ``ValueError`` when it is missing or malformed.
"""

from __future__ import annotations

import gzip
import os
import struct
import zipfile
import zlib
from typing import NamedTuple

import numpy as np

from collapse_jax.core._validate import InvalidInput, check_float, check_int

CLASSES = 10


class ImageData(NamedTuple):
    """Images ``x`` (``(N, side * side)`` float32 in [0, 1]) and labels ``y`` (int32)."""

    x: np.ndarray
    y: np.ndarray
    side: int
    source: str


class Split(NamedTuple):
    """A fixed stratified split: ``train`` (the real pool) and ``test`` (held out)."""

    train: ImageData
    test: ImageData


def load_digits() -> ImageData:
    """The scikit-learn handwritten digits: 1797 images of 8x8, grey levels 0..16 -> [0, 1].

    Read from the CSV that scikit-learn ships (``sklearn/datasets/data/digits.csv.gz``, the
    file its ``load_digits`` parses) without importing scikit-learn, which takes 2-5 s; the
    same arrays (``tests/vae/test_models.py``)."""
    path = _digits_csv()
    if path is None:
        from sklearn.datasets import load_digits as _load

        d = _load()
        data, target = np.asarray(d.data), np.asarray(d.target)
    else:
        table = np.loadtxt(path, delimiter=",")
        data, target = table[:, :-1], table[:, -1]
    x = (np.asarray(data, np.float32) / 16.0).astype(np.float32)
    return ImageData(x, np.asarray(target, np.int32), 8, "sklearn-digits")


def _digits_csv() -> str | None:
    """The path of scikit-learn's digits CSV, found without importing it (``None``: not
    there; :func:`load_digits` then asks scikit-learn itself)."""
    import importlib.util

    spec = importlib.util.find_spec("sklearn")
    for root in (spec.submodule_search_locations or []) if spec is not None else []:
        path = os.path.join(root, "datasets", "data", "digits.csv.gz")
        if os.path.isfile(path):
            return path
    return None


def _read(path: str) -> bytes:
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        return f.read()


def _parse_idx(path: str, want_dims: int) -> np.ndarray:
    fn = "load_mnist"
    try:
        raw = _read(path)
    except (OSError, EOFError) as e:
        raise InvalidInput(f"{fn}: path={path!r} could not be read ({e.__class__.__name__})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise InvalidInput(f"{fn}: path={path!r} is not an unsigned-byte IDX file "
                         "(bad magic number)")
    ndim = raw[3]
    if ndim != want_dims or len(raw) < 4 + 4 * ndim:
        raise InvalidInput(f"{fn}: path={path!r} has {ndim} IDX dimensions; allowed "
                         f"{want_dims} ({'images' if want_dims == 3 else 'labels'})")
    shape = struct.unpack(f">{ndim}I", raw[4:4 + 4 * ndim])
    body = np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(shape)):
        raise InvalidInput(f"{fn}: path={path!r} is truncated: header says {shape}, "
                         f"{body.size} bytes follow")
    return body.reshape(shape)


def _labels_path(images_path: str) -> str:
    d, name = os.path.split(images_path)
    for a, b in (("images-idx3", "labels-idx1"), ("images.idx3", "labels.idx1")):
        if a in name:
            for cand in (name.replace(a, b), name.replace(a, b).removesuffix(".gz"),
                         name.replace(a, b) + ".gz"):
                if os.path.exists(os.path.join(d, cand)):
                    return os.path.join(d, cand)
            raise InvalidInput(f"load_mnist: path={images_path!r} has no labels file "
                             f"{name.replace(a, b)!r} beside it")
    raise InvalidInput(f"load_mnist: path={images_path!r} is not an MNIST images file; allowed "
                     "an .npz, an IDX images file named *images-idx3* (labels beside it) or "
                     "a folder holding train-images-idx3-ubyte[.gz]")


def _find_in_folder(folder: str) -> str:
    for name in ("train-images-idx3-ubyte", "train-images-idx3-ubyte.gz",
                 "train-images.idx3-ubyte", "mnist.npz"):
        p = os.path.join(folder, name)
        if os.path.exists(p):
            return p
    raise InvalidInput(f"load_mnist: path={folder!r} is a folder without train-images-idx3-ubyte"
                     "[.gz] or mnist.npz")


def _from_npz(path: str):
    fn = "load_mnist"
    try:
        with np.load(path, allow_pickle=False) as z:
            keys = set(z.files)
            for xk, yk in (("x_train", "y_train"), ("x", "y"), ("images", "labels")):
                if xk in keys and yk in keys:
                    xs, ys = [z[xk]], [z[yk]]
                    if xk == "x_train" and {"x_test", "y_test"} <= keys:
                        xs.append(z["x_test"])
                        ys.append(z["y_test"])
                    return np.concatenate(xs), np.concatenate(ys)
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error) as e:
        # garbage, truncated or corrupt members, object arrays (pickles are never loaded)
        raise InvalidInput(f"{fn}: path={path!r} is not a readable .npz ({e.__class__.__name__})"
                         ) from None
    raise InvalidInput(f"{fn}: path={path!r} has arrays {sorted(keys)}; allowed x_train/y_train, "
                     "x/y or images/labels")


def _pixels(fn: str, path: str, x: np.ndarray) -> np.ndarray:
    """Grey levels as float32 in ``[0, 1]``: real numbers, every one finite, in ``[0, 1]`` or
    (integers) ``0 .. 255``; anything else raises :class:`InvalidInput`."""
    if not (x.dtype == bool or np.issubdtype(x.dtype, np.integer)
            or np.issubdtype(x.dtype, np.floating)):
        raise InvalidInput(f"{fn}: path={path!r} images have dtype {x.dtype}; allowed boolean, "
                           "integer or floating grey levels")
    bad = ~np.isfinite(x) if np.issubdtype(x.dtype, np.floating) else np.zeros(x.shape, bool)
    if bad.any():
        raise InvalidInput(f"{fn}: path={path!r} has {int(bad.sum())} non-finite pixels (NaN or "
                           "inf); allowed finite grey levels")
    x = x.astype(np.uint8) if x.dtype == bool else x
    lo, hi = float(x.min()), float(x.max())
    if lo < 0 or hi > 255 or (hi > 1 and not np.all(x == np.round(x))):
        raise InvalidInput(f"{fn}: path={path!r} has pixels in [{lo:g}, {hi:g}]; allowed grey "
                           "levels in [0, 1] or integers 0 .. 255")
    x = x.astype(np.float32)
    return x / 255.0 if hi > 1.0 else x


def load_mnist(path: str, pool: int = 2) -> ImageData:
    """MNIST from a local file, ``pool x pool`` mean-pooled (28x28 -> 14x14 by default).

    ``path`` is an ``.npz`` (``x_train``/``y_train`` [+ ``x_test``/``y_test``], ``x``/``y`` or
    ``images``/``labels``), an IDX images file (``*images-idx3*``, optionally ``.gz``, with the
    labels file beside it) or a folder holding ``train-images-idx3-ubyte[.gz]``. Raises
    ``ValueError`` (one line) when the file is missing or malformed; never downloads.
    """
    fn = "load_mnist"
    pool = check_int(fn, "pool", pool, 1, 28)
    if not isinstance(path, (str, os.PathLike)) or not os.path.exists(path):
        raise InvalidInput(f"{fn}: path={str(path)!r} does not exist (nothing is downloaded; "
                         "pass a local MNIST .npz or IDX file)")
    path = os.fspath(path)
    if os.path.isdir(path):
        path = _find_in_folder(path)
    if path.endswith(".npz"):
        x, y = _from_npz(path)
    else:
        x = _parse_idx(path, 3)
        y = _parse_idx(_labels_path(path), 1)
    x, y = np.asarray(x), np.asarray(y).reshape(-1)
    if x.ndim == 2 and x.shape[1] == 784:
        x = x.reshape(-1, 28, 28)
    if x.ndim != 3 or x.shape[1] != x.shape[2] or x.shape[0] != y.shape[0] or x.shape[0] == 0:
        raise InvalidInput(f"{fn}: path={path!r} holds images {x.shape} and labels {y.shape}; "
                         "allowed (N, side, side) or (N, side*side) with N labels")
    if not np.issubdtype(y.dtype, np.integer) or y.min() < 0 or y.max() >= CLASSES:
        raise InvalidInput(f"{fn}: path={path!r} labels must be integers in 0..9")
    x = _pixels(fn, path, x)
    side = x.shape[1]
    if side % pool:
        raise InvalidInput(f"{fn}: pool={pool} does not divide the image side {side}")
    side //= pool
    x = x.reshape(-1, side, pool, side, pool).mean(axis=(2, 4))
    return ImageData(x.reshape(x.shape[0], -1).astype(np.float32), y.astype(np.int32), side,
                     f"mnist:{os.path.basename(path)}")


def stratified_split(data: ImageData, seed: int, test_fraction: float = 0.3,
                     test_max: int | None = 2000) -> Split:
    """Fixed held-out split, the same fraction of every class (``test_max`` caps its size).

    The held-out part is never trained on: it is the reference of the Frechet distance and of
    precision / recall / coverage.
    """
    fn = "stratified_split"
    check_float(fn, "test_fraction", test_fraction, 0.0, 1.0, lo_open=True, hi_open=True)
    rng = np.random.default_rng(seed)
    n = data.y.shape[0]
    frac = test_fraction if test_max is None else min(test_fraction, test_max / n)
    test_idx = []
    for c in range(CLASSES):
        idx = np.flatnonzero(data.y == c)
        if idx.size < 4:
            raise InvalidInput(f"{fn}: class {c} has {idx.size} images; allowed >= 4 per class")
        idx = rng.permutation(idx)
        test_idx.append(idx[: max(2, int(round(frac * idx.size)))])
    test_idx = np.sort(np.concatenate(test_idx))
    mask = np.zeros(n, bool)
    mask[test_idx] = True

    def part(m):
        return ImageData(data.x[m], data.y[m], data.side, data.source)

    return Split(part(~mask), part(mask))
