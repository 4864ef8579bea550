"""``--help`` from stored texts: the same text as the live parsers, printed without importing
JAX (proofs_checks/_help.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from proofs_checks import _help
from proofs_checks._help_texts import TEXTS

ROOT = Path(__file__).resolve().parents[2]


def test_every_command_is_stored():
    assert sorted(TEXTS) == sorted(_help.COMMANDS)


@pytest.mark.parametrize("name", sorted(_help.COMMANDS))
def test_stored_text_is_the_live_parsers_help(name):
    # when this fails, a parser changed: regenerate with `python -m proofs_checks._help --write`
    assert TEXTS[name] == _help.live_help(name)


def _imports(*args):
    """``(result, modules imported)`` of ``python -X importtime ARGS``."""
    r = subprocess.run([sys.executable, "-X", "importtime", *args], cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    return r, {line.split("|")[-1].strip() for line in r.stderr.splitlines()
               if line.startswith("import time:")}


@pytest.mark.parametrize("name", ["power_law", "sweep", "vae_verification"])
def test_help_imports_no_jax(name):
    r, imported = _imports("-m", f"proofs_checks.{name}", "--help")
    assert r.stdout == TEXTS[name]
    assert "proofs_checks._help" in imported  # the listing is real
    assert not {"jax", "scipy", "numpy"} & imported


@pytest.mark.parametrize("name", ["knowledge_center", "proxy_references", "vae_verification"])
def test_a_check_module_loads_scipy_ott_and_sklearn_on_first_use(name):
    # the start line waits for the check's import: scipy.stats / optimize (0.6-1.3 s),
    # ott-jax (1-3 s) and scikit-learn (2-5 s) load only when a computation needs them
    _, imported = _imports("-c", f"import {_help.COMMANDS[name]}")
    assert _help.COMMANDS[name] in imported and "jax" in imported  # the listing is real
    assert not {"scipy.stats", "scipy.optimize", "ott", "sklearn"} & imported


def test_other_arguments_go_to_the_parser(capsys):
    _help.maybe_print_help("power_law", ["--seeds", "5"])
    _help.maybe_print_help("power_law", [])
    _help.maybe_print_help("unknown", ["--help"])
    assert capsys.readouterr().out == ""
    with pytest.raises(SystemExit) as e:
        _help.maybe_print_help("power_law", ["-h"])
    assert e.value.code == 0
    assert capsys.readouterr().out == TEXTS["power_law"]


def test_write_refuses_other_arguments(capsys):
    assert _help.main(["--bogus"]) == 2
    assert "usage: python -m proofs_checks._help --write" in capsys.readouterr().err


def test_monitor_help_imports_no_numpy():
    r, imported = _imports("-m", "collapse_jax.monitor", "--help")
    assert r.stdout.startswith("usage: python -m collapse_jax.monitor")
    assert "collapse_jax.monitor.cli" in imported
    assert not {"jax", "scipy", "numpy"} & imported
