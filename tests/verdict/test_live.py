"""What a running check prints on stderr (collapse_jax.verdict.live): the start line once the
run computes, one line per stage when piped, the heartbeat, and silence on request."""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import pytest

from collapse_jax.verdict import cli, live
from collapse_jax.verdict.claim import Claim


def _body(steps=2, trace=True, sleep=0.0):
    def body(args):
        args.plan.declare(["c1"])
        progress = cli.Progress(steps)
        if trace:
            jax.jit(lambda x: x * 2.0)(jnp.arange(3.0)).block_until_ready()
        for i in range(steps):
            time.sleep(sleep)
            progress.step(f"stage{i + 1}")
        claim = Claim("c1", "statement", 1.0, 1.0, (0.9, 1.1), 0.5, "equal")
        return ({"config": {}, "precision": "float64", "curves": {},
                 "timing": {"compile_s": 0.0, "run_s": 0.0, "seed_generations_per_s": 0.0}},
                [claim], None)
    return body


def _run(body, argv=()):
    p = cli.base_parser("fake_live", "fake", seeds=100, generations=7)
    return cli.run_check("fake_live", p, body, ["--watchdog", "0", "--compile-cache", "off",
                                                *argv])


@pytest.fixture
def piped(monkeypatch):
    monkeypatch.delenv(live.ENV, raising=False)  # capsys: stderr is not a terminal
    return monkeypatch


def test_piped_run_prints_start_stages_and_end(piped, capsys):
    assert _run(_body(steps=3), ["--seeds", "123"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("python -m proofs_checks.fake_live: running: seeds 123, "
                             "generations 7, key 0, 1 x cpu, compile cache off")
    assert [x.split(":")[0] for x in err[1:4]] == ["  [1/3] stage1", "  [2/3] stage2",
                                                   "  [3/3] stage3"]
    assert "s left at this pace" in err[1] and "left" not in err[3]
    assert err[4].startswith("  done computing in ") and len(err) == 5
    assert live.current() is None  # disarmed after the run


def test_start_line_comes_from_the_first_stage_without_a_trace(piped, capsys):
    assert _run(_body(steps=1, trace=False)) == 0
    err = capsys.readouterr().err.splitlines()
    assert ": running: " in err[0] and err[1].startswith("  [1/1] stage1")


def test_begin_prints_the_start_line_before_host_work(piped, capsys):
    seen = []

    def body(args):
        live.begin()  # flags validated; a slow host-side step (a quadrature) follows
        seen.append(capsys.readouterr().err)
        live.begin()  # once only
        return _body(steps=1, trace=False)(args)

    assert _run(body) == 0
    assert seen[0].startswith("python -m proofs_checks.fake_live: running: seeds 100")
    assert ": running: " not in capsys.readouterr().err


def test_silenced(piped, capsys):
    piped.setenv(live.ENV, "0")
    assert _run(_body(steps=2)) == 0
    assert capsys.readouterr().err == ""


def test_bad_input_inside_body_before_computing_is_one_line(piped, capsys):
    def body(args):
        raise cli.CheckError("--seeds=3 is invalid: allowed >= 10")
    assert _run(body) == 2
    err = [x for x in capsys.readouterr().err.splitlines() if x.strip()]
    assert len(err) == 1 and "--seeds=3" in err[0]


def test_heartbeat_names_the_stage_during_silence(piped, capsys):
    run = live.Live("prog", "running: test", heartbeat_s=0.2)
    live.arm(run)
    try:
        run.stage = "stage 2 of 3 (after 'compile')"
        run.started()
        time.sleep(0.7)
    finally:
        live.disarm()
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "prog: running: test"
    beats = [x for x in err[1:] if "still in stage 2 of 3 (after 'compile')" in x]
    assert len(beats) >= 2
    n = len(err)
    time.sleep(0.5)  # disarmed: the heartbeat stopped
    assert len(capsys.readouterr().err.splitlines()) == 0 and n == len(err)


def test_mode_from_environment(monkeypatch):
    for value, expected in (("0", "off"), ("off", "off"), ("1", "lines"), ("lines", "lines")):
        monkeypatch.setenv(live.ENV, value)
        assert live.mode() == expected


def test_chunk_estimate_is_the_pace_of_its_own_batch_call(piped, capsys, monkeypatch):
    """A batch call's first chunk carries its compile and earlier stages are another call's
    pace: the estimate comes from the call's later chunks only (it said ~5588 s left for a
    150 s stage that started 175 s into a run)."""
    clock = iter([0.0, 200.0, 210.0, 220.0, 300.0, 330.0])
    monkeypatch.setattr(cli.time, "perf_counter", lambda: next(clock))
    p = cli.Progress(2)                    # t0 = 0; the first stage took 200 s
    for done, total in [(1, 4), (2, 4), (4, 4), (1, 3), (2, 3)]:
        p.chunks(done, total)
    err = capsys.readouterr().err.splitlines()
    assert err == ["  chunks 1/4  200.0 s, ~? s left",   # compile chunk: no pace yet
                   "  chunks 2/4  210.0 s, ~20 s left",  # 1 chunk per 10 s, 2 to go
                   "  chunks 4/4  220.0 s, ~0 s left",
                   "  chunks 1/3  300.0 s, ~? s left",   # a new call: its own pace
                   "  chunks 2/3  330.0 s, ~30 s left"]


_SPLIT_SCRIPT = """
import sys
import jax
from collapse_jax.verdict import cli
from collapse_jax.verdict.claim import Claim

def body(args):
    args.plan.declare(["c1"])
    cli.Progress(1).step("stage1")  # the start line comes with the first stage
    print("DEVICES", args.devices, jax.device_count(), file=sys.stderr)
    claim = Claim("c1", "statement", 1.0, 1.0, (0.9, 1.1), 0.5, "equal")
    return ({"config": {}, "precision": "float64", "curves": {},
             "timing": {"compile_s": 0.0, "run_s": 0.0, "seed_generations_per_s": 0.0}},
            [claim], None)

p = cli.base_parser("fake_split", "fake", seeds=100, generations=7)
p.split_cpu = lambda a: True
sys.argv = ["fake_split", "--watchdog", "0", "--compile-cache", "off", *sys.argv[1:]]
sys.exit(cli.run_check("fake_split", p, body))
"""


def _split_run(*argv, xla_flags=None):
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items()
           if k not in ("XLA_FLAGS", "JAX_PLATFORMS", live.ENV)}
    env["JAX_PLATFORMS"] = "cpu"
    if xla_flags:
        env["XLA_FLAGS"] = xla_flags
    r = subprocess.run([sys.executable, "-c", _SPLIT_SCRIPT, *argv], env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    line = next(x for x in r.stderr.splitlines() if x.startswith("DEVICES"))
    start = next(x for x in r.stderr.splitlines() if ": running: " in x)
    return line.split()[1:], start


@pytest.mark.slow
def test_a_check_that_asks_for_it_runs_on_one_cpu_device_per_core():
    """``parser.split_cpu``: on the command line, one CPU device per core, the seeds sharded
    over all of them unless --devices picks how many; the user's XLA_FLAGS host count wins;
    a process whose backend has started keeps its devices (library callers, this test
    process)."""
    cores = cli.usable_cores()
    if cores < 2:
        pytest.skip("one core: nothing to split")
    devices, start = _split_run()
    assert devices == [str(cores), str(cores)]
    assert f"{cores} x cpu" in start
    assert _split_run("--devices", "1")[0] == ["1", str(cores)]
    assert _split_run("--devices", "2")[0] == ["2", str(cores)]
    assert _split_run(xla_flags="--xla_force_host_platform_device_count=3")[0] == ["None", "3"]
    jax.devices()  # started here: the split would change the devices under the caller
    assert cli.split_cpu(jax) is None
