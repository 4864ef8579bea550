"""Input formats, bad input (exit 2, one line), outputs and exit codes of the monitor CLI."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from collapse_jax.monitor.cli import main
from collapse_jax.monitor.simulate import gaussian_loop

FAST = ["--resamples", "20", "--rff-features", "16", "--knn-subsample", "100", "--knn-k", "3"]


@pytest.fixture(scope="module")
def collapsing():
    return gaussian_loop("accumulate", n=200, dim=3, generations=8, alpha=0.5, seed=11)


@pytest.fixture(scope="module")
def healthy():
    return gaussian_loop("iid", n=200, dim=3, generations=8, seed=12)


def _npz(path, gens):
    np.savez(path, **{f"gen_{i}": a for i, a in enumerate(gens)})
    return str(path)


def _run(argv, capsys):
    rc = main([str(a) for a in argv])
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_npz_collapsing_exit_1_and_outputs(tmp_path, collapsing, capsys):
    src = _npz(tmp_path / "g.npz", collapsing)
    js, png, csv = tmp_path / "r.json", tmp_path / "r.png", tmp_path / "r.csv"
    rc, out, err = _run([src, "--alpha", "0.5", "--json", js, "--plot", png, "--csv", csv, *FAST],
                        capsys)
    assert rc == 1, err
    res = json.loads(js.read_text())
    for key in ("law", "exponent", "detected_at", "generations", "configuration", "versions",
                "model_selection", "detection", "theory", "effective_dimension", "reference"):
        assert key in res
    assert res["law"] in ("power", "geometric")
    assert res["detected_at"] is not None
    assert set(res["versions"]) >= {"python", "numpy", "jax", "collapse_jax"}
    row = res["generations"][2]
    for key in ("total_variance", "log_det", "effective_rank", "vendi", "beyond_2sigma",
                "beyond_3sigma", "precision", "recall", "coverage"):
        assert np.isfinite(row[key]) and np.isfinite(row[key + "_se"])
    assert png.stat().st_size > 1000
    lines = csv.read_text().splitlines()
    assert lines[0].startswith("generation,") and len(lines) == 1 + len(collapsing)


def test_formats_round_trip(tmp_path, healthy, capsys):
    """npz, a directory of .npy and a CSV table give the same per-generation metrics."""
    results = []
    src = _npz(tmp_path / "g.npz", healthy)
    folder = tmp_path / "npy"
    folder.mkdir()
    for i, a in enumerate(healthy):
        np.save(folder / f"round_{i}.npy", a)
    table = tmp_path / "g.csv"
    with open(table, "w") as f:
        f.write("generation," + ",".join(f"f{j}" for j in range(3)) + "\n")
        for i, a in enumerate(healthy):
            for r in a:
                f.write(f"{i}," + ",".join(repr(float(v)) for v in r) + "\n")
    for path in (src, folder, table):
        js = tmp_path / "out.json"
        rc, _, err = _run([path, "--json", js, *FAST], capsys)
        assert rc in (0, 1), err
        results.append(json.loads(js.read_text()))
    tv = [[g["total_variance"] for g in r["generations"]] for r in results]
    np.testing.assert_allclose(tv[1], tv[0], rtol=1e-12)
    np.testing.assert_allclose(tv[2], tv[0], rtol=1e-12)
    assert results[0]["detected_at"] == results[1]["detected_at"] == results[2]["detected_at"]


def test_parquet_table_gives_the_npz_metrics(tmp_path, healthy, capsys):
    """A Parquet table (``generation`` column, one column per feature; unequal generation
    sizes) reads as the same generations as the .npz."""
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    gens = [a[: 150 + 10 * i] for i, a in enumerate(healthy)]
    frame = pd.concat([pd.DataFrame({"generation": i, **{f"f{j}": a[:, j] for j in range(3)}})
                       for i, a in enumerate(gens)])
    table = tmp_path / "g.parquet"
    frame.to_parquet(table)
    out = []
    for path in (_npz(tmp_path / "g.npz", gens), table):
        js = tmp_path / "out.json"
        rc, _, err = _run([path, "--json", js, *FAST], capsys)
        assert rc in (0, 1), err
        out.append(json.loads(js.read_text()))
    assert out[1]["configuration"]["layout"] == "parquet"
    assert [g["samples"] for g in out[1]["generations"]] == [len(a) for a in gens]
    np.testing.assert_allclose([g["total_variance"] for g in out[1]["generations"]],
                               [g["total_variance"] for g in out[0]["generations"]], rtol=1e-12)


def test_internal_error_exit_3_one_line(tmp_path, healthy, capsys, monkeypatch):
    """An error that is not bad input (here a failure inside the analysis) exits 3 with one
    line naming its type, and writes no output file."""
    import collapse_jax.monitor.analysis as analysis

    def broken(*args, **kwargs):
        raise FloatingPointError("simulated failure\nsecond line")

    monkeypatch.setattr(analysis, "analyse", broken)
    js = tmp_path / "out.json"
    rc, out, err = _run([_npz(tmp_path / "g.npz", healthy), "--json", js, *FAST], capsys)
    assert rc == 3
    assert err.strip() == ("collapse_jax.monitor: internal error: FloatingPointError: "
                           "simulated failure")
    assert not js.exists()


def test_healthy_exit_0(tmp_path, healthy, capsys):
    rc, out, err = _run([_npz(tmp_path / "g.npz", healthy), *FAST], capsys)
    assert rc == 0, err
    assert "no collapse detected" in out


def test_reference_and_unequal_sizes(tmp_path, capsys):
    gens = gaussian_loop("iid", n=300, dim=2, generations=5, seed=3)
    gens = [g[: 150 + 30 * i] for i, g in enumerate(gens)]
    ref = tmp_path / "real.npy"
    np.save(ref, np.random.default_rng(5).standard_normal((400, 2)))
    js = tmp_path / "r.json"
    rc, _, err = _run([_npz(tmp_path / "g.npz", gens), "--reference", ref, "--json", js, *FAST],
                      capsys)
    assert rc == 0, err
    res = json.loads(js.read_text())
    assert res["reference"]["samples"] == 400
    assert [g["samples"] for g in res["generations"]] == [150, 180, 210, 240, 270]


def _bad_cases(tmp_path):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((20, 3))
    cases = {}
    cases["missing"] = [str(tmp_path / "nope.npz")]
    p = tmp_path / "one.npz"
    np.savez(p, gen_0=a)
    cases["one generation"] = [str(p)]
    p = tmp_path / "gap.npz"
    np.savez(p, gen_0=a, gen_2=a)
    cases["gap"] = [str(p)]
    p = tmp_path / "feat.npz"
    np.savez(p, gen_0=a, gen_1=a[:, :2])
    cases["features"] = [str(p)]
    p = tmp_path / "nan.npz"
    b = a.copy()
    b[3, 1] = np.nan
    np.savez(p, gen_0=a, gen_1=b)
    cases["nan"] = [str(p)]
    p = tmp_path / "inf.npz"
    b = a.copy()
    b[0, 0] = np.inf
    np.savez(p, gen_0=a, gen_1=b)
    cases["inf"] = [str(p)]
    p = tmp_path / "onerow.npz"
    np.savez(p, gen_0=a, gen_1=a[:1])
    cases["one sample"] = [str(p)]
    p = tmp_path / "flat.npz"
    np.savez(p, gen_0=a[:, 0], gen_1=a[:, 0])
    cases["1-D"] = [str(p)]
    p = tmp_path / "names.npz"
    np.savez(p, first=a, second=a)
    cases["names"] = [str(p)]
    d = tmp_path / "empty"
    d.mkdir(exist_ok=True)
    cases["empty dir"] = [str(d)]
    p = tmp_path / "nogen.csv"
    p.write_text("x,y\n1,2\n3,4\n")
    cases["csv without generation"] = [str(p)]
    p = tmp_path / "text.csv"
    p.write_text("generation,x\n0,1\n0,abc\n")
    cases["csv text"] = [str(p)]
    p = tmp_path / "t.parquet"
    p.write_bytes(b"PAR1")
    cases["parquet"] = [str(p)]
    good = tmp_path / "good.npz"
    np.savez(good, gen_0=a, gen_1=a + 1)
    cases["alpha"] = [str(good), "--alpha", "1.5"]
    cases["false alarm"] = [str(good), "--false-alarm", "0"]
    cases["plot ext"] = [str(good), "--plot", str(tmp_path / "x.txt")]
    cases["json folder"] = [str(good), "--json", str(tmp_path / "no" / "x.json")]
    cases["reference features"] = [str(good), "--reference", str(tmp_path / "ref.npy")]
    np.save(tmp_path / "ref.npy", rng.standard_normal((10, 4)))
    cases["unknown flag"] = [str(good), "--bogus"]
    cases["null"] = [str(good), "--null", "gaussian"]
    return cases


def test_bad_input_exit_2_one_line(tmp_path, capsys):
    for name, argv in _bad_cases(tmp_path).items():
        rc, out, err = _run(argv, capsys)
        assert rc == 2, (name, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("collapse_jax.monitor: error: "), (name, err)
    _, _, err = _run(_bad_cases(tmp_path)["parquet"], capsys)
    assert "pyarrow" in err or "Parquet" in err


def test_module_entry_point(tmp_path, collapsing):
    src = _npz(tmp_path / "g.npz", collapsing)
    env = dict(os.environ, MPLBACKEND="Agg")
    r = subprocess.run([sys.executable, "-m", "collapse_jax.monitor", src, *FAST],
                       capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 1, r.stderr
    assert "collapse detected at generation" in r.stdout
    h = subprocess.run([sys.executable, "-m", "collapse_jax.monitor", "--help"],
                       capture_output=True, text=True, timeout=120)
    assert h.returncode == 0 and "--false-alarm" in h.stdout and "default: 0.01" in h.stdout
