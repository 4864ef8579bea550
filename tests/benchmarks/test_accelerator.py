"""The accelerator benchmark's CPU rehearsal: the script that runs once where a GPU or TPU is
lent must work before that machine's minutes are spent on it."""

from __future__ import annotations

import json

import pytest

from . import load


def _module():
    return load("accelerator")


@pytest.mark.slow
def test_rehearsal_writes_rows_and_table(tmp_path):
    acc = _module()
    out = tmp_path / "bench.json"
    rc = acc.main(["--quick", "--json", str(out), "--stages", "env", "check:gaussian_refit",
                   "--budget-s", "600"])
    doc = json.loads(out.read_text())
    assert rc == 0, doc
    env = doc["stages"]["env"]
    assert env["backend"] == "cpu" and env["cpu_count"] >= 1
    row = doc["stages"]["check:gaussian_refit"]
    # the row is read from the check's own report: every claim counted, timings present
    assert row["rc"] == 0 and row["passed"] == 21 and row["failed"] == 0
    assert row["timing"]["compile_s"] > 0 and row["wall_s"] > row["timing"]["run_s"]
    table = acc.table(str(out))
    assert "proofs_checks.gaussian_refit --quick" in table and "| 21 | 0 | 0 |" in table


def test_budget_skips_and_failures_are_recorded(tmp_path):
    acc = _module()
    out = tmp_path / "bench.json"
    # a stage that fails on bad input is recorded with its exit status and error line
    acc.CHECKS.append(("bad", ["proofs_checks.gaussian_refit", "--seeds", "-3"], 60))
    try:
        rc = acc.main(["--quick", "--json", str(out), "--stages", "env", "--budget-s", "600"])
        assert rc == 0
        acc.STAGES.append("check:bad")
        rc = acc.main(["--quick", "--json", str(out), "--stages", "check:bad"])
    finally:
        acc.CHECKS.pop()
    doc = json.loads(out.read_text())
    row = doc["stages"]["check:bad"]
    assert rc == 1 and row["rc"] == 2 and "seeds" in row["error"]
    # with no budget left nothing starts, and the JSON says so (skipped, not dropped)
    rc = acc.main(["--quick", "--json", str(out), "--stages", "env", "--budget-s", "1"])
    assert json.loads(out.read_text())["stages"]["env"]["skipped"].startswith("budget")


def test_bad_flags_exit_2():
    acc = _module()
    with pytest.raises(SystemExit) as e:
        acc.main(["--budget-s", "0"])
    assert e.value.code == 2


def test_yi_mnist_flags_spell_out_the_preset():
    """The stage's spelled-out flags (for a file too small for the preset's verifier set) are
    the preset's sizes, so that the retried run times the same configuration."""
    from collapse_jax.vae import check

    acc = _module()
    a = check.build_parser().parse_args(acc.YI_MNIST_FLAGS)
    for k, v in check.YI_MNIST.items():
        assert getattr(a, k) == v, (k, getattr(a, k), v)
    defaults = check.build_parser().parse_args([])
    assert (a.likelihood, a.verifier_kind) == (defaults.likelihood, defaults.verifier_kind) \
        == ("bernoulli", "discriminator")


def test_yi_mnist_retry_answers_two_refusals_only():
    acc = _module()
    preset = ["proofs_checks.vae_verification", "--data", "m", "--preset", "yi-mnist"]
    # a real pool smaller than the preset's verifier set: the preset spelled out, verifier
    # capped at the pool, and the difference said
    args, why = acc.yi_mnist_retry(preset, "error: --strong-size=8400 is invalid: allowed at "
                                           "most the real pool size 8000")
    assert "--preset" not in args and args[args.index("--strong-size") + 1] == "8000"
    assert args[args.index("--n-keep") + 1] == "30000" and "8000" in why
    # a memory refusal: the chunk size it names, once
    err = "stream: seeds=24 needs an estimated 37.1 GB ...; use --chunk-size 10 (chunk_size=10)"
    args2, why2 = acc.yi_mnist_retry(args, err)
    assert args2[args2.index("--chunk-size") + 1] == "10" and "chunks of 10" in why2
    assert acc.yi_mnist_retry(args2, err) is None
    # negative control: any other refusal ends the stage
    assert acc.yi_mnist_retry(preset, "error: --data='m' is invalid: no such file") is None


def test_yi_mnist_conv_stage_flags_pass_the_checks_validation(tmp_path, capsys):
    """The conv stage's flags (28x28 on a GPU, 4x4 in the CPU rehearsal) are accepted with the
    preset's sizes: the run gets as far as reading the data file (absent here)."""
    from collapse_jax.vae import check

    acc = _module()
    assert "vae_yi_mnist_conv" in acc.STAGES
    for extra in (acc.YI_MNIST_CONV, acc.YI_MNIST_CONV_QUICK):
        argv = ["--data", str(tmp_path / "absent.npz"), *acc.YI_MNIST_FLAGS, *extra]
        assert check.main(argv) == 2
        err = capsys.readouterr().err
        assert "--data=" in err and "does not exist" in err and "--arch" not in err, err
    # negative control: the stage's flags with the default 14x14 pooling are refused
    assert check.main(["--data", str(tmp_path / "absent.npz"), "--arch", "conv"]) == 2
    assert "--arch=conv is invalid" in capsys.readouterr().err


def test_yi_mnist_epochs_stage_flags_pass_the_checks_validation(tmp_path, capsys):
    """The epochs stage's flags (the authors' training rule) are accepted with the preset and
    with its spelled-out sizes; a patience of 0 is refused (negative control)."""
    from collapse_jax.vae import check

    acc = _module()
    assert set(acc.VARIANTS) == {"vae_yi_mnist_conv", "vae_yi_mnist_epochs"} <= set(acc.STAGES)
    absent = str(tmp_path / "absent.npz")
    for argv in (["--data", absent, "--preset", "yi-mnist", *acc.YI_MNIST_EPOCHS],
                 ["--data", absent, *acc.YI_MNIST_FLAGS, *acc.YI_MNIST_EPOCHS_QUICK]):
        assert check.main(argv) == 2
        err = capsys.readouterr().err
        assert "does not exist" in err and "--epochs" not in err and "--patience" not in err, err
    assert check.main(["--data", absent, *acc.YI_MNIST_FLAGS, "--epochs", "3",
                       "--patience", "0"]) == 2
    assert "--patience=0 is invalid" in capsys.readouterr().err
