import subprocess
import sys

import numpy as np
import pytest

from collapse_jax import sweep
from collapse_jax.loops import selection_config, selection_kernel, selection_params

CFG = selection_config(dim=1, n=20, alpha=0.5, alpha_min=0.25, generations=5)
GRID = {"alpha": [0.25, 0.5], "offset": [0.0, 1.0, 2.0]}


def _run(out, **kw):
    return sweep.run_grid(selection_kernel, 3, CFG, lambda **p: selection_params(CFG, **p),
                          GRID, seeds=4, out_dir=out, batch_points=4, **kw)


def test_interrupted_sweep_resumes_without_recomputing(tmp_path):
    first = _run(tmp_path / "a", stop_after=1)
    assert first["computed"] == [0, 1, 2, 3] and first["total"] == 6
    second = _run(tmp_path / "a")
    assert second["computed"] == [4, 5] and len(second["done"]) == 6
    whole = _run(tmp_path / "b")
    ra, rb = sweep.load_results(tmp_path / "a"), sweep.load_results(tmp_path / "b")
    np.testing.assert_allclose(ra["mean"], rb["mean"], rtol=1e-12)
    assert set(np.unique(ra["metric"])) >= {"trace", "w2_init", "psi_trace"}
    assert whole["computed"] == list(range(6))


def test_other_configuration_is_refused(tmp_path):
    _run(tmp_path / "a", stop_after=1)
    with pytest.raises(ValueError, match="another configuration"):
        sweep.run_grid(selection_kernel, 4, CFG, lambda **p: selection_params(CFG, **p), GRID,
                       seeds=4, out_dir=tmp_path / "a")


def test_cli_out_resume_and_bad_input(tmp_path):
    d = tmp_path / "s"
    cmd = [sys.executable, "-m", "proofs_checks.sweep"]
    r = subprocess.run(cmd + ["--out", str(d), "--alpha", "0.25", "0.5", "--seeds", "4",
                              "--generations", "4", "--n", "20"], capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "2/2 points" in r.stdout
    r = subprocess.run(cmd + ["--resume", str(d)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and "0 computed now" in r.stdout
    r = subprocess.run(cmd + ["--resume", str(tmp_path / "missing")], capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    r = subprocess.run(cmd + ["--out", str(tmp_path / "x"), "--alpha", "2"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "--alpha=2.0" in r.stderr


def test_cli_knowledge_center_kernel(tmp_path):
    """The verifier kernel sweeps (delta, r, verify) under one compile and resumes."""
    d = tmp_path / "kc"
    cmd = [sys.executable, "-m", "proofs_checks.sweep"]
    r = subprocess.run(cmd + ["--kernel", "knowledge_center", "--out", str(d), "--delta", "0",
                              "1", "--verify", "1", "0", "--n", "50", "--rounds", "3",
                              "--seeds", "8", "--p", "2", "--batch-points", "4"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "4/4 points" in r.stdout
    res = sweep.load_results(d)
    assert set(res["verify"]) == {0.0, 1.0} and set(res["delta"]) == {0.0, 1.0}
    acc = (res["metric"] == "acc_rate") & (res["generation"] == 1)
    # without the verifier every offered row is accepted
    assert np.all(res["mean"][acc & (res["verify"] == 0.0)] == 1.0)
    assert np.all(res["mean"][acc & (res["verify"] == 1.0)] < 1.0)
    r = subprocess.run(cmd + ["--resume", str(d)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and "0 computed now" in r.stdout
    r = subprocess.run(cmd + ["--kernel", "knowledge_center", "--out", str(tmp_path / "y"),
                              "--n", "10", "20"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "--n=[10, 20]" in r.stderr
