import json
import subprocess
import sys

import pytest


def _run(*args):
    return subprocess.run([sys.executable, "-m", "proofs_checks.power_law", *args],
                          capture_output=True, text=True, timeout=900)


def test_quick_run_passes_and_writes_contract_json(tmp_path):
    out = tmp_path / "r.json"
    fig = tmp_path / "f.png"
    # --chunk-size 15: 300 seeds stream as 20 equal chunks (batch-means statistics)
    r = _run("--quick", "--chunk-size", "15", "--json", str(out), "--plot", str(fig))
    assert r.returncode == 0, r.stdout + r.stderr
    rep = json.loads(out.read_text())
    for k in ("check", "version", "config", "device", "precision", "claims", "timing", "curves"):
        assert k in rep
    assert {c["id"] for c in rep["claims"]} >= {"1", "2", "3a", "3b", "4a", "4b", "5", "6a", "6b"}
    for c in rep["claims"]:
        assert c["passed"] and c["ci"][0] <= c["ci"][1]
    tr = rep["curves"]["accumulate+select"]["trace"]
    assert len(tr["mean"]) == rep["config"]["generations"] + 1
    assert fig.stat().st_size > 10_000
    assert "PASS" in r.stdout


@pytest.mark.parametrize(("args", "flag"), [
    (["--alpha", "0"], "--alpha"), (["--alpha", "1.5"], "--alpha"), (["--n", "1"], "--n"),
    (["--generations", "1"], "--generations"), (["--seeds", "1"], "--seeds"),
    (["--fit-window", "50", "10"], "--fit-window"), (["--metric", "cosine"], "--metric"),
    (["--offset", "-1"], "--offset"), (["--dim", "0"], "--dim"),
])
def test_bad_input_exits_2_with_one_line(args, flag):
    r = _run(*args)
    assert r.returncode == 2
    lines = [x for x in r.stderr.strip().splitlines() if x]
    assert len(lines) == 1 and flag in lines[0] and "Traceback" not in r.stderr


@pytest.mark.slow
def test_check_can_fail_when_the_theory_is_wrong(tmp_path):
    # alpha = 1 is no selection: claim 3b (selection accelerates collapse) must fail.
    r = _run("--quick", "--alpha", "1", "--seeds", "60", "--generations", "40")
    assert r.returncode == 1
    assert "FAIL" in r.stdout
