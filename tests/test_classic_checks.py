"""End-to-end runs of the three classic checks (``--quick``) and their input validation."""

import json

import pytest

from proofs_checks import gaussian_refit, real_mixing, regression_paradigms

CHECKS = {"gaussian_refit": gaussian_refit, "regression_paradigms": regression_paradigms,
          "real_mixing": real_mixing}
EXPECTED_IDS = {
    "gaussian_refit": {"1m", "2m", "3m", "4m", "5m", "6m", "7m", "8m", "9m2", "9m3", "10m",
                       "1u", "2u", "3u", "4u", "5u", "6u", "7u", "9u2", "9u3", "10u"},
    "regression_paradigms": {"1a", "1b", "2a", "2b", "2c", "3a", "3b", "4a", "4b", "4c"},
    "real_mixing": {"1:0.25", "2:0.25", "1:1", "2:1", "1:4", "2:4", "3", "4", "5", "6", "7",
                    "8"},
}
CURVE_KEYS = {"gaussian_refit": ("replace:unbiased", "walk"),
              "regression_paradigms": ("accumulate-subsample", "error"),
              "real_mixing": ("mix:lam=4", "var")}


@pytest.mark.parametrize("name", list(CHECKS))
def test_quick_run_passes_and_writes_contract_json(name, tmp_path, capsys):
    out, fig = tmp_path / "r.json", tmp_path / "f.png"
    code = CHECKS[name].main(["--quick", "--json", str(out), "--plot", str(fig)])
    stdout = capsys.readouterr().out
    assert code == 0, stdout
    rep = json.loads(out.read_text())
    for k in ("check", "version", "config", "device", "precision", "claims", "timing", "curves"):
        assert k in rep
    assert rep["check"] == name
    assert {c["id"] for c in rep["claims"]} == EXPECTED_IDS[name]
    for c in rep["claims"]:
        assert c["passed"] and c["ci"][0] <= c["ci"][1], c
    setting, metric = CURVE_KEYS[name]
    curve = rep["curves"][setting][metric]
    assert len(curve["mean"]) == len(curve["se"]) > 5
    assert fig.stat().st_size > 10_000
    assert "PASS" in stdout and "FAIL" not in stdout


@pytest.mark.parametrize(("name", "args", "flag"), [
    ("gaussian_refit", ["--n", "1"], "--n"),
    ("gaussian_refit", ["--level", "1.5"], "--level"),
    ("gaussian_refit", ["--estimator", "median"], "--estimator"),
    ("gaussian_refit", ["--generations", "2"], "--generations"),
    ("gaussian_refit", ["--dim", "0"], "--dim"),
    ("regression_paradigms", ["--T", "12"], "--T"),
    ("regression_paradigms", ["--noise", "-1"], "--noise"),
    ("regression_paradigms", ["--seeds", "1"], "--seeds"),
    ("regression_paradigms", ["--pool-size", "1000"], "--pool-size"),
    ("real_mixing", ["--lam", "-1"], "--lam"),
    ("real_mixing", ["--lam", "0"], "--lam"),
    ("real_mixing", ["--m", "1"], "--m"),
    ("real_mixing", ["--n", "x"], "--n"),
])
def test_bad_input_exits_2_with_one_line(name, args, flag, capsys):
    try:
        code = CHECKS[name].main(args)
    except SystemExit as e:  # argparse type errors exit directly
        code = e.code
    err = capsys.readouterr().err
    assert code == 2
    lines = [x for x in err.strip().splitlines() if x]
    assert len(lines) == 1 and flag in lines[0] and "Traceback" not in err


@pytest.mark.slow
def test_check_fails_when_it_cannot_discriminate(capsys):
    # 40 seeds cannot resolve the claims: the CIs are wider than the stated half-widths.
    code = regression_paradigms.main(["--quick", "--seeds", "40"])
    out = capsys.readouterr().out
    assert code == 1
    assert "FAIL" in out and "CI too wide to discriminate" in out
