"""Unit tests of the verdict layer every check shares (:mod:`collapse_jax.verdict`).

What is pinned here is the contract of design.md and of every ``--help``: how a claim is
decided (relation, non-finite values, the width rule), the exit codes of ``run_check`` (0 all
pass, 1 a claim fails, 2 bad input in one line, 3 internal error with a traceback log, 130
interrupted), the output-path checks made before anything is computed, atomic writes that
leave neither temporary files nor a damaged old file, and the CPU-progress watchdog (an idle
process is stopped with exit 3 and one line naming the stage; a busy one is not).
"""

from __future__ import annotations

import dataclasses
import glob
import json
import math
import os
import re
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from collapse_jax.core._validate import InvalidInput
from collapse_jax.verdict import cli, errors, family, files, outputs, report, table, watchdog
from collapse_jax.verdict.claim import Claim
from collapse_jax.verdict.errors import CheckError

NAN, INF = float("nan"), float("inf")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _claim(predicted=1.0, measured=1.0, ci=(0.9, 1.1), max_half_width=0.5, relation="equal",
           min_effect=None):
    return Claim("c", "statement", predicted, measured, ci, max_half_width, relation,
                 min_effect=min_effect)


# ---------------------------------------------------------------------------------------------
# Claim: relations, non-finite values, the width rule.


@pytest.mark.parametrize(("relation", "predicted", "ci", "passed", "reason"), [
    ("equal", 1.0, (0.9, 1.1), True, "prediction inside CI"),
    ("equal", 0.9, (0.9, 1.1), True, "prediction inside CI"),  # the ends belong to the CI
    ("equal", 1.1, (0.9, 1.1), True, "prediction inside CI"),
    ("equal", 1.2, (0.9, 1.1), False, "prediction outside CI"),
    ("equal", 0.8, (0.9, 1.1), False, "prediction outside CI"),
    ("below", 1.2, (0.9, 1.1), True, "CI below bound"),
    ("below", 1.1, (0.9, 1.1), False, "CI not below bound"),  # strict: touching is not below
    ("below", 1.0, (0.9, 1.1), False, "CI not below bound"),
    ("below", 0.5, (0.9, 1.1), False, "CI not below bound"),
    ("above", 0.8, (0.9, 1.1), True, "CI above bound"),
    ("above", 0.9, (0.9, 1.1), False, "CI not above bound"),
    ("above", 1.0, (0.9, 1.1), False, "CI not above bound"),
    ("above", 1.5, (0.9, 1.1), False, "CI not above bound"),
])
def test_claim_relations(relation, predicted, ci, passed, reason):
    c = _claim(predicted=predicted, measured=1.0, ci=ci, relation=relation)
    assert c.passed is passed and c.reason == reason
    js = c.to_json()
    assert js["passed"] is passed and js["relation"] == relation and js["reason"] == reason
    assert js["ci"] == [ci[0], ci[1]] and js["predicted"] == predicted


@pytest.mark.parametrize("relation", ["equal", "below", "above"])
@pytest.mark.parametrize("field", ["measured", "lo", "hi", "predicted"])
@pytest.mark.parametrize("bad", [NAN, INF, -INF])
def test_non_finite_values_fail_with_their_reason(relation, field, bad):
    # A configuration that would pass with finite values, for each relation.
    good = {"equal": 1.0, "below": 2.0, "above": 0.0}[relation]
    kw = {"predicted": good, "measured": 1.0, "ci": (0.9, 1.1), "relation": relation}
    assert _claim(**kw).passed
    if field == "measured":
        kw["measured"] = bad
    elif field == "predicted":
        kw["predicted"] = bad
    else:
        kw["ci"] = (bad, 1.1) if field == "lo" else (0.9, bad)
    c = _claim(**kw)
    assert c.passed is False
    assert c.reason == "non-finite estimate (see metrics)"
    js = c.to_json()  # NaN and inf are written as null, never as invalid JSON
    json.dumps(js, allow_nan=False)
    assert js["passed"] is False


def test_numpy_scalars_are_accepted():
    c = Claim("c", "s", np.float32(1.0), np.float64(1.0), (np.float64(0.5), np.float64(1.5)),
              max_half_width=np.float64(1.0))
    assert c.passed
    c = Claim("c", "s", 1.0, np.float64("nan"), (0.5, 1.5), 1.0)
    assert not c.passed and "non-finite" in c.reason


@pytest.mark.parametrize("relation", ["equal", "below", "above"])
def test_width_rule(relation):
    pred = {"equal": 1.0, "below": 5.0, "above": -3.0}[relation]
    # half-width 1.0: at the cap it decides, just above the cap it fails whatever the relation
    at_cap = _claim(predicted=pred, ci=(0.0, 2.0), max_half_width=1.0, relation=relation)
    assert at_cap.passed and "too wide" not in at_cap.reason
    over = _claim(predicted=pred, ci=(0.0, 2.0), max_half_width=0.999, relation=relation)
    assert over.passed is False
    assert over.reason.startswith("CI too wide to discriminate: half-width 1 > 0.999")


def test_width_rule_is_checked_before_the_relation():
    # The prediction is far outside the CI, but a CI that is too wide means "undecided", and
    # the reason says so rather than claiming a refutation.
    c = _claim(predicted=100.0, ci=(0.0, 10.0), max_half_width=1.0)
    assert not c.passed and "too wide" in c.reason


def test_nan_width_cap_does_not_disable_the_width_rule():
    c = _claim(predicted=1.0, measured=1.0, ci=(-1e9, 1e9), max_half_width=NAN)
    assert not c.passed


def test_inverted_ci_does_not_pass():
    c = _claim(predicted=0.0, measured=-1.0, ci=(1.0, -2.0), max_half_width=0.1,
               relation="below")
    assert not c.passed


@pytest.mark.parametrize(("relation", "ci", "passed", "decided", "start"), [
    # below 0 with a smallest effect of 2: wholly below 0 passes at any width
    ("below", (-90.0, -0.1), True, True, "CI wholly on the claimed side"),
    # the CI rules out a gain of 2 (its lower end above -2): refuted, whatever it holds of 0
    ("below", (-1.9, 30.0), False, True, "refuted"),
    ("below", (-1.0, 1.0), False, True, "refuted"),
    # both 0 and a gain of 2 (or more) inside: undecided
    ("below", (-2.0, 0.0), False, False, "undecided"),
    ("below", (-5.0, 5.0), False, False, "undecided"),
    ("above", (0.1, 90.0), True, True, "CI wholly on the claimed side"),
    ("above", (-30.0, 1.9), False, True, "refuted"),
    ("above", (-1.0, 3.0), False, False, "undecided"),
])
def test_min_effect_rule(relation, ci, passed, decided, start):
    c = _claim(predicted=0.0, measured=0.5 * (ci[0] + ci[1]), ci=ci, max_half_width=0.01,
               relation=relation, min_effect=2.0)
    assert (c.passed, c.decided) == (passed, decided), c.reason
    assert c.reason.startswith(start), c.reason
    assert c.to_json()["min_effect"] == 2.0 and c.to_json()["decided"] is decided
    text = table.format_table("t", [c], {})
    assert " eff 2.00" in text  # the table shows the effect, not the unused width cap


def test_min_effect_is_refused_with_an_equality_and_fails_when_not_finite():
    for relation in ("equal", "at_most"):
        with pytest.raises(ValueError, match="min_effect=2.0 is invalid with relation"):
            _claim(relation=relation, min_effect=2.0)
    for bad in (NAN, 0.0, -1.0, math.inf):
        c = _claim(predicted=0.0, ci=(-9.0, -1.0), relation="below", min_effect=bad)
        assert not c.passed and not c.decided and c.reason.startswith("invalid min_effect")


def _seed_claim(gain, spread, n, relation="above", effect=2.0, cap=None):
    """A claim at ``n`` seeds whose CI is ``gain +- spread / sqrt(n)`` (in the claimed
    direction, bound 0): the law ``seeds_to_decide`` assumes, so that its estimate is exact."""
    sign = 1.0 if relation == "above" else -1.0
    h = spread / math.sqrt(n)
    lo, hi = sorted((sign * (gain - h), sign * (gain + h)))
    return Claim("c", "s", 0.0, sign * gain, (lo, hi), cap if cap else math.inf, relation,
                 min_effect=None if cap else effect, seeds=n)


@pytest.mark.parametrize("relation", ["above", "below"])
@pytest.mark.parametrize(("gain", "to"), [
    (1.5, "pass"),      # nearer the effect than the bound: passing is cheaper
    (0.4, "refute"),    # nearer the bound: refuting is cheaper
    (-0.3, "refute"),   # the wrong side: only refuting is possible
    (2.6, "pass"),      # beyond the effect: only passing is possible
])
def test_seeds_to_decide_is_the_count_that_decides_at_this_spread(relation, gain, to):
    """At ``seeds_to_decide`` the same spread decides the claim (the way the estimate says),
    one seed fewer does not; a decided claim carries no estimate."""
    c = _seed_claim(gain, 20.0, 24, relation)
    assert not c.decided and c.seeds_to_decide is not None, c.reason
    n = c.seeds_to_decide
    assert f"about {n} seeds would decide it at this spread, against 24 here" in c.reason
    assert c.to_json()["seeds_to_decide"] == n and c.to_json()["seeds"] == 24
    at = _seed_claim(gain, 20.0, n, relation)
    assert at.decided and at.passed == (to == "pass") and at.seeds_to_decide is None, at.reason
    assert not _seed_claim(gain, 20.0, n - 1, relation).decided
    # by hand: passing needs spread / sqrt(n) < gain, refuting spread / sqrt(n) < 2 - gain
    need = min(v for v in ((20.0 / gain) ** 2 if gain > 0 else math.inf,
                           (20.0 / (2.0 - gain)) ** 2 if gain < 2.0 else math.inf))
    assert n == math.floor(need) + 1


def test_seeds_to_decide_under_the_width_rule_and_where_it_cannot_be_given():
    wide = _seed_claim(0.0, 10.0, 25, cap=0.5)  # half-width 2 against a cap of 0.5
    assert not wide.decided and wide.seeds_to_decide == 25 * 16
    assert _seed_claim(0.0, 10.0, 400, cap=0.5).decided
    # decided, without a seed count, or non-finite: no estimate, and the JSON says which
    assert _seed_claim(5.0, 1.0, 24).seeds_to_decide is None
    plain = _claim(predicted=0.0, ci=(-1.0, 3.0), relation="above", min_effect=2.0)
    assert not plain.decided and plain.seeds_to_decide is None
    assert "seeds" not in plain.to_json() and "would decide" not in plain.reason
    bad = Claim("c", "s", 0.0, NAN, (-1.0, 3.0), INF, "above", min_effect=2.0, seeds=24)
    assert bad.seeds_to_decide is None and bad.to_json()["seeds_to_decide"] is None
    assert Claim("c", "s", 0.0, 1.0, (-1.0, 3.0), INF, "above", min_effect=2.0,
                 seeds=np.int64(24)).seeds_to_decide is not None
    for seeds in (1, 0, 2.5, True, "24"):
        with pytest.raises(ValueError, match=f"seeds={seeds!r} is invalid"):
            Claim("c", "s", 0.0, 1.0, (-1.0, 3.0), INF, "above", min_effect=2.0, seeds=seeds)


def test_the_table_says_how_many_seeds_would_decide_every_undecided_claim():
    a, b = _seed_claim(0.4, 20.0, 24), _seed_claim(1.5, 20.0, 24)
    text = table.format_table("t", [a, b, _seed_claim(5.0, 1.0, 24)], {})
    n = max(a.seeds_to_decide, b.seeds_to_decide)
    assert f"1 passed, 2 failed (2 of them undecided; about {n} seeds would decide them all)" \
        in text
    # one undecided claim without an estimate: no count for the whole run
    plain = _claim(predicted=0.0, ci=(-1.0, 3.0), relation="above", min_effect=2.0)
    assert "(2 of them undecided)" in table.format_table("t", [a, plain], {})


def test_with_seeds_decides_again_with_the_seed_count():
    from collapse_jax.verdict import with_seeds

    wide, own = _seed_claim(0.0, 10.0, 25, cap=0.5), _seed_claim(0.4, 20.0, 24)
    plain = dataclasses.replace(wide, seeds=None)
    assert plain.seeds_to_decide is None
    out = with_seeds([plain, own], 25)
    assert out[0].seeds == 25 and out[0].seeds_to_decide == wide.seeds_to_decide
    assert out[0].reason == wide.reason and out[1] is own  # its own count is kept


def test_width_rule_marks_claims_undecided():
    assert _claim().decided
    assert not _claim(ci=(0.0, 10.0), max_half_width=1.0).decided
    assert not _claim(measured=NAN).decided
    assert "min_effect" not in _claim().to_json()


def test_unknown_relation_is_refused():
    with pytest.raises(ValueError, match="relation='at_least' is unknown"):
        _claim(relation="at_least")  # (at_most became a relation: collapse_jax.verdict)


def test_format_table_marks_each_verdict_and_reason():
    claims = [_claim(), _claim(predicted=2.0), _claim(measured=NAN)]
    text = table.format_table("title", claims, {"compile_s": 1.0, "run_s": 2.0})
    rows = [x for x in text.splitlines() if x.startswith("c ")]
    assert [r.split()[-1] for r in rows] == ["PASS", "FAIL", "FAIL"]
    assert "-> prediction outside CI" in text and "-> non-finite estimate" in text
    assert "1 passed, 2 failed (1 of them undecided)" in text  # the non-finite one


def test_simultaneous_level_is_bonferroni():
    assert family.simultaneous_level(10) == pytest.approx(0.995)
    assert family.simultaneous_level(1) == pytest.approx(0.95)
    assert family.simultaneous_level(0) == pytest.approx(0.95)


# ---------------------------------------------------------------------------------------------
# run_check: exit codes with a fake check.


def _parser():
    return cli.base_parser("fake_check", "a fake check", seeds=10, generations=5)


def _body(claims=None, raises=None, calls=None):
    def body(args):
        if calls is not None:
            calls.append(args)
        if raises is not None:
            raise raises
        for i, c in enumerate(claims):  # the plan needs distinct ids
            c.id = f"c{i + 1}"
        args.plan.declare([c.id for c in claims])
        report = {"config": {"seeds": args.seeds}, "precision": "float64",
                  "timing": {"compile_s": 0.0, "run_s": 0.0, "seed_generations_per_s": 0.0},
                  "curves": {"x": [1.0, NAN]}}

        def figure(path):
            with open(path, "w") as f:
                f.write("figure")

        return report, list(claims), figure

    return body


def _run(body, argv=(), **kw):
    return cli.run_check("fake_check", _parser(), body, list(argv), **kw)


@pytest.fixture
def log_dir(tmp_path, monkeypatch):
    d = tmp_path / "logs"
    d.mkdir()
    monkeypatch.setenv("COLLAPSE_JAX_LOG_DIR", str(d))
    monkeypatch.delenv("COLLAPSE_JAX_WATCHDOG", raising=False)
    return d


def _stderr_lines(capsys):
    cap = capsys.readouterr()
    return cap.out, [x for x in cap.err.splitlines() if x.strip()], cap.err


def test_exit_0_when_every_claim_passes(tmp_path, capsys, log_dir):
    out, fig = tmp_path / "r.json", tmp_path / "f.png"
    code = _run(_body([_claim(), _claim(predicted=2.0, relation="below")]),
                ["--json", str(out), "--plot", str(fig)])
    stdout, err, _ = _stderr_lines(capsys)
    assert code == errors.EXIT_PASS == 0
    assert err == []
    assert "2 passed, 0 failed" in stdout and f"wrote {out}" in stdout
    rep = json.loads(out.read_text())  # strict JSON: NaN in a curve became null
    assert rep["check"] == "fake_check" and rep["curves"]["x"] == [1.0, None]
    assert [c["passed"] for c in rep["claims"]] == [True, True]
    assert fig.read_text() == "figure"
    assert sorted(os.listdir(tmp_path)) == ["f.png", "logs", "r.json"]  # no temporary files


def test_exit_1_when_one_claim_fails(capsys, log_dir):
    code = _run(_body([_claim(), _claim(predicted=2.0)]))
    stdout, err, _ = _stderr_lines(capsys)
    assert code == errors.EXIT_FAIL == 1
    assert "1 passed, 1 failed" in stdout and "FAIL" in stdout and err == []


def test_exit_1_when_a_claim_is_non_finite(capsys, log_dir):
    assert _run(_body([_claim(measured=NAN)])) == 1


@pytest.mark.parametrize("exc", [CheckError("--foo=3 is invalid: allowed 1 .. 2"),
                                 InvalidInput("--foo=3 is invalid:\n allowed 1 .. 2")])
def test_exit_2_for_bad_input_raised_in_the_body(exc, capsys, log_dir):
    code = _run(_body([_claim()], raises=exc))
    stdout, err, raw = _stderr_lines(capsys)
    assert code == errors.EXIT_INPUT == 2
    assert err == ["python -m proofs_checks.fake_check: error: --foo=3 is invalid: allowed 1 .. 2"]
    assert "Traceback" not in raw and stdout == ""
    assert os.listdir(log_dir) == []  # bad input is not an internal error: no log


@pytest.mark.parametrize(("argv", "flag"), [
    (["--json", "/nonexistent-folder/x.json"], "--json"),
    (["--plot", "figure.xyz"], "--plot"),
    (["--key", "-1"], "--key"),
    (["--watchdog", "-1"], "--watchdog"),
    (["--watchdog", "nan"], "--watchdog"),
    (["--chunk-size", "0"], "--chunk-size"),
])
def test_exit_2_for_bad_shared_flags_before_the_body_runs(argv, flag, capsys, log_dir):
    calls = []
    code = _run(_body([_claim()], calls=calls), argv)
    _, err, raw = _stderr_lines(capsys)
    assert code == 2 and calls == []
    assert len(err) == 1 and flag in err[0] and "Traceback" not in raw


def test_exit_2_for_a_bad_watchdog_environment_variable(capsys, log_dir, monkeypatch):
    monkeypatch.setenv("COLLAPSE_JAX_WATCHDOG", "soon")
    calls = []
    assert _run(_body([_claim()], calls=calls)) == 2 and calls == []
    _, err, _ = _stderr_lines(capsys)
    assert len(err) == 1 and "COLLAPSE_JAX_WATCHDOG='soon'" in err[0]


def test_exit_2_for_an_argparse_error_in_one_line(capsys):
    with pytest.raises(SystemExit) as e:
        _run(_body([_claim()]), ["--seeds", "many"])
    _, err, raw = _stderr_lines(capsys)
    assert e.value.code == 2
    assert len(err) == 1 and "--seeds" in err[0] and "usage" not in raw


def test_exit_3_for_an_internal_error_with_a_traceback_log(capsys, log_dir):
    def body(args):
        def inner():
            raise RuntimeError("shapes (3,) and (4,)\ndo not match: a=1")
        inner()

    code = _run(body)
    stdout, err, raw = _stderr_lines(capsys)
    assert code == errors.EXIT_INTERNAL == 3
    assert len(err) == 1 and "Traceback" not in raw and stdout == ""
    line = err[0]
    assert line.startswith("python -m proofs_checks.fake_check: internal error: RuntimeError: "
                           "shapes (3,) and (4,) do not match: a=1")
    path = re.search(r"traceback in (\S+)\)$", line).group(1)
    assert os.path.dirname(path) == str(log_dir) and os.path.isfile(path)
    log = open(path).read()
    assert log.startswith("Traceback (most recent call last)")
    assert "in inner" in log and "RuntimeError: shapes (3,) and (4,)" in log


def test_exit_3_message_is_cut_to_one_short_line(capsys, log_dir):
    def body(args):
        raise ValueError("x" * 1000)  # a plain ValueError is not bad input

    assert _run(body) == 3
    _, err, _ = _stderr_lines(capsys)
    assert len(err) == 1 and len(err[0]) < 400 and "..." in err[0]


def test_exit_130_on_keyboard_interrupt(capsys, log_dir):
    code = _run(_body([_claim()], raises=KeyboardInterrupt()))
    stdout, err, raw = _stderr_lines(capsys)
    assert code == errors.EXIT_INTERRUPTED == 130
    assert len(err) == 1 and "interrupted" in err[0] and "Traceback" not in raw
    assert os.listdir(log_dir) == []


def test_wall_time_is_printed_only_for_runs_that_were_not_refused(capsys, log_dir):
    assert _run(_body([_claim()]), wall_time=True) == 0
    assert "total wall time" in capsys.readouterr().out
    assert _run(_body([_claim()], raises=CheckError("--x=1 is invalid")), wall_time=True) == 2
    assert "total wall time" not in capsys.readouterr().out


def test_every_help_states_the_exit_codes(capsys):
    with pytest.raises(SystemExit) as e:
        _parser().parse_args(["--help"])
    assert e.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    for piece in ("0 every claim passes", "1 a claim fails", "2 bad input", "3 internal error",
                  "130 interrupted"):
        assert piece in text


# ---------------------------------------------------------------------------------------------
# Output paths.


def test_check_output_path_accepts_writable_paths(tmp_path):
    assert outputs.check_output_path("--json", None) is None
    p = str(tmp_path / "r.json")
    assert outputs.check_output_path("--json", p) == p
    assert outputs.check_output_path("--plot", str(tmp_path / "f.PNG"), outputs.PLOT_EXTENSIONS)
    (tmp_path / "old.json").write_text("{}")  # an existing writable file may be replaced
    assert outputs.check_output_path("--json", str(tmp_path / "old.json"))


@pytest.mark.parametrize(("case", "match"), [
    ("missing", "does not exist"),
    ("folder", "it is a folder"),
    ("extension", "allowed extensions .png"),
    ("no-extension", "allowed extensions"),
    ("empty", "allowed a file name"),
])
def test_check_output_path_refuses(case, match, tmp_path):
    flag, ext = ("--plot", outputs.PLOT_EXTENSIONS)
    path = {"missing": tmp_path / "nope" / "f.png", "folder": tmp_path,
            "extension": tmp_path / "f.xyz", "no-extension": tmp_path / "f",
            "empty": " "}[case]
    with pytest.raises(CheckError, match=re.escape(match)) as e:
        outputs.check_output_path(flag, str(path), ext)
    msg = str(e.value)
    assert msg.startswith(f"{flag}=") and "\n" not in msg
    assert isinstance(e.value, InvalidInput)


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0,
                    reason="root may write anywhere; the monkeypatched test below covers it")
def test_check_output_path_refuses_an_unwritable_folder(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(CheckError, match="is not writable"):
            outputs.check_output_path("--json", str(folder / "r.json"))
    finally:
        folder.chmod(0o700)


def test_check_output_path_refuses_what_os_access_denies(tmp_path, monkeypatch):
    folder = tmp_path / "ro"
    folder.mkdir()
    (tmp_path / "locked.json").write_text("{}")
    real = os.access

    def access(path, mode, *a, **kw):
        if os.path.abspath(path) in (str(folder), str(tmp_path / "locked.json")):
            return False
        return real(path, mode, *a, **kw)

    monkeypatch.setattr(os, "access", access)
    with pytest.raises(CheckError, match="folder .* is not writable"):
        outputs.check_output_path("--json", str(folder / "r.json"))
    with pytest.raises(CheckError, match="the file exists and is not writable"):
        outputs.check_output_path("--json", str(tmp_path / "locked.json"))


# ---------------------------------------------------------------------------------------------
# Atomic writes.


def _leftovers(folder):
    return sorted(glob.glob(os.path.join(folder, ".*")) + glob.glob(os.path.join(folder, "*tmp*")))


def test_atomic_write_text_replaces_and_leaves_nothing_behind(tmp_path):
    p = tmp_path / "r.json"
    files.atomic_write_text(str(p), "first")
    files.atomic_write_text(str(p), "second")
    assert p.read_text() == "second"
    assert os.listdir(tmp_path) == ["r.json"]


def test_atomic_write_text_keeps_the_old_file_when_writing_fails(tmp_path, monkeypatch):
    p = tmp_path / "r.json"
    p.write_text("old")
    with pytest.raises(TypeError):  # fails after the temporary file was created
        files.atomic_write_text(str(p), 12345)
    assert p.read_text() == "old" and _leftovers(tmp_path) == []

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="No space"):
        files.atomic_write_text(str(p), "new")
    assert p.read_text() == "old" and os.listdir(tmp_path) == ["r.json"]


def test_atomic_write_text_keeps_the_usual_file_mode(tmp_path):
    old = os.umask(0o022)
    try:
        files.atomic_write_text(str(tmp_path / "r.json"), "{}")
    finally:
        os.umask(old)
    assert (tmp_path / "r.json").stat().st_mode & 0o777 == 0o644


def test_write_report_is_strict_json(tmp_path):
    p = tmp_path / "r.json"
    report.write_report(str(p), {"a": np.array([1.0, np.nan, np.inf]), "b": np.int64(3),
                             "c": np.bool_(True), "d": (np.float32(0.5),)})
    assert json.loads(p.read_text()) == {"a": [1.0, None, None], "b": 3, "c": True, "d": [0.5]}
    assert os.listdir(tmp_path) == ["r.json"]


def test_save_figure_writes_atomically(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    for name in ("f.png", "f.svg", "f.pdf"):
        outputs.save_figure(fig, str(tmp_path / name))
    plt.close(fig)
    assert (tmp_path / "f.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "f.pdf").read_bytes()[:4] == b"%PDF"
    assert b"<svg" in (tmp_path / "f.svg").read_bytes()
    assert sorted(os.listdir(tmp_path)) == ["f.pdf", "f.png", "f.svg"]


def test_save_figure_keeps_the_old_file_when_drawing_fails(tmp_path):
    p = tmp_path / "f.png"
    p.write_bytes(b"old figure")
    seen = []

    class BrokenFigure:
        def savefig(self, path, format=None, **kw):  # writes half a file, then fails
            seen.append((path, format))
            with open(path, "wb") as f:
                f.write(b"\x89PNG partial")
            raise RuntimeError("renderer failed")

    with pytest.raises(RuntimeError, match="renderer failed"):
        outputs.save_figure(BrokenFigure(), str(p))
    assert p.read_bytes() == b"old figure"
    assert os.listdir(tmp_path) == ["f.png"]
    tmp, fmt = seen[0]
    assert os.path.dirname(tmp) == str(tmp_path) and tmp != str(p) and fmt == "png"


# ---------------------------------------------------------------------------------------------
# Watchdog: an idle process is stopped, a busy one is not.

_WATCHDOG_CHILD = textwrap.dedent("""
    import sys, time
    from collapse_jax.verdict.watchdog import Watchdog
    mode, armed_file = sys.argv[1], sys.argv[2]
    with Watchdog("python -m proofs_checks.fake_check", "fake_check", timeout=1.0,
                  poll=0.05) as dog:
        dog.set_stage("stage 2 of 3 (after 'compile')")
        with open(armed_file, "w") as f:
            f.write(repr(time.time()))
        if mode == "idle":
            time.sleep(60)  # no CPU: a wedged runtime looks like this
        else:
            t0 = time.monotonic()
            while time.monotonic() - t0 < 2.5:  # busy for two and a half timeouts
                pass
    print("finished")
""")


def _watchdog_child(mode, tmp_path):
    armed = tmp_path / f"armed-{mode}"
    env = {**os.environ, "COLLAPSE_JAX_LOG_DIR": str(tmp_path),
           "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}
    r = subprocess.run([sys.executable, "-c", _WATCHDOG_CHILD, mode, str(armed)], env=env,
                       capture_output=True, text=True, timeout=120, cwd=ROOT)
    end = time.time()
    return r, float(armed.read_text()), end


def test_watchdog_stops_an_idle_process_with_exit_3_naming_the_stage(tmp_path):
    r, armed, end = _watchdog_child("idle", tmp_path)
    assert r.returncode == errors.EXIT_INTERNAL == 3, r.stderr
    assert end - armed < 5.0  # timeout 1 s: stopped within a few seconds, not after 60
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and "Traceback" not in r.stderr and "finished" not in r.stdout
    line = lines[0]
    assert line.startswith("python -m proofs_checks.fake_check: error: watchdog: no progress")
    assert "in stage \"stage 2 of 3 (after 'compile')\"" in line
    path = re.search(r"stacks in (\S+)$", line).group(1)
    log = open(path).read()
    assert os.path.dirname(path) == str(tmp_path)
    assert "watchdog: no progress" in log and "most recent call first" in log


def test_watchdog_does_not_stop_a_busy_process(tmp_path):
    r, _, _ = _watchdog_child("busy", tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "finished" and r.stderr.strip() == ""
    assert not glob.glob(str(tmp_path / "*.log"))


def test_watchdog_timeout_sources(monkeypatch):
    class A:
        watchdog = None

    monkeypatch.delenv("COLLAPSE_JAX_WATCHDOG", raising=False)
    assert watchdog.watchdog_timeout(A()) == watchdog.WATCHDOG_DEFAULT_S
    monkeypatch.setenv("COLLAPSE_JAX_WATCHDOG", "0")
    assert watchdog.watchdog_timeout(A()) == 0.0
    A.watchdog = 12.5  # the flag wins over the environment
    assert watchdog.watchdog_timeout(A()) == 12.5
    for bad in (-1.0, NAN, INF):
        A.watchdog = bad
        with pytest.raises(CheckError, match="--watchdog"):
            watchdog.watchdog_timeout(A())


def test_watchdog_zero_starts_no_thread():
    with watchdog.Watchdog("p", "n", timeout=0.0) as dog:
        assert dog._thread is None
    assert math.isfinite(watchdog.Watchdog("p", "n", timeout=100.0).poll)


def test_a_run_without_claims_is_an_internal_error(tmp_path, capsys):
    """A check that decided nothing cannot fail: exit 3, never 0."""
    parser = cli.base_parser("empty", "no claims", seeds=10, generations=2)
    code = cli.run_check("empty", parser, lambda a: ({"config": {}}, [], None), ["--watchdog", "0"])
    assert code == errors.EXIT_INTERNAL
    assert "decided no claim" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------
# The claim plan: the family size comes from the declared ids, never from a count kept by hand.


def test_claim_plan_gives_the_bonferroni_level_of_the_declared_family():
    plan = family.ClaimPlan()
    assert not plan.declared
    assert plan.declare(["1", "2a", "2b", "3"]) == pytest.approx(1 - 0.05 / 4)
    assert plan.size == 4 and plan.ids == ("1", "2a", "2b", "3")
    plan.verify(["1", "2a", "2b", "3"])
    with pytest.raises(RuntimeError, match="declared but not decided: 2b"):
        plan.verify(["1", "2a", "3"])
    with pytest.raises(RuntimeError, match="decided but not declared: 4"):
        plan.verify(["1", "2a", "2b", "3", "4"])
    plan.verify(["2a", "1", "3", "2b"])  # any order
    with pytest.raises(RuntimeError, match="decided twice: 1"):
        plan.verify(["1", "1", "2a", "2b", "3"])
    with pytest.raises(ValueError, match="repeat 1"):
        family.ClaimPlan().declare(["1", "1"])
    with pytest.raises(ValueError, match="empty"):
        family.ClaimPlan().declare([])


def _one_claim(cid):
    return Claim(cid, "x", 0.0, 0.0, (-1.0, 1.0), max_half_width=2.0)


def test_a_check_whose_claims_differ_from_its_plan_is_an_internal_error(capsys):
    """An undeclared claim would widen the family unnoticed: exit 3 naming the difference."""
    def body(args):
        args.plan.declare(["1"])
        return {"config": {}}, [_one_claim("1"), _one_claim("2")], None

    assert _run(body, ["--watchdog", "0"]) == errors.EXIT_INTERNAL
    assert "decided but not declared: 2" in capsys.readouterr().err


def test_a_check_without_a_plan_is_an_internal_error(capsys):
    assert _run(lambda a: ({"config": {}}, [_one_claim("1")], None),
                ["--watchdog", "0"]) == errors.EXIT_INTERNAL
    assert "declared no claims" in capsys.readouterr().err


def test_a_report_outside_the_schema_is_an_internal_error(capsys):
    """The report's schema is checked, not implied by ``.get`` calls: exit 3 naming the key."""
    def body(args):
        args.plan.declare(["1"])
        return {"config": {}, "precision": "float64", "curves": {}, "timming": {}}, \
            [_one_claim("1")], None

    assert _run(body, ["--watchdog", "0"]) == errors.EXIT_INTERNAL
    err = capsys.readouterr().err
    assert "missing 'timing'" in err and "unknown key 'timming'" in err
    report.check_report({"config": {}, "precision": {"fit": "float64"}, "curves": {},
                         "timing": {"compile_s": 1.0, "run_s": 2.0,
                                    "seed_generations_per_s": 3.0}, "findings": {}})


def test_a_flag_given_at_its_default_value_counts_as_given():
    """``--seeds 1000`` where 1000 is the default is the user's choice: --quick and a preset's
    own size must not replace it (they did, silently, when "given" meant "differs from the
    default")."""
    import argparse

    from collapse_jax.verdict.cli import apply_quick, base_parser, given_flags, is_given

    p = base_parser("t", "a test check", seeds=1000, generations=200)
    argv = ["--quick", "--seeds", "1000"]
    a = p.parse_args(argv)
    a.given = given_flags(p, argv)
    assert "seeds" in a.given and "generations" not in a.given and "quick" in a.given
    apply_quick(a, {"seeds": 1000, "generations": 200}, {"seeds": 300, "generations": 100},
                ("seeds", "generations"))
    assert (a.seeds, a.generations) == (1000, 100)
    # without run_check's record, "given" falls back to "differs from the default"
    b = p.parse_args(argv)
    assert not is_given(b, "seeds", 1000) and is_given(b, "seeds", 500)
    assert given_flags(p, []) == frozenset() and isinstance(b, argparse.Namespace)


def test_preset_default_takes_the_presets_size_unless_the_flag_was_given():
    from collapse_jax.verdict.cli import base_parser, given_flags, preset_default

    p = base_parser("t", "a test check", seeds=1000, generations=200)
    runs = {(): 5000, ("--quick",): 64, ("--seeds", "1000"): 1000,
            ("--quick", "--seeds", "7"): 7}
    for argv, seeds in runs.items():
        a = p.parse_args(list(argv))
        a.given = given_flags(p, list(argv))
        preset_default(a, {"seeds": 1000}, "seeds", 5000, 64)
        assert a.seeds == seeds, argv
    a = p.parse_args(["--quick"])
    a.given = given_flags(p, ["--quick"])
    preset_default(a, {"seeds": 1000}, "seeds", 5000)  # no quick size: the full one
    assert a.seeds == 5000
