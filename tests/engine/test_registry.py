import json
import subprocess
import sys

import numpy as np
import pytest

from collapse_jax.engine import registry, sweep
from proofs_checks import sweep as cli

#: A tiny 2-point command-line sweep of every registered kernel (4 seeds, 3 generations).
TINY = {
    "power_law": ["--set", "alpha=0.25,0.5", "--config", "n=20", "generations=3"],
    "knowledge_center": ["--set", "delta=0,1", "--config", "n=50", "rounds=3", "p=2"],
    "gaussian_refit": ["--set", "estimator=mle,unbiased", "--config", "n=5", "generations=3"],
    "real_mixing": ["--set", "lam=0,1", "--config", "n=5", "generations=3"],
    "regression": ["--set", "noise=0.5,1", "--config", "dim=2", "T=8", "generations=3"],
    "regression_dohmatob": ["--set", "noise0=0.5,1", "--config", "dim=2", "T=8",
                            "generations=3"],
}
COMMON = ["--seeds", "4", "--batch-points", "2"]


def _main(capsys, argv):
    code = cli.main([str(v) for v in argv])
    out, err = capsys.readouterr()
    return code, out, err.strip().splitlines()


def test_every_kernel_is_covered_and_resolves():
    assert set(registry.names()) == set(TINY)
    assert tuple(cli.KERNELS) == registry.names()
    for name in registry.names():
        e = registry.get(name)
        assert callable(e.kernel) and callable(e.params) and e.doc
        cfg = e.build_config()
        assert isinstance(cfg, e.config_type)
        assert e.config_from_dict(json.loads(json.dumps(cfg._asdict()))) == cfg
        hash(e.config_from_dict(json.loads(json.dumps(cfg._asdict()))))
        assert set(e.sweepable) <= set(e.param_defaults())
        assert registry.by_record_name(e.record_name).kernel is e.kernel
    with pytest.raises(KeyError, match="allowed power_law"):
        registry.get("nope")


@pytest.mark.parametrize("name", list(TINY))
def test_each_kernel_sweeps_two_points_and_resumes(tmp_path, capsys, name):
    d = tmp_path / name
    code, out, err = _main(capsys, ["--kernel", name, "--out", d, *TINY[name], *COMMON])
    assert code == 0, err
    assert "2/2 points" in out and "2 computed now" in out
    files = sorted((d / "points").glob("point_*.csv"))
    assert [f.name for f in files] == ["point_00000.csv", "point_00001.csv"]
    res = sweep.load_results(d)
    assert len(res["mean"]) > 0 and res["count"].max() == 4  # some metrics are NaN at 0
    meta = json.loads((d / "config.json").read_text())
    assert meta["flags"]["kernel"] == name and meta["kernel"] == registry.get(name).record_name
    before = {f.name: f.read_bytes() for f in files}
    code, out, err = _main(capsys, ["--resume", d])
    assert code == 0 and "0 computed now" in out, err
    assert before == {f.name: f.read_bytes() for f in (d / "points").glob("*.csv")}


def test_generic_flags_match_the_power_law_flags(tmp_path, capsys):
    legacy, generic = tmp_path / "legacy", tmp_path / "generic"
    assert cli.main(["--out", str(legacy), "--alpha", "0.25", "0.5", "--n", "20",
                     "--generations", "3", *COMMON]) == 0
    assert cli.main(["--kernel", "power_law", "--out", str(generic), *TINY["power_law"],
                     *COMMON]) == 0
    a, b = sweep.load_results(legacy), sweep.load_results(generic)
    np.testing.assert_array_equal(a["metric"], b["metric"])
    np.testing.assert_allclose(a["mean"], b["mean"], rtol=1e-12)
    capsys.readouterr()


def test_python_made_sweep_of_a_registered_kernel_resumes(tmp_path, capsys):
    e = registry.get("gaussian_refit")
    cfg = e.build_config(n=5, generations=3)
    d = tmp_path / "py"
    res = sweep.run_grid(e.kernel, 0, cfg, e.make_params(cfg), {"estimator": ["mle", "unbiased"]},
                         seeds=4, out_dir=d, batch_points=2, stop_after=0)
    assert res["computed"] == []
    code, out, err = _main(capsys, ["--resume", d, "--batch-points", "2"])
    assert code == 0 and "2/2 points" in out and "2 computed now" in out, err


@pytest.mark.parametrize("argv,needles", [
    (["--set", "foo=1"], ["--set foo=1 is invalid", "allowed noise"]),
    (["--set", "noise=abc"], ["--set noise=abc is invalid", "not a float"]),
    (["--set", "noise=-1"], ["--set is invalid for --kernel regression", "noise=-1.0"]),
    (["--set", "noise"], ["--set noise is invalid: allowed NAME=V1,V2,..."]),
    (["--set", "noise=1", "noise=2"], ["given twice"]),
    (["--config", "bar=1"], ["--config bar=1 is invalid", "allowed dim, T, generations"]),
    (["--config", "T=x"], ["--config T=x is invalid", "not an int"]),
    (["--config", "dim=0"], ["--config is invalid for --kernel regression"]),
    (["--alpha", "0.5"], ["--alpha is invalid with --kernel regression"]),
])
def test_bad_generic_flags_exit_2_with_one_line(tmp_path, capsys, argv, needles):
    code, out, err = _main(capsys, ["--kernel", "regression", "--out", tmp_path / "s", *argv])
    assert code == 2 and len(err) == 1 and "Traceback" not in err[0], err
    for needle in needles:
        assert needle in err[0], err[0]
    assert not (tmp_path / "s").exists()


def test_resume_compares_generic_flags_in_canonical_form(tmp_path, capsys):
    d = tmp_path / "r"
    argv = ["--kernel", "regression", *TINY["regression"], *COMMON]
    assert cli.main(["--out", str(d), *argv]) == 0
    # the same values written otherwise, in another order: the same run
    code, out, err = _main(capsys, ["--resume", d, "--config", "generations=3", "T=8", "dim=2",
                                    "--set", "noise=.5,1.0"])
    assert code == 0 and "0 computed now" in out, err
    code, out, err = _main(capsys, ["--resume", d, "--set", "noise=0.5,2"])
    assert code == 2 and len(err) == 1
    assert "--set noise=0.5,2.0 (stored noise=0.5,1.0)" in err[0]
    code, out, err = _main(capsys, ["--resume", d, "--alpha", "0.5"])
    assert code == 2 and "--alpha 0.5 (stored none)" in err[0]


def test_help_lists_every_kernel_with_defaults():
    text = cli.build_parser().format_help()
    for name in registry.names():
        assert f"  {name}: " in text
    assert "--set NAME=V1,V2,..." in text and "alpha (float, 0.25)" in text
    assert "generations=19" in text  # a config keyword's default


def test_registry_never_imports_proofs_checks():
    code = ("import sys, collapse_jax.engine.registry as r\n"
            "assert 'jax' not in sys.modules, 'importing the registry imports jax'\n"
            "for n in r.names():\n"
            "    e = r.get(n); e.kernel; e.config; e.params; e.config_type\n"
            "bad = [m for m in sys.modules if m.split('.')[0] == 'proofs_checks']\n"
            "assert not bad, bad\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr
