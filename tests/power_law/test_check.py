import json
import subprocess
import sys

import pytest

from collapse_jax.power_law import check as power_law

# --chunk-size 15: 300 seeds stream as 20 equal chunks (batch-means statistics)
QUICK = ["--quick", "--chunk-size", "15"]


def _run(*args):
    return subprocess.run([sys.executable, "-m", "proofs_checks.power_law", *args],
                          capture_output=True, text=True, timeout=900)


def _claims(path):
    return {c["id"]: c for c in json.loads(path.read_text())["claims"]}


def test_quick_run_passes_and_writes_contract_json(tmp_path, capsys):
    # In process, so that the negative control below reuses the compiled programs; the
    # command line itself is exercised by the bad-input tests.
    out = tmp_path / "r.json"
    fig = tmp_path / "f.png"
    code = power_law.main(QUICK + ["--json", str(out), "--plot", str(fig)])
    stdout = capsys.readouterr().out
    assert code == 0, stdout
    rep = json.loads(out.read_text())
    for k in ("check", "version", "config", "device", "precision", "claims", "timing", "curves"):
        assert k in rep
    assert {c["id"] for c in rep["claims"]} >= {"1", "2", "3a", "3b", "4a", "4b", "5", "6a", "6b"}
    for c in rep["claims"]:
        assert c["passed"] and c["ci"][0] <= c["ci"][1]
    tr = rep["curves"]["accumulate+select"]["trace"]
    assert len(tr["mean"]) == rep["config"]["generations"] + 1
    assert fig.stat().st_size > 10_000
    assert "PASS" in stdout


@pytest.mark.reuses_programs
def test_negative_controls_perturbed_predictions_fail(tmp_path, capsys, monkeypatch):
    """Each prediction perturbed by more than the run resolves must fail: psi + 0.02 (claims 1
    and 5), the accumulate law 10% low (3a), and a deterministic equivalent tilted by
    t^(-0.01 n / 800) (claim 2 at n = 200: slope -0.0025; claim 6a: the drift from n to 4 n
    moves by 0.0075), and the W2 limit of Theorem 1 halved (4b: the gap then grows). Same sizes
    as --quick: the compiled programs are reused (it runs right after that test: a test in
    between may release them, tests/conftest.py)."""
    from collapse_jax.core import accumulation
    from collapse_jax.power_law import equivalent, theory

    real_psi, real_curves = theory.psi_closed_form, equivalent.equivalent_curves
    real_limit = theory.w2_limit_initial
    monkeypatch.setattr(theory, "w2_limit_initial", lambda *args: 0.5 * real_limit(*args))
    monkeypatch.setattr(theory, "psi_closed_form", lambda a, d: real_psi(a, d) + 0.02)
    monkeypatch.setattr(accumulation, "accumulate_trace_ratio",
                        lambda n, t, estimator="mle": 0.9 * (1.0 - 1.0 / n))

    def tilted(key, params, cfg, *, n, **kw):
        import numpy as np

        out, tm = real_curves(key, params, cfg, n=n, **kw)
        return {g: {k: v * np.maximum(np.arange(v.shape[-1]), 1.0) ** (-0.01 * n / 800)
                    for k, v in curves.items()} for g, curves in out.items()}, tm

    monkeypatch.setattr(equivalent, "equivalent_curves", tilted)
    out = tmp_path / "r.json"
    code = power_law.main(QUICK + ["--json", str(out)])
    stdout = capsys.readouterr().out
    assert code == 1, stdout
    claims = _claims(out)
    for cid in ("1", "2", "3a", "5", "6a"):
        assert not claims[cid]["passed"], claims[cid]
        assert claims[cid]["reason"] == "prediction outside CI", claims[cid]
    assert claims["4b"]["reason"] == "CI not below bound", claims["4b"]


def test_negative_control_without_selection_fails(tmp_path, capsys):
    """alpha = 1 keeps every point: no selection. "Selection accelerates collapse" (3b) and
    "the mean converges to u*" (4a) are then false and must fail (they failed at keys 0-3).

    Without selection 3b measures the law of 3a, so 3b can only pass when its CI lies wholly
    below 3a's exact value, and 4a only when the CI of a zero slope lies wholly below 0: each
    happens with probability (1 - level)/2 = 0.28%, so this control wrongly passes one of
    them for about 0.6% of keys (the key is fixed: the run is deterministic). Same sizes as
    --quick, but alpha = 1 changes the candidate count, so its programs are its own (it is
    not marked ``reuses_programs``).
    """
    out = tmp_path / "r.json"
    code = power_law.main(QUICK + ["--alpha", "1", "--json", str(out)])
    stdout = capsys.readouterr().out
    assert code == 1, stdout
    claims = _claims(out)
    assert claims["3b"]["reason"] == "CI not below bound" and not claims["3b"]["passed"]
    assert claims["4a"]["reason"] == "CI not below bound" and not claims["4a"]["passed"]
    # without selection the offset deficit has no sign (the W2 gap of 4b still closes: its
    # negative control halves the limit, below)
    assert not claims["6b"]["passed"], claims["6b"]
    assert "FAIL" in stdout


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
