import json
import subprocess
import sys

import pytest


def _run(*args):
    return subprocess.run([sys.executable, "-m", "proofs_checks.proxy_references", *args],
                          capture_output=True, text=True, timeout=900)


@pytest.mark.slow
def test_quick_run_decides_every_claim_and_writes_contract_json(tmp_path):
    out = tmp_path / "r.json"
    fig = tmp_path / "f.png"
    r = _run("--quick", "--json", str(out), "--plot", str(fig))
    # Some claims are findings against the paper (exit 1); the run itself must succeed.
    assert r.returncode in (0, 1), r.stdout + r.stderr
    rep = json.loads(out.read_text())
    for k in ("check", "version", "config", "device", "precision", "claims", "timing", "curves"):
        assert k in rep
    ids = {c["id"] for c in rep["claims"]}
    assert ids == {"1a", "1b", "1c", "2a", "2b", "2c", "2d", "2e", "2f", "3a", "3b", "3c",
                   "3d", "3e", "3f", "4a", "4b", "5a", "5b"}
    for c in rep["claims"]:
        assert c["ci"][0] <= c["ci"][1] and isinstance(c["passed"], bool)
        assert "too wide" not in c["reason"], c  # quick still decides every claim
    cov = rep["curves"]["skewed:local"]["coverage"]
    assert len(cov["mean"]) == rep["config"]["generations"] + 1
    assert "iid:random" in rep["curves"] and "frechet_by_round" in rep["curves"][
        "skewed:barycenter"]
    assert fig.stat().st_size > 10_000
    assert (tmp_path / "f_gallery.png").stat().st_size > 10_000
    assert ("FAIL" in r.stdout) == (r.returncode == 1)


@pytest.mark.parametrize(("args", "flag"), [
    (["--beta", "0"], "--beta"), (["--strategies", "random,nearest"], "--strategies"),
    (["--alpha", "1.5"], "--alpha"), (["--dim", "3", "--modes", "9"], "--modes"),
])
def test_bad_input_exits_2_with_one_line(args, flag):
    r = _run(*args)
    assert r.returncode == 2
    lines = [x for x in r.stderr.strip().splitlines() if x]
    assert len(lines) == 1 and flag in lines[0] and "Traceback" not in r.stderr
