"""The public verdict API (``collapse_jax.verdict``): the ``at_most`` relation, the re-exports
of the proofs_checks commands, and the tidy curves (``--curves`` CSV, ``read_curves``,
``read_report``). Fast: the only check run is ``gaussian_refit`` at a small size."""

from __future__ import annotations

import ast
import dataclasses
import json
import math
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import collapse_jax
from collapse_jax import verdict
from collapse_jax.verdict import Claim

NAN, INF = float("nan"), float("inf")
ROOT = pathlib.Path(__file__).resolve().parents[2]


def _at_most(predicted=1.0, measured=1.0, ci=(0.9, 1.1), max_half_width=0.5):
    return Claim("c", "statement", predicted, measured, ci, max_half_width, "at_most")


# ---------------------------------------------------------------------------------------------
# The at_most relation.


@pytest.mark.parametrize(("predicted", "passed", "reason"), [
    (1.0, True, "CI not above the bound"),  # the CI straddles the bound
    (0.9, True, "CI not above the bound"),  # a bound that may be attained: touching passes
    (1.1, True, "CI not above the bound"),
    (1.5, True, "CI not above the bound"),  # the CI lies below the bound
    (0.8, False, "CI wholly above the bound: violated"),
])
def test_at_most_fails_only_when_the_ci_lies_wholly_above(predicted, passed, reason):
    c = _at_most(predicted=predicted)
    assert c.passed is passed and c.reason == reason
    js = c.to_json()
    assert js["relation"] == "at_most" and js["passed"] is passed and js["reason"] == reason


def test_at_most_keeps_the_width_rule():
    c = _at_most(predicted=2.0, ci=(0.0, 2.0), max_half_width=0.5)
    assert not c.passed and c.reason.startswith("CI too wide to discriminate: half-width 1")


@pytest.mark.parametrize("kw", [dict(measured=NAN), dict(predicted=INF), dict(ci=(NAN, 1.1)),
                                dict(ci=(0.9, INF))])
def test_at_most_non_finite_fails(kw):
    c = _at_most(**kw)
    assert not c.passed and c.reason == "non-finite estimate (see metrics)"
    assert json.dumps(c.to_json(), allow_nan=False)  # strict JSON: non-finite as null


def test_at_most_table_symbol_is_the_bound_side():
    line = verdict.format_table("t", [_at_most(predicted=1.5)], {}).splitlines()[4]
    assert line.split()[1] == "<1.5000" and line.endswith("PASS")


class _AtMostReference(Claim):
    """``knowledge_center.AtMostClaim`` as it was written (a subclass of a ``below`` claim),
    copied here to pin that the ``at_most`` relation has the same verdicts, JSON and table."""

    def __post_init__(self):
        super().__post_init__()
        lo, hi = (float(v) for v in self.ci)
        finite = all(math.isfinite(v) for v in (lo, hi, float(self.measured),
                                                float(self.predicted)))
        if finite and 0.5 * (hi - lo) <= self.max_half_width:
            self.passed = lo <= self.predicted
            self.reason = ("CI not above the bound" if self.passed
                           else "CI wholly above the bound: violated")

    def to_json(self) -> dict:
        out = super().to_json()
        out["relation"] = "at_most"
        return out


def test_at_most_equals_the_subclass_it_replaces():
    n = 0
    for predicted in (-1.0, 0.0, 0.9, 1.0, 1.1, 2.0, NAN, INF):
        for measured in (1.0, NAN):
            for ci in ((0.9, 1.1), (1.0, 1.0), (0.0, 3.0), (-INF, 1.0), (NAN, NAN)):
                for cap in (0.0, 0.1, 0.5, 2.0, NAN, -1.0):
                    args = ("c", "s", predicted, measured, ci, cap)
                    new, old = Claim(*args, "at_most"), _AtMostReference(*args, "below")
                    assert (new.passed, new.reason) == (old.passed, old.reason), args
                    assert new.to_json() == old.to_json(), args
                    assert (verdict.format_table("t", [new], {})
                            == verdict.format_table("t", [old], {})), args
                    n += 1
    assert n == 8 * 2 * 5 * 6


def test_existing_relations_unchanged_and_unknown_refused():
    assert verdict.RELATIONS == ("equal", "below", "above", "at_most")
    c = Claim("c", "s", 1.2, 1.0, (0.9, 1.1), 0.5, "below")
    assert c.passed and c.reason == "CI below bound"
    with pytest.raises(ValueError, match="allowed one of equal, below, above, at_most"):
        Claim("c", "s", 1.0, 1.0, (0.9, 1.1), 0.5, "at_least")
    fields = dataclasses.fields(Claim)
    # positional arguments unchanged; new ones come after them, the verdict is computed
    assert [f.name for f in fields if f.init][:8] == [
        "id", "statement", "predicted", "measured", "ci", "max_half_width", "relation", "note"]
    assert [f.name for f in fields if not f.init] == ["passed", "reason", "decided",
                                                      "seeds_to_decide"]


# ---------------------------------------------------------------------------------------------
# One implementation: proofs_checks are shims over the library; the library does not import them.


def test_proofs_checks_commands_are_thin_shims():
    """``proofs_checks/<name>.py`` are the command names users know: a docstring and the
    family check's ``main`` (imported on first use, so that ``--help`` prints a stored text
    without importing the check: proofs_checks/_help.py), nothing else."""
    import importlib

    root = pathlib.Path(collapse_jax.__file__).parent.parent / "proofs_checks"
    shims = {"power_law": "power_law.check", "gaussian_refit": "classic.check_gaussian_refit",
             "real_mixing": "classic.check_real_mixing",
             "regression_paradigms": "classic.check_regression",
             "knowledge_center": "knowledge_center.check", "proxy_references": "proxy.check",
             "proxy_digits": "proxy.digits_check", "vae_verification": "vae.check"}
    for name, target in shims.items():
        text = (root / f"{name}.py").read_text()
        assert len(text.splitlines()) <= 14, name
        shim = importlib.import_module(f"proofs_checks.{name}")
        assert shim.main is importlib.import_module(f"collapse_jax.{target}").main, name


def test_library_never_imports_proofs_checks_nor_pandas_eagerly():
    for path in pathlib.Path(collapse_jax.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not any(n.split(".")[0] == "proofs_checks" for n in names), path
    code = ("import sys, collapse_jax.verdict; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('proofs_checks', 'pandas')]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_readers_name_pandas_when_it_is_missing(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas -> ImportError
    with pytest.raises(ImportError, match=r"pandas>=2,<3"):
        verdict.read_curves(tmp_path / "c.csv")


# ---------------------------------------------------------------------------------------------
# Curves: JSON -> CSV -> DataFrame.


def _report():
    scalar = np.array([1.0, NAN, 1e-300 / 3, 12345.678901234567])
    vector = np.array([[0.1, 0.2], [NAN, INF], [2.0 / 3, -5.0]])
    curves = {"replace:mle": {"var": {"mean": scalar, "se": scalar / 7},
                              "moments": {"mean": vector, "se": np.abs(vector)}},
              'odd "name",NA': {"null": {"mean": np.float32([0.5, 0.25]), "se": [NAN, 0.0]}}}
    claims = [Claim("1a", "s", 1.0, 1.0, (0.9, 1.1), 0.5),
              Claim("1b", "t", 0.8, NAN, (0.9, 1.1), 0.5, "at_most", note="n")]
    return {"check": "fake", "config": {"seeds": 3}, "curves": curves,
            "claims": [c.to_json() for c in claims]}


def _expected(pd):
    rows = []
    for g, v in enumerate([1.0, NAN, 1e-300 / 3, 12345.678901234567]):
        rows.append(("replace:mle", "var", 0, g, v, v / 7))
    vector = [[0.1, 0.2], [NAN, NAN], [2.0 / 3, -5.0]]  # inf -> NaN, as in the JSON report
    for c in range(2):
        for g in range(3):
            v = vector[g][c]
            rows.append(("replace:mle", "moments", c, g, v, abs(v)))
    rows += [('odd "name",NA', "null", 0, 0, 0.5, NAN), ('odd "name",NA', "null", 0, 1, 0.25, 0.0)]
    df = pd.DataFrame(rows, columns=list(verdict.CURVE_COLUMNS))
    return df.astype({"setting": object, "metric": object, "component": "int64",
                      "generation": "int64", "mean": "float64", "se": "float64"})


def test_curves_csv_round_trip(tmp_path):
    pd = pytest.importorskip("pandas")
    rep = _report()
    csv_path = tmp_path / "c.csv"
    verdict.write_curves(str(csv_path), rep["curves"])
    assert os.listdir(tmp_path) == ["c.csv"]  # atomic: no temporary file left
    text = csv_path.read_text().splitlines()
    assert text[0] == "setting,metric,component,generation,mean,se"
    assert text[2] == "replace:mle,var,0,1,,"  # NaN as an empty field
    got = verdict.read_curves(csv_path)
    pd.testing.assert_frame_equal(got, _expected(pd))
    pd.testing.assert_frame_equal(got, verdict.curves_frame(rep["curves"]))


def test_read_report_matches_the_csv(tmp_path):
    pd = pytest.importorskip("pandas")
    rep = _report()
    verdict.write_report(str(tmp_path / "r.json"), rep)
    verdict.write_curves(str(tmp_path / "c.csv"), rep["curves"])
    claims, curves = verdict.read_report(tmp_path / "r.json")
    pd.testing.assert_frame_equal(curves, verdict.read_curves(tmp_path / "c.csv"))
    pd.testing.assert_frame_equal(curves, _expected(pd))
    assert list(claims.columns) == list(verdict.CLAIM_COLUMNS)
    assert claims.id.tolist() == ["1a", "1b"] and claims.passed.tolist() == [True, False]
    assert claims.relation.tolist() == ["equal", "at_most"]
    assert claims.ci_low.tolist() == [0.9, 0.9] and math.isnan(claims.measured[1])
    assert claims.reason[1] == "non-finite estimate (see metrics)" and claims.note[1] == "n"


def test_empty_and_malformed_curves(tmp_path):
    pytest.importorskip("pandas")
    verdict.write_curves(str(tmp_path / "e.csv"), {})
    empty = verdict.read_curves(tmp_path / "e.csv")
    assert empty.empty and tuple(empty.columns) == verdict.CURVE_COLUMNS
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="not a curves table"):
        verdict.read_curves(tmp_path / "bad.csv")
    with pytest.raises(ValueError, match=r"curves\['s'\]\['m'\]: mean shape"):
        verdict.curve_rows({"s": {"m": {"mean": [1.0, 2.0], "se": [1.0]}}})
    with pytest.raises(ValueError, match="not a {'mean': ..., 'se': ...} summary"):
        verdict.curve_rows({"s": {"m": [1.0, 2.0]}})


# ---------------------------------------------------------------------------------------------
# --curves on a real check.


def _check(*argv, cwd):
    return subprocess.run([sys.executable, "-m", "proofs_checks.gaussian_refit", *argv],
                          capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=600)


@pytest.mark.parametrize(("value", "why"), [("/nonexistent/x.csv", "does not exist"),
                                            ("x.txt", "allowed extensions .csv")])
def test_bad_curves_path_is_refused_in_one_line(value, why, tmp_path):
    r = _check("--quick", "--curves", value, cwd=tmp_path)
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert r.returncode == 2, r.stderr
    assert len(lines) == 1 and "--curves" in lines[0] and why in lines[0], lines
    assert r.stdout == "" and os.listdir(tmp_path) == []


def test_curves_csv_of_a_run_equals_its_json(tmp_path):
    pd = pytest.importorskip("pandas")
    (tmp_path / "tmp").mkdir()
    r = _check("--quick", "--seeds", "2000", "--generations", "8", "--curves", "tmp/c.csv",
               "--json", "tmp/r.json", cwd=tmp_path)
    assert r.returncode in (0, 1), r.stderr
    assert "wrote tmp/c.csv" in r.stdout
    curves = verdict.read_curves(tmp_path / "tmp" / "c.csv")
    claims, from_json = verdict.read_report(tmp_path / "tmp" / "r.json")
    pd.testing.assert_frame_equal(curves, from_json)
    assert len(curves) > 0 and set(curves.generation) == set(range(9))
    assert len(claims) > 0
    rep = json.loads((tmp_path / "tmp" / "r.json").read_text())
    assert "curves_csv" not in json.dumps(rep)  # the JSON schema is unchanged
    assert sorted(os.listdir(tmp_path / "tmp")) == ["c.csv", "r.json"]


def test_a_check_run_in_process_leaves_float64_as_it_was():
    """A check computes in float64 inside a scoped jax.enable_x64: a notebook that calls
    ``main`` keeps its own setting (and the report's config holds no batch options)."""
    import subprocess
    import sys

    code = ("import json, sys, tempfile, os, jax\n"
            "from proofs_checks import gaussian_refit\n"
            "assert not jax.config.jax_enable_x64\n"
            "out = os.path.join(tempfile.mkdtemp(), 'r.json')\n"
            "rc = gaussian_refit.main(['--quick', '--json', out])\n"
            "assert rc == 0, rc\n"
            "assert not jax.config.jax_enable_x64, 'x64 leaked out of the check'\n"
            "assert 'batch_options' not in json.load(open(out))['config']\n"
            "print('scoped')\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=600, env={k: v for k, v in __import__("os").environ.items()
                                         if k != "JAX_ENABLE_X64"})
    assert r.returncode == 0 and "scoped" in r.stdout, (r.stdout[-2000:], r.stderr[-2000:])


def test_every_public_name_is_defined():
    import collapse_jax

    missing = [n for n in verdict.__all__ if not hasattr(verdict, n)]
    assert not missing, missing
    for n in collapse_jax.__all__:
        assert getattr(collapse_jax, n) is not None, n
