"""The command-line layer every proofs_check shares, re-exported from the library.

The harness (flags, output paths, exit codes, watchdog, the run) is public as
:mod:`collapse_jax.verdict.cli` (with its siblings ``errors``, ``outputs`` and ``watchdog``);
claims, verdicts, the table, the JSON report and the curves CSV are
:mod:`collapse_jax.verdict`. This module re-exports every name it used to define, so that the
checks and every existing ``from proofs_checks._common import ...`` keep working.

Contract (design.md), stated in every ``--help``:

* 0: every claim passes;
* 1: a claim fails (a refuted or undecided prediction);
* 2: bad input: one line naming the flag, the value and what is allowed, no traceback; every
  output path is checked before anything is computed;
* 3: internal error or watchdog: one line, the full traceback (or every thread's stack) in a
  log file whose path the line names;
* 130: interrupted (Ctrl-C), one line.
"""

from __future__ import annotations

import os as os  # noqa: F401 - tests patch ``_common.os`` (the os module itself)

from collapse_jax._errors import InvalidInput as InvalidInput
from collapse_jax.verdict.claim import Claim as Claim
from collapse_jax.verdict.cli import _WRITTEN as _WRITTEN
from collapse_jax.verdict.cli import Progress as Progress
from collapse_jax.verdict.cli import _Parser as _Parser
from collapse_jax.verdict.cli import _run_check as _run_check
from collapse_jax.verdict.cli import add_execution_flags as add_execution_flags
from collapse_jax.verdict.cli import apply_quick as apply_quick
from collapse_jax.verdict.cli import base_parser as base_parser
from collapse_jax.verdict.cli import check_flags as check_flags
from collapse_jax.verdict.cli import environment as environment
from collapse_jax.verdict.cli import run_check as run_check
from collapse_jax.verdict.curves import curve_summary as curve_summary
from collapse_jax.verdict.curves import write_curves as write_curves
from collapse_jax.verdict.errors import EXIT_CODES_HELP as EXIT_CODES_HELP
from collapse_jax.verdict.errors import EXIT_FAIL as EXIT_FAIL
from collapse_jax.verdict.errors import EXIT_INPUT as EXIT_INPUT
from collapse_jax.verdict.errors import EXIT_INTERNAL as EXIT_INTERNAL
from collapse_jax.verdict.errors import EXIT_INTERRUPTED as EXIT_INTERRUPTED
from collapse_jax.verdict.errors import EXIT_PASS as EXIT_PASS
from collapse_jax.verdict.errors import CheckError as CheckError
from collapse_jax.verdict.errors import _one_line as _one_line
from collapse_jax.verdict.errors import input_error as input_error
from collapse_jax.verdict.errors import internal_error as internal_error
from collapse_jax.verdict.errors import log_path as log_path
from collapse_jax.verdict.family import simultaneous_level as simultaneous_level
from collapse_jax.verdict.files import atomic_write_text as atomic_write_text
from collapse_jax.verdict.files import chmod_default as chmod_default
from collapse_jax.verdict.files import suppress_os_error as suppress_os_error
from collapse_jax.verdict.files import temporary_sibling as temporary_sibling
from collapse_jax.verdict.json_values import _num as _num
from collapse_jax.verdict.json_values import to_jsonable as to_jsonable
from collapse_jax.verdict.outputs import PLOT_EXTENSIONS as PLOT_EXTENSIONS
from collapse_jax.verdict.outputs import check_output_path as check_output_path
from collapse_jax.verdict.outputs import save_figure as save_figure
from collapse_jax.verdict.report import write_report as write_report
from collapse_jax.verdict.table import _fmt as _fmt
from collapse_jax.verdict.table import format_table as format_table
from collapse_jax.verdict.watchdog import WATCHDOG_DEFAULT_S as WATCHDOG_DEFAULT_S
from collapse_jax.verdict.watchdog import WATCHDOG_MAX_S as WATCHDOG_MAX_S
from collapse_jax.verdict.watchdog import Watchdog as Watchdog
from collapse_jax.verdict.watchdog import add_watchdog_flag as add_watchdog_flag
from collapse_jax.verdict.watchdog import watchdog_timeout as watchdog_timeout
