"""The verdict API: claims and their verdicts, the table, the JSON report and tidy curves.

Every ``proofs_checks`` command builds :class:`Claim` objects (one checkable statement each,
decided by a confidence interval and a width rule), prints :func:`format_table`, and writes
the report with :func:`write_report` (``--json``) and its curves with :func:`write_curves`
(``--curves``, a long CSV). Read them back as pandas DataFrames with :func:`read_report` and
:func:`read_curves` (pandas is needed only for those two readers)::

    from collapse_jax.verdict import read_curves, read_report
    claims, curves = read_report("report.json")
    assert curves.equals(read_curves("curves.csv"))
"""

from .claim import RELATION_SYMBOLS, RELATIONS, Claim
from .curves import (
    CURVE_COLUMNS,
    curve_rows,
    curve_summary,
    curves_csv_text,
    curves_frame,
    read_curves,
    write_curves,
)
from .family import simultaneous_level
from .files import atomic_write_text
from .json_values import to_jsonable
from .report import CLAIM_COLUMNS, claims_frame, read_report, write_report
from .table import format_table

__all__ = [
    "CLAIM_COLUMNS",
    "CURVE_COLUMNS",
    "RELATIONS",
    "RELATION_SYMBOLS",
    "Claim",
    "atomic_write_text",
    "claims_frame",
    "curve_rows",
    "curve_summary",
    "curves_csv_text",
    "curves_frame",
    "format_table",
    "read_curves",
    "read_report",
    "simultaneous_level",
    "to_jsonable",
    "write_curves",
    "write_report",
]
