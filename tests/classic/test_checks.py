"""End-to-end runs of the three classic checks (``--quick``), negative controls and input
validation.

Every claim of a check is decided at a simultaneous 95% level (Bonferroni over its ``C``
claims), so one run at one key fails some claim with probability up to 5% by design:
``regression_paradigms --quick --key 2`` fails claim 2a (the measured mean lies 3.1 standard
errors below the exact value; over 200 independent groups of 4000 seeds claim 2a failed for 2,
its nominal rate is 0.5%, with no bias: the mean of all 800000 seeds is 0.75 standard errors
from the exact value; the whole check failed for 1 of keys 0..59). An end-to-end test that
demands every claim at one key would inherit that rate. Here every claim must pass in at least
2 of the keys ``KEYS``: the false-alarm rate is at most ``sum_c 3 (0.05/C)^2 = 0.0075 / C``
(below 1e-3 for every check), and a real defect, which fails its claim at every key, is still
caught.
"""

import json
import re
import sys

import numpy as np
import pytest

from collapse_jax.classic import (
    check_gaussian_refit as gaussian_refit,
)
from collapse_jax.classic import (
    check_real_mixing as real_mixing,
)
from collapse_jax.classic import (
    check_regression as regression_paradigms,
)
from collapse_jax.classic import theory as theory_classic

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
#: Keys of the end-to-end runs; a claim must pass in at least MAJORITY of them.
KEYS = (0, 1, 2)
MAJORITY = 2


def _report(path):
    rep = json.loads(path.read_text())
    return rep, {c["id"]: c for c in rep["claims"]}


@pytest.mark.parametrize("name", list(CHECKS))
def test_quick_run_passes_and_writes_contract_json(name, tmp_path, capsys):
    out, fig = tmp_path / "r.json", tmp_path / "f.png"
    code = CHECKS[name].main(["--quick", "--json", str(out), "--plot", str(fig)])
    stdout = capsys.readouterr().out
    rep, claims = _report(out)
    for k in ("check", "version", "config", "device", "precision", "claims", "timing", "curves"):
        assert k in rep
    assert rep["check"] == name
    assert set(claims) == EXPECTED_IDS[name]
    for c in rep["claims"]:
        assert c["ci"][0] <= c["ci"][1], c
        # every CI comes from the run's seeds: each claim records them, and an undecided one
        # says how many seeds would decide it
        assert c["seeds"] == rep["config"]["seeds"], c
        assert (c["seeds_to_decide"] is None) == c["decided"], c
    all_pass = all(c["passed"] for c in rep["claims"])
    assert code == (0 if all_pass else 1), stdout
    assert ("FAIL" in stdout) == (not all_pass) and "PASS" in stdout
    setting, metric = CURVE_KEYS[name]
    curve = rep["curves"][setting][metric]
    assert len(curve["mean"]) == len(curve["se"]) > 5
    assert fig.stat().st_size > 10_000
    # Verdicts: every claim passes at the majority of the keys (see the module docstring).
    failed = {0: sorted(i for i, c in claims.items() if not c["passed"])}
    for key in KEYS[1:]:
        path = tmp_path / f"r{key}.json"
        code = CHECKS[name].main(["--quick", "--key", str(key), "--json", str(path)])
        _, ck = _report(path)
        failed[key] = sorted(i for i, c in ck.items() if not c["passed"])
        assert code == (1 if failed[key] else 0)
    capsys.readouterr()
    for cid in EXPECTED_IDS[name]:
        n_fail = sum(cid in f for f in failed.values())
        assert n_fail <= len(KEYS) - MAJORITY, (cid, failed, claims[cid])


# Negative controls: the same --quick runs (the compiled programs are shared with the test
# above) against a wrong prediction, injected by replacing one closed form of
# collapse_jax.classic.theory (the checks have no flag that perturbs a prediction). Each wrong
# prediction lies far outside the CI (11 to 47 half-widths at key 0: about 30 to 130 standard
# errors), so the claims named here fail at any key.


def _harmonic_accumulate(n, T, d, noise=1.0):
    """Wrong theory: accumulate's error grows like sum 1/i (it is sum 1/i^2)."""
    n = np.atleast_1d(np.asarray(n, dtype=int))
    h1 = np.concatenate([[0.0], np.cumsum(1.0 / np.arange(1, int(n.max()) + 1))])
    out = noise**2 * theory_classic.ols_variance_factor(T, d) * h1[n]
    return out if out.size > 1 else float(out[0])


def _wrong_predictions(monkeypatch, name):
    """Patch one closed form and return the claims that must then fail."""
    if name == "gaussian_refit":
        # The unbiased refit is a martingale; this prediction shrinks it like the MLE.
        mle = theory_classic.refit_variance_factor
        monkeypatch.setattr(theory_classic, "refit_variance_factor",
                            lambda n, estimator="mle": mle(n, "mle"))
        return {"2u"}
    if name == "regression_paradigms":
        monkeypatch.setattr(theory_classic, "regression_accumulate_error", _harmonic_accumulate)
        return {"2a", "2b"}
    # real_mixing: the synthetic sample size taken twice too large (m -> 2m) halves the
    # noise term q = lam^2 / (m (1 + 2 lam)), hence the stationary error q / (1 + q).
    moments = theory_classic.mixing_moments
    monkeypatch.setattr(theory_classic, "mixing_moments",
                        lambda lam, m, t: moments(lam, 2 * m, t))
    return {"2:0.25", "2:1", "2:4"}


@pytest.mark.reuses_programs
@pytest.mark.parametrize("name", list(CHECKS))
def test_negative_control_a_wrong_prediction_fails(name, tmp_path, capsys, monkeypatch):
    must_fail = _wrong_predictions(monkeypatch, name)
    out = tmp_path / "r.json"
    code = CHECKS[name].main(["--quick", "--json", str(out)])
    stdout = capsys.readouterr().out
    assert code == 1, stdout
    _, claims = _report(out)
    for cid in must_fail:
        c = claims[cid]
        assert not c["passed"] and c["reason"] == "prediction outside CI", c
    assert "FAIL" in stdout


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


@pytest.mark.slow  # a second compile (40 seeds)
def test_check_fails_when_it_cannot_discriminate(capsys):
    # 40 seeds cannot resolve the claims: the CIs are wider than the stated half-widths.
    code = regression_paradigms.main(["--quick", "--seeds", "40"])
    out = capsys.readouterr().out
    assert code == 1
    assert "FAIL" in out and "CI too wide to discriminate" in out


def test_a_singular_subsample_pool_is_named_in_the_verdict(capsys):
    """A pool of 12 rows from 40 design rows repeats rows, and in some seeds fewer than d =
    10 distinct ones leave OLS undefined: the claims on that paradigm fail as non-finite and
    their note counts the seeds and says why (before, only 'non-finite estimate')."""
    code = regression_paradigms.main(["--quick", "--pool-size", "12"])
    out = capsys.readouterr().out
    assert code == 1
    assert re.search(r"note: [1-9]\d* of 4000 seeds hit a singular pool Gram matrix", out), out
    assert "-> non-finite estimate" in out


def test_the_regression_check_runs_cpu_chunks_and_the_benchmark_times_the_same(monkeypatch):
    """On the CPU backend the OLS and Dohmatob kernels run in equal chunks of at most
    ``CPU_CHUNK`` seeds (a working set that stays in the caches; the numbers change only at
    rounding), ``--chunk-size`` overrides it, and ``benchmarks/kernels.py`` times the OLS
    kernel in the chunks the check uses."""
    import importlib.util
    from pathlib import Path

    import jax

    from collapse_jax.engine import batch

    if jax.default_backend() != "cpu":
        pytest.skip("the CPU chunk applies on the CPU backend only")
    chunk = regression_paradigms.cpu_chunk
    assert chunk(batch.Options(), 8000) == 250  # 32 equal chunks of at most 256
    assert chunk(batch.Options(), 100) == 100
    assert chunk(batch.Options(chunk_size=7), 8000) == 7
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "kernels.py"
    spec = importlib.util.spec_from_file_location("kernels_bench", path)
    kernels = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "kernels_bench", kernels)  # its dataclasses look it up
    monkeypatch.syspath_prepend(str(path.parent))
    spec.loader.exec_module(kernels)
    ols = kernels.WORKLOADS["ols"]
    assert ols.chunk(ols.seeds) == chunk(batch.Options(), ols.seeds) == 250


def test_claim_2c_fails_with_a_bound_below_the_measured_error(tmp_path, capsys, monkeypatch):
    """Negative control of claim 2c: a bound 10% below sigma^2 d/(T-d-1) pi^2/6 (below the
    exact value at n = 10) is refuted, decided by the gap rule (half-width at most 0.6 of
    |bound - exact value|), while the other claims keep their verdicts."""
    true_limit = theory_classic.regression_accumulate_limit
    monkeypatch.setattr(theory_classic, "regression_accumulate_limit",
                        lambda T, d, noise=1.0: 0.9 * true_limit(T, d, noise))
    out = tmp_path / "r.json"
    code = regression_paradigms.main(["--quick", "--json", str(out)])
    capsys.readouterr()
    _, claims = _report(out)
    assert code == 1
    c = claims["2c"]
    assert not c["passed"] and c["decided"] and c["reason"] == "CI not below bound", c
    assert c["ci"][0] > c["predicted"]  # the whole interval lies above the wrong bound
    assert all(claims[k]["passed"] for k in claims if k != "2c")
