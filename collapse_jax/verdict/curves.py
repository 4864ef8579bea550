"""Per-generation curves: the summary over seeds, and its tidy (long) table.

A report's ``curves`` entry maps ``setting -> metric -> {"mean": ..., "se": ...}`` where
``mean`` and ``se`` have one row per generation (axis 0) and optionally a trailing vector axis
(several trailing axes are flattened in C order). The tidy table has one row per
``(setting, metric, component, generation)``:

=============  =================================================================================
``setting``    the run (the first key of ``curves``), e.g. ``"replace:mle"``
``metric``     the metric (the second key), e.g. ``"trace"``
``component``  index along the trailing vector axis; 0 for a scalar metric
``generation`` the row index of the curve (generation ``t``, or what the check documents)
``mean``       mean over seeds (NaN where no seed gave a finite value)
``se``         its standard error (NaN likewise)
=============  =================================================================================

Rows are ordered as the report orders settings and metrics, then by component, then by
generation. :func:`write_curves` writes this table as CSV (NaN as an empty field, floats in
round-trip ``repr`` form) and :func:`read_curves` reads it back; :func:`curves_frame` builds
the same table from the ``curves`` of a report (a JSON report: NaN and inf stored as null),
so the CSV and the JSON of one run give equal DataFrames.
"""

from __future__ import annotations

import csv
import io
import math
import os
import warnings

import numpy as np

from collapse_jax.verdict._pandas import require_pandas
from collapse_jax.verdict.files import atomic_write_text
from collapse_jax.verdict.json_values import to_jsonable

#: Columns of the tidy curves table, in order.
CURVE_COLUMNS = ("setting", "metric", "component", "generation", "mean", "se")


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


def _as_table(values, where: str) -> np.ndarray:
    """``values`` as a ``(generations, components)`` float array (``None`` as NaN)."""
    try:
        a = np.array(values, dtype=float)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{where} is not a numeric array: {e}") from None
    if a.ndim == 0:
        return a.reshape(1, 1)
    return a.reshape(a.shape[0], int(np.prod(a.shape[1:], dtype=int)))


def curve_rows(curves: dict) -> list[tuple]:
    """The tidy rows ``(setting, metric, component, generation, mean, se)`` of a report's
    ``curves`` (arrays or their JSON form; inf counts as NaN, as in the JSON report)."""
    rows = []
    for setting, metrics in to_jsonable(curves).items():
        if not isinstance(metrics, dict):
            raise ValueError(f"curves[{setting!r}] is not a dict of metrics")
        for metric, summary in metrics.items():
            where = f"curves[{setting!r}][{metric!r}]"
            if not (isinstance(summary, dict) and "mean" in summary and "se" in summary):
                raise ValueError(f"{where} is not a {{'mean': ..., 'se': ...}} summary")
            mean = _as_table(summary["mean"], where + "['mean']")
            se = _as_table(summary["se"], where + "['se']")
            if mean.shape != se.shape:
                raise ValueError(f"{where}: mean shape {mean.shape} != se shape {se.shape}")
            for c in range(mean.shape[1]):
                for g in range(mean.shape[0]):
                    rows.append((setting, metric, c, g, float(mean[g, c]), float(se[g, c])))
    return rows


def _frame(rows: list[tuple]):
    pd = require_pandas()
    cols = list(zip(*rows)) if rows else [()] * len(CURVE_COLUMNS)
    dtypes = (object, object, "int64", "int64", "float64", "float64")
    return pd.DataFrame({name: pd.Series(list(col), dtype=dt)
                         for name, col, dt in zip(CURVE_COLUMNS, cols, dtypes)})


def curves_frame(curves: dict):
    """The tidy curves table of a report's ``curves`` as a pandas DataFrame (columns
    :data:`CURVE_COLUMNS`; ``component`` and ``generation`` int64, ``mean`` and ``se``
    float64 with NaN, ``setting`` and ``metric`` str objects)."""
    return _frame(curve_rows(curves))


def _cell(v: float) -> str:
    return repr(v) if math.isfinite(v) else ""


def curves_csv_text(curves: dict) -> str:
    """The CSV text :func:`write_curves` writes."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CURVE_COLUMNS)
    for s, m, c, g, mean, se in curve_rows(curves):
        w.writerow((s, m, c, g, _cell(mean), _cell(se)))
    return buf.getvalue()


def write_curves(path: str, curves: dict) -> None:
    """Write a report's ``curves`` to ``path`` as the tidy CSV table, atomically."""
    atomic_write_text(path, curves_csv_text(curves))


def read_curves(csv_path) -> "pandas.DataFrame":  # noqa: F821 - pandas is imported lazily
    """Read a curves CSV (``--curves PATH`` of any check, or :func:`write_curves`) into a
    pandas DataFrame equal to :func:`curves_frame` of the same report's ``curves``.

    Columns ``setting, metric, component, generation, mean, se`` (see the module docstring);
    an empty ``mean`` / ``se`` field reads as NaN. Example::

        from collapse_jax.verdict import read_curves
        df = read_curves("curves.csv")
        trace = df[(df.setting == "replace:mle") & (df.metric == "var")]

    Raises ``ValueError`` naming the file and line when the file is not such a table, and
    ``ImportError`` when pandas is not installed.
    """
    require_pandas()
    path = os.fspath(csv_path)
    rows = []
    with open(path, newline="") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None or tuple(header) != CURVE_COLUMNS:
            raise ValueError(f"{path}: not a curves table: header {header!r}, expected "
                             f"{','.join(CURVE_COLUMNS)}")
        for row in reader:
            if len(row) != len(CURVE_COLUMNS):
                raise ValueError(f"{path}: line {reader.line_num}: {len(row)} fields, expected "
                                 f"{len(CURVE_COLUMNS)}")
            s, m, c, g, mean, se = row
            try:
                rows.append((s, m, int(c), int(g), float(mean) if mean else math.nan,
                             float(se) if se else math.nan))
            except ValueError as e:
                raise ValueError(f"{path}: line {reader.line_num}: {e}") from None
    return _frame(rows)
