import json
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

from collapse_jax.core._validate import InvalidInput
from collapse_jax.engine import sweep
from collapse_jax.power_law.kernel import selection_config, selection_kernel, selection_params
from proofs_checks import sweep as cli

#: The configuration the command line builds from ARGS below, so that the Python-API tests and
#: the command-line tests share one compiled program (compiles dominate the run time).
CFG = selection_config(dim=1, n=20, alpha=0.5, alpha_min=0.25, generations=4)
GRID = {"alpha": [0.25, 0.5], "offset": [0.0, 1.0, 2.0]}
#: A 4-point command-line sweep (2 batches of 2). Resumes pass ``--batch-points 2`` too
#: (an execution flag, not stored), so every run reuses one compiled program.
ARGS = ["--alpha", "0.25", "0.5", "--offset", "0", "1", "--seeds", "4", "--generations", "4",
        "--n", "20", "--batch-points", "2"]
BP = ["--batch-points", "2"]


def _run(out, **kw):
    return sweep.run_grid(selection_kernel, 3, CFG, lambda **p: selection_params(CFG, **p),
                          GRID, seeds=4, out_dir=out, batch_points=2, **kw)


def _main(capsys, argv):
    """``main(argv)`` in-process: (exit code, stdout, stderr lines)."""
    code = cli.main([str(v) for v in argv])
    out, err = capsys.readouterr()
    return code, out, err.strip().splitlines()


def _refused(capsys, argv, code, *needles):
    """Exit ``code`` with exactly one stderr line holding every needle, and no traceback."""
    got, out, err = _main(capsys, argv)
    assert got == code, (got, out, err)
    assert len(err) == 1, err
    assert "Traceback" not in err[0]
    for needle in needles:
        assert needle in err[0], err[0]
    return err[0]


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """An undamaged, finished command-line sweep (copy it before damaging)."""
    d = tmp_path_factory.mktemp("made") / "s"
    assert cli.main(["--out", str(d), *ARGS]) == 0
    return d


def _copy(made, tmp_path, name="s"):
    return shutil.copytree(made, tmp_path / name)


def test_interrupted_sweep_resumes_without_recomputing(tmp_path):
    first = _run(tmp_path / "a", stop_after=2)
    assert first["computed"] == [0, 1, 2, 3] and first["total"] == 6
    second = _run(tmp_path / "a")
    assert second["computed"] == [4, 5] and len(second["done"]) == 6
    assert second["recomputed"] == {}
    whole = _run(tmp_path / "b")
    ra, rb = sweep.load_results(tmp_path / "a"), sweep.load_results(tmp_path / "b")
    np.testing.assert_allclose(ra["mean"], rb["mean"], rtol=1e-12)
    assert set(np.unique(ra["metric"])) >= {"trace", "w2_init", "psi_trace"}
    assert whole["computed"] == list(range(6))


def test_other_configuration_is_refused(tmp_path):
    _run(tmp_path / "a", stop_after=0)
    with pytest.raises(InvalidInput, match="another configuration"):
        sweep.run_grid(selection_kernel, 4, CFG, lambda **p: selection_params(CFG, **p), GRID,
                       seeds=4, out_dir=tmp_path / "a")


def test_run_grid_refuses_a_file_and_a_corrupt_config(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(InvalidInput, match="is a file"):
        _run(tmp_path / "f")
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "config.json").write_text('{"kernel": ')
    with pytest.raises(InvalidInput, match="config.json is corrupt"):
        _run(tmp_path / "c")


def _cut_mid_row(p):
    data = p.read_bytes()
    p.write_bytes(data[:len(data) // 2 + 3])


def _cut_at_row(p):
    lines = p.read_bytes().splitlines(keepends=True)
    p.write_bytes(b"".join(lines[:-2]))


def _alter_digit(p):  # same size and rows, one digit of a mean changed
    data = bytearray(p.read_bytes())
    i = data.index(b"\n", data.index(b"\n") + 1) - 3
    data[i] = ord("1") if data[i] != ord("1") else ord("2")
    p.write_bytes(bytes(data))


def _unlist(p):  # the file is intact but the manifest does not record it as finished
    man = p.parent.parent / "manifest.json"
    m = json.loads(man.read_text())
    del m["points"][p.name]
    man.write_text(json.dumps(m))


DAMAGE = {
    "cut mid-row": _cut_mid_row,
    "rows, manifest says": _cut_at_row,
    "empty": lambda p: p.write_bytes(b""),
    "missing": lambda p: p.unlink(),
    "checksum differs": _alter_digit,
    "not in the manifest": _unlist,
}


@pytest.mark.parametrize("reason", list(DAMAGE))
def test_resume_recomputes_exactly_the_damaged_point(made, tmp_path, capsys, reason):
    d = _copy(made, tmp_path)
    target = d / "points" / "point_00001.csv"
    DAMAGE[reason](target)
    if reason == "not in the manifest":  # unfinished: left out, never half-read
        assert len(np.unique(sweep.load_results(d)["point"])) == 3
    else:
        with pytest.raises(InvalidInput, match=r"point_00001\.csv is damaged \(.*"
                           + re.escape(reason)):
            sweep.load_results(d)
    kept = {f.name: f.read_bytes() for f in (d / "points").glob("*.csv") if f != target}
    code, out, err = _main(capsys, ["--resume", d, *BP])
    assert code == 0 and err == []
    assert "4/4 points" in out and reason in out
    assert "1 computed now, 1 of them recomputed after damage: point_00001.csv" in out
    assert kept == {f.name: f.read_bytes() for f in (d / "points").glob("*.csv")
                    if f != target}
    assert sweep.verify(d) == {}
    got, want = sweep.load_results(d), sweep.load_results(made)
    assert len(got["mean"]) == len(want["mean"]) and not np.isnan(got["count"]).any()
    np.testing.assert_array_equal(got["metric"], want["metric"])
    np.testing.assert_allclose(got["mean"], want["mean"], rtol=1e-12)
    np.testing.assert_allclose(got["se"], want["se"], rtol=1e-12)


def test_resume_after_several_damages_and_unreadable_manifest(made, tmp_path, capsys):
    d = _copy(made, tmp_path)
    _cut_mid_row(d / "points" / "point_00000.csv")
    (d / "points" / "point_00002.csv").write_bytes(b"")
    (d / "points" / "point_00003.csv").unlink()
    code, out, _ = _main(capsys, ["--resume", d, *BP])
    assert code == 0 and "3 computed now, 3 of them recomputed after damage" in out
    np.testing.assert_allclose(sweep.load_results(d)["mean"],
                               sweep.load_results(made)["mean"], rtol=1e-12)
    (d / "manifest.json").write_text("{")
    with pytest.raises(InvalidInput, match="manifest.json is unreadable"):
        sweep.load_results(d)
    code, out, _ = _main(capsys, ["--resume", d, *BP])
    assert code == 0 and "4 of them recomputed after damage" in out
    assert "manifest.json unreadable" in out


def test_ctrl_c_stops_with_one_line_and_resumes(made, tmp_path, capsys, monkeypatch):
    d = tmp_path / "s"

    def interrupt(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_show_progress", interrupt)
    line = _refused(capsys, ["--out", d, *ARGS], 130)
    assert line.endswith(f"interrupted after 2 of 4 points; resume with --resume {d}")
    assert sorted(json.loads((d / "manifest.json").read_text())["points"]) == [
        "point_00000.csv", "point_00001.csv"]
    monkeypatch.undo()
    code, out, _ = _main(capsys, ["--resume", d, *BP])
    assert code == 0 and "2 computed now, 0 recomputed" in out
    np.testing.assert_allclose(sweep.load_results(d)["mean"],
                               sweep.load_results(made)["mean"], rtol=1e-12)


def _edit_config(d, edit):
    m = json.loads((d / "config.json").read_text())
    edit(m)
    (d / "config.json").write_text(json.dumps(m))


CONFIG_DAMAGE = {
    "corrupt": (lambda d: (d / "config.json").write_text('{"kernel": "selection_'),
                "config.json is corrupt"),
    "not an object": (lambda d: (d / "config.json").write_text("[1, 2]"),
                      "config.json is corrupt"),
    "incomplete": (lambda d: _edit_config(d, lambda m: m.pop("grid")),
                   "config.json is incomplete (missing 'grid')"),
    "bad stored flag": (lambda d: _edit_config(d, lambda m: m["flags"].update(alpha=["x"])),
                        "config.json is corrupt (stored flags"),
    "edited record": (lambda d: _edit_config(d, lambda m: m.update(seeds=8)),
                      "config.json is inconsistent: its seeds differ"),
}


@pytest.mark.parametrize("case", list(CONFIG_DAMAGE))
def test_damaged_config_is_refused(made, tmp_path, capsys, case):
    d = _copy(made, tmp_path)
    damage, needle = CONFIG_DAMAGE[case]
    damage(d)
    _refused(capsys, ["--resume", d], 2, needle)


def test_bad_places_are_refused(made, tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    (tmp_path / "plain").mkdir()
    cases = [
        (["--out", tmp_path / "file", *ARGS], "--out=", "it is a file"),
        (["--out", tmp_path / "file" / "sub", *ARGS], "--out=", "cannot write there"),
        (["--out", tmp_path / "full", *ARGS], "--out=", "new or empty directory"),
        (["--resume", tmp_path / "file"], "--resume=", "it is a file"),
        (["--resume", tmp_path / "plain"], "--resume=", "not a sweep"),
        (["--resume", tmp_path / "missing"], "--resume=", "no such directory"),
    ]
    for argv, *needles in cases:
        _refused(capsys, argv, 2, *needles)
    assert not (tmp_path / "file").is_dir()


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0,
                    reason="permission bits do not bind root")
def test_unwritable_out_is_refused(tmp_path, capsys):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        _refused(capsys, ["--out", ro / "s", *ARGS], 2, "--out=", "cannot write there")
    finally:
        ro.chmod(0o700)


def test_resume_flags(made, tmp_path, capsys):
    d = _copy(made, tmp_path)
    line = _refused(capsys, ["--resume", d, "--seeds", "8", "--alpha", "0.1", "--generations",
                             "4", "--chunk-size", "2"], 2,
                    "--seeds 8 (stored 4)", "--alpha 0.1 (stored 0.25 0.5)",
                    "only --batch-points, --chunk-size and --devices may change")
    assert "--generations" not in line  # repeated with its stored value
    # the original command line with --out replaced by --resume, new execution flags: fine
    code, out, _ = _main(capsys, ["--resume", d, *ARGS, "--batch-points", "3",
                                  "--chunk-size", "2"])
    assert code == 0 and "0 computed now" in out


def test_a_sweep_recorded_before_the_sampler_flag_resumes(made, tmp_path, capsys):
    """A record written before ``--sampler`` existed lacks it; it meant rows, so the sweep
    resumes. A record lacking a flag that is not a later addition is still refused."""
    d = _copy(made, tmp_path)
    meta = json.loads((d / "config.json").read_text())
    assert meta["flags"].pop("sampler") == "rows"
    (d / "config.json").write_text(json.dumps(meta))
    code, out, _ = _main(capsys, ["--resume", d, *BP])
    assert code == 0 and "0 computed now" in out
    meta["flags"].pop("design")
    (d / "config.json").write_text(json.dumps(meta))
    _refused(capsys, ["--resume", d, *BP], 2, "inconsistent")


def test_a_knowledge_center_sweep_recorded_before_the_sampler_resumes(tmp_path, capsys):
    """The same for the kernel whose configuration holds the sampler (``cfg`` and ``flags``
    both lack it in an older record; the engine's own record check accepts it too)."""
    d = tmp_path / "kc"
    argv = ["--kernel", "knowledge_center", "--r", "0.1", "0.2", "--seeds", "4",
            "--generations", "4", "--n", "20"]
    assert _main(capsys, ["--out", d, *argv])[0] == 0
    meta = json.loads((d / "config.json").read_text())
    assert meta["cfg"].pop("sampler") == meta["flags"].pop("sampler") == "rows"
    (d / "config.json").write_text(json.dumps(meta))
    code, out, _ = _main(capsys, ["--resume", d])
    assert code == 0 and "0 computed now" in out


@pytest.mark.parametrize("argv,needle", [
    (["--key", "-1"], "--key=-1 is invalid: allowed 0 .. 2**63 - 1"),
    (["--key", str(2**63)], f"--key={2**63} is invalid"),
    (["--batch-points", "0"], "--batch-points=0"),
    (["--chunk-size", "0"], "--chunk-size=0"),
    (["--seeds", "1"], "--seeds=1"),
    (["--alpha", "2"], "--alpha=2.0"),
    (["--kernel", "power_law", "--design", "isotropic"],
     "--design is invalid with --kernel power_law: allowed with --kernel knowledge_center"),
    (["--kernel", "power_law", "--sampler", "sufficient", "--r", "0.1"],
     "--r, --sampler are invalid with --kernel power_law"),
    (["--kernel", "knowledge_center", "--alpha", "0.3"],
     "--alpha is invalid with --kernel knowledge_center: allowed with --kernel power_law"),
    (["--kernel", "knowledge_center", "--design", "isotropic", "--sampler", "sufficient"],
     "sampler='sufficient' needs design='block'"),
])
def test_bad_flags_are_refused(tmp_path, capsys, argv, needle):
    _refused(capsys, ["--out", tmp_path / "s", *argv], 2, needle)
    assert not (tmp_path / "s").exists()  # refused before anything is written


def test_internal_error_exits_3_with_a_log(tmp_path, capsys, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("kaboom")

    monkeypatch.setenv("COLLAPSE_JAX_LOG_DIR", str(tmp_path))
    monkeypatch.setattr(sweep, "run_grid", boom)
    line = _refused(capsys, ["--out", tmp_path / "s", *ARGS], 3, "RuntimeError: kaboom",
                    "traceback in")
    log = line.rsplit("traceback in ", 1)[1].rstrip(")")
    assert "Traceback" in open(log).read()


def test_help_names_every_default_and_the_resume_rule():
    text = " ".join(cli.build_parser().format_help().split())
    assert "--chunk-size and --devices may take new values" in text and "130" in text
    for action in cli.build_parser()._actions:
        if action.dest not in ("help", "out", "resume"):
            assert "default" in (action.help or ""), action.dest


def test_cli_subprocess_refusals_have_no_traceback(tmp_path):
    cmd = [sys.executable, "-m", "proofs_checks.sweep"]
    for argv in (["--resume", str(tmp_path / "missing")],
                 ["--out", str(tmp_path / "x"), "--alpha", "2"],
                 ["--out", str(tmp_path / "x"), "--key", "-1"]):
        r = subprocess.run(cmd + argv, capture_output=True, text=True, timeout=300)
        assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert "Traceback" not in r.stderr


def test_cli_knowledge_center_kernel(tmp_path, capsys):
    """The verifier kernel sweeps (delta, r, verify) under one compile and resumes."""
    d = tmp_path / "kc"
    code, out, err = _main(capsys, ["--kernel", "knowledge_center", "--out", d, "--delta",
                                    "0", "1", "--verify", "1", "0", "--n", "50", "--rounds",
                                    "3", "--seeds", "8", "--p", "2", "--batch-points", "4"])
    assert code == 0, err
    assert "4/4 points" in out
    res = sweep.load_results(d)
    assert set(res["verify"]) == {0.0, 1.0} and set(res["delta"]) == {0.0, 1.0}
    acc = (res["metric"] == "acc_rate") & (res["generation"] == 1)
    # without the verifier every offered row is accepted
    assert np.all(res["mean"][acc & (res["verify"] == 0.0)] == 1.0)
    assert np.all(res["mean"][acc & (res["verify"] == 1.0)] < 1.0)
    code, out, _ = _main(capsys, ["--resume", d, "--rounds", "3"])
    assert code == 0 and "0 computed now" in out
    _refused(capsys, ["--resume", d, "--rounds", "4"], 2, "--generations 4 (stored 3)")
    _refused(capsys, ["--kernel", "knowledge_center", "--out", tmp_path / "y", "--n", "10",
                      "20"], 2, "--n=[10, 20]")


def test_the_sweep_run_in_process_leaves_float64_as_it_was(tmp_path):
    """The sweep computes in float64 inside a scoped jax.enable_x64 (a notebook that calls
    ``main`` keeps its own setting)."""
    code = ("import sys, jax\n"
            "from proofs_checks import sweep\n"
            "assert not jax.config.jax_enable_x64\n"
            "rc = sweep.main(['--kernel', 'gaussian_refit', '--out', sys.argv[1],"
            " '--set', 'n=5,8', '--seeds', '4', '--config', 'generations=3'])\n"
            "assert rc == 0, rc\n"
            "assert not jax.config.jax_enable_x64, 'x64 leaked out of the sweep'\n"
            "print('scoped')\n")
    r = subprocess.run([sys.executable, "-c", code, str(tmp_path / "s")], capture_output=True,
                       text=True, timeout=600,
                       env={k: v for k, v in os.environ.items() if k != "JAX_ENABLE_X64"})
    assert r.returncode == 0 and "scoped" in r.stdout, (r.stdout[-2000:], r.stderr[-2000:])
