"""Two JAX processes on this machine (two host devices each, gloo collectives) against one
process with four devices: the same numbers, outputs written once, bad input stopping both.

What docs/scale_out.md's multi-host recipe runs, on one machine: ``JAX_COORDINATOR_ADDRESS``,
``JAX_NUM_PROCESSES`` and ``JAX_PROCESS_ID`` per process and ``--devices 4``."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _env(devices: int) -> dict:
    env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}",
               COLLAPSE_JAX_COMPILE_CACHE="off", COLLAPSE_JAX_PROGRESS="0")
    for k in ("JAX_COORDINATOR_ADDRESS", "JAX_NUM_PROCESSES", "JAX_PROCESS_ID"):
        env.pop(k, None)
    return env


def _one(args, cwd, timeout=900):
    return subprocess.run([sys.executable, "-m", *args], cwd=cwd, env=_env(4),
                          capture_output=True, text=True, timeout=timeout)


def _two(args, cwd, timeout=900):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    procs = []
    for i in range(2):
        env = dict(_env(2), JAX_COORDINATOR_ADDRESS=f"127.0.0.1:{port}", JAX_NUM_PROCESSES="2",
                   JAX_PROCESS_ID=str(i), PYTHONPATH=str(ROOT))
        procs.append(subprocess.Popen([sys.executable, "-m", *args], cwd=cwd, env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True))
    try:
        outs = [p.communicate(timeout=timeout) for p in procs]
    finally:
        for p in procs:
            p.kill()
    return [(p.returncode, o, e) for p, (o, e) in zip(procs, outs)]


_GLOO = "[Gloo] Rank is connected to peer ranks. Expected number of connected peer ranks is :"


def _own_words(out: str) -> list[str]:
    """Words of the output that are not the gloo library's connection lines. Gloo prints them
    from C++ threads on stdout, one stream insertion at a time, and the threads interleave
    the pieces (CI runs saw " is connected to 3 peer ranks..." and a lone "3" on lines of
    their own; a new message may start inside another's word). So a word that is a number or
    a piece of gloo's sentence is dropped wherever it stands. The check's own table ("PASS",
    "claim", "wrote", "total wall time") always leaves words behind."""
    words = out.replace("[Gloo]", " [Gloo] ").split()
    return [w for w in words if not (w.isdigit() or w in _GLOO)]


def _measured(path):
    return np.array([c["measured"] for c in json.loads(Path(path).read_text())["claims"]])


@pytest.mark.parametrize("check", ["gaussian_refit", "power_law"])
def test_a_check_in_two_processes_equals_one_process(check, tmp_path):
    args = [f"proofs_checks.{check}", "--quick", "--devices", "4", "--json"]
    one = _one([*args, str(tmp_path / "one.json")], ROOT)
    assert one.returncode in (0, 1), one.stderr[-2000:]
    two = _two([*args, str(tmp_path / "two.json")], ROOT)
    assert [rc for rc, _, _ in two] == [one.returncode] * 2, [e[-2000:] for _, _, e in two]
    # process 0 alone prints the table
    assert "passed" in two[0][1] and _own_words(two[1][1]) == []
    report = json.loads((tmp_path / "two.json").read_text())
    assert report["device"]["count"] == 4 and report["device"]["processes"] == 2
    np.testing.assert_allclose(_measured(tmp_path / "two.json"),
                               _measured(tmp_path / "one.json"), rtol=1e-12, atol=0)


def test_a_sweep_in_two_processes_equals_one_process(tmp_path):
    args = ["proofs_checks.sweep", "--alpha", "0.1", "0.25", "0.5", "--seeds", "64",
            "--generations", "20", "--devices", "4", "--batch-points", "2", "--out"]
    one = _one([*args, str(tmp_path / "one")], ROOT)
    assert one.returncode == 0, one.stderr[-2000:]
    two = _two([*args, str(tmp_path / "two")], ROOT)
    assert [rc for rc, _, _ in two] == [0, 0], [e[-2000:] for _, _, e in two]
    assert "3/3 points" in two[0][1] and _own_words(two[1][1]) == []
    names = sorted(p.name for p in (tmp_path / "one" / "points").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "two" / "points").iterdir())
    assert len(names) == 3
    for name in names:
        a = np.genfromtxt(tmp_path / "one" / "points" / name, delimiter=",", names=True,
                          dtype=None, encoding="utf-8")
        b = np.genfromtxt(tmp_path / "two" / "points" / name, delimiter=",", names=True,
                          dtype=None, encoding="utf-8")
        np.testing.assert_allclose(a["mean"], b["mean"], rtol=1e-12, atol=0)
        np.testing.assert_allclose(a["se"], b["se"], rtol=1e-12, atol=0)
    cfg = json.loads((tmp_path / "two" / "config.json").read_text())
    assert cfg["device"]["processes"] == 2


def test_bad_input_stops_both_processes(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    two = _two(["proofs_checks.sweep", "--alpha", "0.25", "--seeds", "8", "--generations", "5",
                "--devices", "4", "--out", str(blocker)], ROOT, timeout=300)
    assert [rc for rc, _, _ in two] == [2, 2]
    assert "--out=" in two[0][2] and "it is a file" in two[0][2]
    assert "another process of this run refused its input" in two[1][2]
