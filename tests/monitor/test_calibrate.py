"""``python -m collapse_jax.monitor.calibrate``: the false-alarm check at the user's sizes.

Small sizes here (the measured rates are in docs/monitor.md and the slow test of
``test_ground_truth.py``); the verdict's negative control: the same alarm counts against a
wrong nominal rate FAIL.
"""

import json
import subprocess
import sys

import pytest
from scipy import stats

from collapse_jax.monitor.calibrate import main, measure, verdict


def test_verdict_interval_is_the_exact_one():
    lo, hi = verdict(7, 100, 0.05, level=0.95)["ci"]
    # the bounds are where the binomial tails equal (1 - level) / 2
    assert stats.binom.sf(6, 100, lo) == pytest.approx(0.025, rel=1e-6)
    assert stats.binom.cdf(7, 100, hi) == pytest.approx(0.025, rel=1e-6)
    assert verdict(0, 50, 0.05)["ci"][0] == 0.0 and verdict(50, 50, 0.05)["ci"][1] == 1.0


def test_measure_counts_the_monitor_alarms_and_decides():
    r = measure(features=2, samples=100, generations=6, pipelines=30, seed=5)
    assert r["pipelines"] == 30 and 0 <= r["alarms"] <= 30
    assert sum(r["alarm_generations"].values()) == r["alarms"]
    assert all(int(t) >= 2 for t in r["alarm_generations"])  # the accumulate null's first test
    assert r["ci"][0] <= r["rate"] <= r["ci"][1]
    assert r["verdict"] == ("PASS" if r["ci"][0] <= 0.05 <= r["ci"][1] else "FAIL")
    # the same key gives the same count
    again = measure(features=2, samples=100, generations=6, pipelines=30, seed=5)
    assert again["alarms"] == r["alarms"]


def test_negative_control_a_wrong_nominal_rate_fails():
    """At 1000 pipelines a measured 0.05 passes against 0.05 and fails against 0.08 and 0.03."""
    assert verdict(50, 1000, 0.05)["verdict"] == "PASS"
    assert verdict(50, 1000, 0.08)["verdict"] == "FAIL"
    assert verdict(50, 1000, 0.03)["verdict"] == "FAIL"
    # the interval narrows as pipelines grow: 5/100 cannot reject 0.08
    assert verdict(5, 100, 0.08)["verdict"] == "PASS"


def test_cli_writes_json_and_exit_code_follows_the_verdict(tmp_path, capsys):
    out = tmp_path / "cal.json"
    rc = main(["--pipelines", "20", "--generations", "5", "--samples", "60",
               "--json", str(out)])
    res = json.loads(out.read_text())
    assert rc == (0 if res["verdict"] == "PASS" else 1)
    assert res["pipelines"] == 20 and res["configuration"]["samples"] == 60
    assert "versions" in res and res["nominal"] == 0.05
    text = capsys.readouterr()
    assert "false-alarm rate" in text.out and res["verdict"] in text.out
    assert "pipelines" in text.err  # progress on stderr


@pytest.mark.parametrize("argv", [
    ["--features", "0"], ["--samples", "3"], ["--generations", "2"], ["--pipelines", "5"],
    ["--false-alarm", "0.5"], ["--false-alarm", "nan"], ["--level", "1"], ["--resamples", "5"],
    ["--pipeline", "replace"], ["--null", "x"], ["--json", "/no/such/folder/x.json"],
    ["--json", "out.txt"], ["--features", "512", "--samples", "100000", "--generations", "10"],
])
def test_bad_input_exits_2_with_one_line(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("collapse_jax.monitor.calibrate: error:")


def test_module_runs_as_a_command():
    p = subprocess.run([sys.executable, "-m", "collapse_jax.monitor.calibrate", "--help"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and "--false-alarm" in p.stdout and "default: 0.05" in p.stdout
