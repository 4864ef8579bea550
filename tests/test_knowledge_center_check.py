import json

import numpy as np
import pytest

from collapse_jax import plots_knowledge_center as pk
from proofs_checks import knowledge_center as kc

IDS = {"1a", "1b", "2", "3a", "3b", "4a", "4b", "4c", "5a", "5b", "6a", "6b", "7", "8", "9a",
       "9b"}


def test_quick_run_passes_and_writes_contract_json(tmp_path, capsys):
    out = tmp_path / "r.json"
    code = kc.main(["--quick", "--json", str(out)])
    printed = capsys.readouterr().out
    assert code == 0, printed
    rep = json.loads(out.read_text())
    for k in ("check", "version", "config", "device", "precision", "claims", "timing", "curves"):
        assert k in rep
    assert {c["id"] for c in rep["claims"]} == IDS
    for c in rep["claims"]:
        assert c["passed"] and c["ci"][0] <= c["ci"][1], c
    assert {c["relation"] for c in rep["claims"]} >= {"equal", "below", "above", "at_most"}
    rounds = rep["config"]["generations"]
    for name in ("main", "unbiased", "no-verifier", "iso:main"):
        cur = rep["curves"][name]
        assert len(cur["err_center"]["mean"]) == rounds + 1
        assert len(cur["theta"]["mean"][0]) == rep["config"]["p"]
    assert rep["findings"]["failed_rounds"]["main"] == 0
    assert "PASS" in printed and "16 passed" in printed


@pytest.mark.parametrize(("args", "flag"), [
    (["--p", "0"], "--p"), (["--n0", "6"], "--n0"), (["--n", "3"], "--n"),
    (["--sigma", "0"], "--sigma"), (["--sigma-c", "-1"], "--sigma-c"), (["--r", "-0.5"], "--r"),
    (["--r", "0", "--sigma-c", "0"], "--r"), (["--delta", "-1"], "--delta"),
    (["--rounds", "2"], "--rounds"), (["--seeds", "1"], "--seeds"),
    (["--design", "grid"], "--design"), (["--paradigm", "mix"], "--paradigm"),
])
def test_bad_input_exits_2_with_one_line(args, flag, capsys):
    with pytest.raises(SystemExit) if flag in ("--design", "--paradigm") else _no_raise():
        code = kc.main(args)
        assert code == 2
    err = capsys.readouterr().err
    lines = [x for x in err.strip().splitlines() if x]
    assert len(lines) == 1 and flag in lines[0] and "Traceback" not in err


def test_too_few_rounds_for_the_stationary_regime_exits_2(capsys):
    assert kc.main(["--quick", "--rounds", "8"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--rounds=8" in err[0]


def test_figure_from_arrays():
    rng = np.random.default_rng(0)
    k = 6
    runs = {d: np.abs(rng.normal(d**2 + 0.01, 0.01, (5, k + 1))) for d in (0.0, 0.5)}
    theory = {d: np.full(k + 1, d**2 + 0.01) for d in (0.0, 0.5)}
    phase = {"delta": np.linspace(0, 1, 3), "r": np.linspace(0.1, 1, 3),
             "measured": np.array([[-1.0, -0.5, -0.2], [-0.1, 0.1, 0.2], [0.5, 0.8, 1.0]]),
             "fine_delta": np.linspace(0, 1, 5), "fine_r": np.linspace(0.1, 1, 5),
             "predicted": np.subtract.outer(np.linspace(0, 1, 5), np.linspace(0.2, 0.6, 5))}
    fig = pk.knowledge_center_figure(
        delta_runs=runs, delta_theory=theory, r_runs=runs, r_theory=theory,
        stationary={0.0: 0.01, 0.5: 0.26}, bound=np.full(k + 1, 0.02),
        no_verifier=runs[0.5], no_verifier_walk=np.cumsum(np.abs(runs[0.0]), axis=1),
        no_verifier_slope=0.01, phase=phase, title="test")
    assert len(fig.axes) == 5


class _no_raise:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False
