"""The persistent compilation cache: where it lives, how it is turned off, and that a run
through it writes programs and changes no number."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jax
import pytest

from collapse_jax.verdict import cache

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def clean_env(monkeypatch):
    for var in (cache.ENV, "JAX_COMPILATION_CACHE_DIR", "XDG_CACHE_HOME"):
        monkeypatch.delenv(var, raising=False)
    old = jax.config.jax_compilation_cache_dir
    jax.config.update("jax_compilation_cache_dir", None)
    yield monkeypatch
    jax.config.update("jax_compilation_cache_dir", old)


def test_resolution_order(clean_env, tmp_path):
    m = clean_env
    assert cache.resolve(None, jax) == str(Path.home() / ".cache" / "collapse_jax" / "xla")
    m.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.resolve(None, jax) == str(tmp_path / "xdg" / "collapse_jax" / "xla")
    m.setenv("JAX_COMPILATION_CACHE_DIR", str(tmp_path / "jaxs"))
    assert cache.resolve(None, jax) == str(tmp_path / "jaxs")
    m.setenv(cache.ENV, str(tmp_path / "env"))
    assert cache.resolve(None, jax) == str(tmp_path / "env")
    assert cache.resolve(str(tmp_path / "flag"), jax) == str(tmp_path / "flag")


@pytest.mark.parametrize("off", ["off", "0", "none", "OFF", "false"])
def test_off_disables(clean_env, off):
    assert cache.resolve(off, jax) is None
    clean_env.setenv(cache.ENV, off)
    assert cache.resolve(None, jax) is None
    # the flag wins over the variable
    assert cache.resolve("/some/dir", jax) == "/some/dir"


def test_off_is_off_for_jax_too(clean_env, tmp_path):
    """``off`` disables JAX's cache (and the engine's programs kept whole) even where
    ``$JAX_COMPILATION_CACHE_DIR`` names a folder."""
    from collapse_jax.engine import program_cache

    clean_env.setenv("JAX_COMPILATION_CACHE_DIR", str(tmp_path / "jaxs"))
    jax.config.update("jax_compilation_cache_dir", str(tmp_path / "jaxs"))
    was = jax.config.jax_enable_compilation_cache
    try:
        jax.config.update("jax_enable_compilation_cache", True)
        assert program_cache.folder() == tmp_path / "jaxs" / "programs"
        assert cache.enable("off", jax) is None
        assert not jax.config.jax_enable_compilation_cache
        assert program_cache.folder() is None
    finally:
        jax.config.update("jax_enable_compilation_cache", was)


def test_unwritable_folder_disables_with_a_note(clean_env, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert cache.enable(str(blocker / "sub"), jax, "prog") is None
    err = capsys.readouterr().err
    assert err.startswith("prog: note: compilation cache disabled") and str(blocker) in err


@pytest.mark.slow
def test_a_run_fills_the_cache_and_a_second_changes_no_number(tmp_path):
    folder = tmp_path / "cc"
    reports = []
    for i in range(2):
        out = tmp_path / f"r{i}.json"
        r = subprocess.run([sys.executable, "-m", "proofs_checks.gaussian_refit", "--quick",
                            "--compile-cache", str(folder), "--json", str(out)], cwd=ROOT,
                           capture_output=True, text=True,
                           # every program written: which ones depends on no compile time
                           env=dict(os.environ, **{cache.MIN_COMPILE_ENV: "0"}),
                           timeout=600)
        assert r.returncode == 0, r.stderr[-2000:]
        reports.append(json.loads(out.read_text()))
        if i == 0:
            written = sorted(p.name for p in folder.iterdir())
            assert written, "the first run wrote no compiled program"
    assert reports[1]["compile_cache"] == str(folder)
    assert [c["measured"] for c in reports[0]["claims"]] == \
        [c["measured"] for c in reports[1]["claims"]]
    # the second run read the programs back instead of writing new ones
    assert sorted(p.name for p in folder.iterdir()) == written


def test_off_run_records_null(tmp_path):
    out = tmp_path / "r.json"
    r = subprocess.run([sys.executable, "-m", "proofs_checks.gaussian_refit", "--quick",
                        "--compile-cache", "off", "--json", str(out)], cwd=ROOT,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    assert json.loads(out.read_text())["compile_cache"] is None
