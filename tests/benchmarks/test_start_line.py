"""``benchmarks/start_line.py`` reads the start line the checks print: if the line's form
changes, the benchmark would time out instead of measuring, so one launch of it runs here."""

from __future__ import annotations

import json
import math

import pytest

from . import load


def _module():
    return load("start_line")


def test_one_launch_finds_the_start_line_and_times_every_help(tmp_path, capsys):
    bench = _module()
    out = tmp_path / "start.json"
    assert bench.main(["--checks", "knowledge_center", "--repeat", "1", "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert set(doc["start_line"]) == {"knowledge_center"}
    assert set(doc["help"]) == set(bench.COMMANDS)  # every command, the sweep included
    times = [doc["start_line"]["knowledge_center"]["median_s"]]
    times += [r["median_s"] for r in (*doc["help"].values(), *doc["baselines"].values())]
    assert all(math.isfinite(t) and t > 0 for t in times)
    assert doc["slowest_start_line_s"] == times[0]
    assert doc["machine"]["versions"]["jax"]
    assert "slowest start line" in capsys.readouterr().out


def test_a_check_without_a_start_line_is_reported_not_waited_for():
    # a value the check refuses: one error line, exit 2, no start line
    with pytest.raises(SystemExit, match=r"no start line .*exit 2.*--alpha"):
        _module().until_start_line("power_law", ("--alpha", "2"))


def test_repeat_below_one_is_refused():
    with pytest.raises(SystemExit):
        _module().main(["--repeat", "0"])
