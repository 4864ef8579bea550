"""The verdict API: claims and their verdicts, the table, the JSON report and tidy curves.

Every ``proofs_checks`` command builds :class:`Claim` objects (one checkable statement each,
decided by a confidence interval and a width rule), prints :func:`format_table`, and writes
the report with :func:`write_report` (``--json``) and its curves with :func:`write_curves`
(``--curves``, a long CSV). Read them back as pandas DataFrames with :func:`read_report` and
:func:`read_curves` (pandas is needed only for those two readers)::

    from collapse_jax.verdict import read_curves, read_report
    claims, curves = read_report("report.json")
    assert curves.equals(read_curves("curves.csv"))

The command-line harness is public too (:mod:`collapse_jax.verdict.cli`): a new check is a
parser from :func:`base_parser`, a ``body(args) -> (report, claims, figure_fn)`` that first
declares its claim ids with ``args.plan.declare(ids)`` (the family size and the per-claim
level follow from them, and the harness checks the decided claims against them), and
``main(argv) = run_check(NAME, parser, body, argv)``; ``--quick``, ``--json``, ``--curves``,
``--plot``, the watchdog and the exit codes 0/1/2/3/130 come with it (see
``docs/writing_a_check.md``). Importing this package imports neither jax nor matplotlib.
"""

from collapse_jax.verdict.claim import RELATION_SYMBOLS, RELATIONS, Claim, with_seeds
from collapse_jax.verdict.cli import (
    Progress,
    apply_quick,
    base_parser,
    check_flags,
    fixed_by_preset,
    run_check,
)
from collapse_jax.verdict.curves import (
    CURVE_COLUMNS,
    curve_rows,
    curve_summary,
    curves_csv_text,
    curves_frame,
    read_curves,
    write_curves,
)
from collapse_jax.verdict.errors import CheckError
from collapse_jax.verdict.family import ClaimPlan, simultaneous_level
from collapse_jax.verdict.files import atomic_write_text
from collapse_jax.verdict.json_values import to_jsonable
from collapse_jax.verdict.outputs import save_figure
from collapse_jax.verdict.report import (
    CLAIM_COLUMNS,
    CheckReport,
    check_report,
    claims_frame,
    read_report,
    write_report,
)
from collapse_jax.verdict.table import format_table

__all__ = [
    "CLAIM_COLUMNS",
    "CURVE_COLUMNS",
    "RELATIONS",
    "RELATION_SYMBOLS",
    "CheckError",
    "CheckReport",
    "Claim",
    "ClaimPlan",
    "Progress",
    "apply_quick",
    "atomic_write_text",
    "base_parser",
    "check_flags",
    "check_report",
    "fixed_by_preset",
    "claims_frame",
    "curve_rows",
    "curve_summary",
    "curves_csv_text",
    "curves_frame",
    "format_table",
    "read_curves",
    "read_report",
    "run_check",
    "save_figure",
    "simultaneous_level",
    "to_jsonable",
    "with_seeds",
    "write_curves",
    "write_report",
]
