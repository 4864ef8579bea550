"""The notebooks' executor and the batch notebook (run as a script: its cells are plain Python,
so the test needs no Jupyter)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXECUTE = ROOT / "notebooks" / "execute.py"


def _run(args, **kw):
    return subprocess.run([sys.executable, str(EXECUTE), *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, **kw)


def test_executor_refuses_bad_input_before_running(tmp_path):
    r = _run(["no_such_notebook"])
    assert r.returncode == 2 and "no notebook source 'no_such_notebook'" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    afile = tmp_path / "f"
    afile.write_text("")
    r = _run(["01_power_law", "--out", str(afile)])
    assert r.returncode == 2 and "it is a file, not a folder" in r.stderr
    r = _run(["--timeout", "0", "01_power_law"])
    assert r.returncode == 2 and "--timeout=0 is invalid" in r.stderr
    r = _run(["--in-place", "--out", str(tmp_path), "01_power_law"])
    assert r.returncode == 2  # argparse: the two destinations exclude each other


def test_executor_writes_to_a_build_folder_by_default():
    spec = importlib.util.spec_from_file_location("nb_execute", EXECUTE)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.DEFAULT_OUT == ROOT / "build" / "notebooks"
    assert "build/" in (ROOT / ".gitignore").read_text().split()
    assert "07_batch_on_accelerators" in mod.sources()


@pytest.mark.slow
def test_batch_notebook_shards_over_four_cpu_devices(tmp_path):
    env = dict(os.environ, COLLAPSE_JAX_NOTEBOOK_QUICK="1", MPLBACKEND="Agg",
               XLA_FLAGS="--xla_force_host_platform_device_count=4",
               PYTHONPATH=str(ROOT))
    r = subprocess.run([sys.executable, str(ROOT / "notebooks" / "07_batch_on_accelerators.py")],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=1200)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "4 x cpu" in r.stdout
    report = json.loads((tmp_path / "results" / "power_law_cpu_4" / "report.json").read_text())
    assert report["device"]["count"] == 4
    assert report["config"]["devices"] == 4
    assert all(c["passed"] for c in report["claims"])
    assert (tmp_path / "results" / "power_law_cpu_4" / "figure.png").stat().st_size > 0
