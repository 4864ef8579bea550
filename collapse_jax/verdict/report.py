"""The JSON report of a check: writing it, and reading it back as tables."""

from __future__ import annotations

import json
import os
from typing import TypedDict

from collapse_jax.verdict._pandas import require_pandas
from collapse_jax.verdict.curves import curves_frame
from collapse_jax.verdict.files import atomic_write_text
from collapse_jax.verdict.json_values import to_jsonable

#: Columns of the claims table :func:`read_report` returns, in order.
CLAIM_COLUMNS = ("id", "statement", "relation", "predicted", "measured", "ci_low", "ci_high",
                 "max_half_width", "passed", "reason", "note")


class Timing(TypedDict, total=False):
    """``timing`` of a report: seconds spent compiling and running the simulations, and the
    throughput (seed-generations per second of run time); a check may add its own stages."""

    compile_s: float
    run_s: float
    seed_generations_per_s: float


class CheckReport(TypedDict, total=False):
    """What a check's ``body`` returns as its report (the harness adds ``check``, ``version``,
    ``device``, ``versions`` and ``claims`` before writing the JSON).

    Required: ``config`` (the flags after ``--quick`` and every derived setting), ``precision``
    (``"float64"`` or ``{part: dtype}``), ``timing`` (:class:`Timing`) and ``curves``
    (``{setting: {metric: {"mean": [...], "se": [...], ...}}}``). Optional: ``ci_level`` and
    ``ci_note`` (the per-claim level and how the CIs were made, printed under the table),
    ``findings`` (measured numbers that are not claims), ``theory`` (predicted values worth
    keeping beside them) and ``summary`` (lines printed after the verdict table: a comparison
    the claims draw from, such as a population set beside published runs).
    """

    config: dict
    precision: str | dict
    timing: Timing
    curves: dict
    ci_level: float
    ci_note: str
    findings: dict
    theory: dict
    summary: str


REQUIRED_KEYS = ("config", "precision", "timing", "curves")
TIMING_KEYS = ("compile_s", "run_s", "seed_generations_per_s")


def check_report(report: dict) -> None:
    """Raise ``RuntimeError`` naming what is wrong unless ``report`` follows
    :class:`CheckReport` (the harness calls it on every report a check returns)."""
    if not isinstance(report, dict):
        raise RuntimeError(f"the report is a {type(report).__name__}, not a dict")
    known = set(CheckReport.__annotations__)
    problems = [f"missing {k!r}" for k in REQUIRED_KEYS if k not in report]
    problems += [f"unknown key {k!r}" for k in report if k not in known]
    for key, kind in (("config", dict), ("timing", dict), ("curves", dict),
                      ("findings", dict), ("theory", dict), ("ci_note", str),
                      ("summary", str)):
        if key in report and not isinstance(report[key], kind):
            problems.append(f"{key!r} is a {type(report[key]).__name__}, not a {kind.__name__}")
    if "precision" in report and not isinstance(report["precision"], (str, dict)):
        problems.append("'precision' is neither a str nor a dict")
    if isinstance(report.get("timing"), dict):
        problems += [f"timing lacks {k!r}" for k in TIMING_KEYS if k not in report["timing"]]
    if problems:
        raise RuntimeError("the check's report does not follow CheckReport: "
                           + "; ".join(problems))


def write_report(path: str, report: dict) -> None:
    """The JSON report, written atomically (NaN and inf as null)."""
    atomic_write_text(path, json.dumps(to_jsonable(report), indent=1, allow_nan=False))


def claims_frame(claims: list[dict]):
    """The ``claims`` of a JSON report as a pandas DataFrame (columns :data:`CLAIM_COLUMNS`,
    one row per claim in report order; ``ci`` split into ``ci_low`` / ``ci_high``, null as
    NaN, ``passed`` bool)."""
    pd = require_pandas()

    def num(v):
        return float("nan") if v is None else float(v)

    rows = [(c["id"], c["statement"], c["relation"], num(c["predicted"]), num(c["measured"]),
             num(c["ci"][0]), num(c["ci"][1]), num(c["max_half_width"]), bool(c["passed"]),
             c["reason"], c.get("note", "")) for c in claims]
    cols = list(zip(*rows)) if rows else [()] * len(CLAIM_COLUMNS)
    dtypes = (object, object, object, "float64", "float64", "float64", "float64", "float64",
              bool, object, object)
    return pd.DataFrame({name: pd.Series(list(col), dtype=dt)
                         for name, col, dt in zip(CLAIM_COLUMNS, cols, dtypes)})


def read_report(json_path):
    """Read a check's JSON report (``--json PATH``) as ``(claims_df, curves_df)``.

    ``claims_df``: one row per claim (see :func:`claims_frame`): its verdict ``passed``, the
    ``relation`` tested, ``predicted``, ``measured``, the CI ``ci_low`` / ``ci_high``,
    ``max_half_width``, ``reason`` and ``note``. ``curves_df``: the tidy curves table
    (columns ``setting, metric, component, generation, mean, se``), equal to
    :func:`~collapse_jax.verdict.read_curves` of the ``--curves`` CSV of the same run. The
    rest of the report (``config``, ``timing``, ``findings``...) is in the JSON itself::

        claims, curves = read_report("report.json")
        print(claims[~claims.passed][["id", "reason"]])

    Missing ``claims`` / ``curves`` give empty tables. Raises ``ImportError`` when pandas is
    not installed.
    """
    require_pandas()
    with open(os.fspath(json_path)) as f:
        report = json.load(f)
    return claims_frame(report.get("claims") or []), curves_frame(report.get("curves") or {})
