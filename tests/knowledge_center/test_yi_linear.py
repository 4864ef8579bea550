"""``--preset yi-linear``: Yi et al.'s one-round linear-regression simulation."""

import json

import jax
import numpy as np
import pytest

from collapse_jax.engine import batch
from collapse_jax.knowledge_center import check as kc
from collapse_jax.knowledge_center import yi_linear as yl

QUICK = ["--preset", "yi-linear", "--quick", "--claim-seeds", "4000"]


def _their_simulation(rng, a, gamma, sims):
    """A numpy port of the authors' simulate_multivariate_filtering, vectorised over
    simulations (OLS by pinv as theirs; the same estimators, verifier and fallbacks)."""
    d, n1, n2, sigma = yl.DIM, yl.N1, yl.N2, yl.SIGMA
    bs = yl.beta_star()
    bp = bs + np.full(d, a)

    def ols(x, y, keep, fallback):
        out = fallback.copy()
        for s in range(x.shape[0]):
            k = keep[s]
            if k.any():
                xs, ys = x[s][k], y[s][k]
                out[s] = np.linalg.pinv(xs.T @ xs) @ xs.T @ ys
        return out

    def verify(x, y):
        return np.abs(y - x @ bp) <= gamma * np.linalg.norm(x, axis=2) + np.sqrt(2 / np.pi) * sigma

    x0 = rng.standard_normal((sims, n1, d))
    y0 = x0 @ bs + sigma * rng.standard_normal((sims, n1))
    b0 = ols(x0, y0, np.ones((sims, n1), bool), np.zeros((sims, d)))
    b1 = ols(x0, y0, verify(x0, y0), b0)
    x1 = rng.standard_normal((sims, n2, d))
    y1 = np.einsum("sni,si->sn", x1, b1) + sigma * rng.standard_normal((sims, n2))
    b2 = ols(x1, y1, verify(x1, y1), b1)
    y2 = np.einsum("sni,si->sn", x1, b0) + sigma * rng.standard_normal((sims, n2))
    b3 = ols(x1, y2, verify(x1, y2), b0)
    return {k: np.sum((b - bs) ** 2, axis=1) for k, b in zip(yl.ESTIMATORS, (b0, b1, b2, b3))}


def test_beta_star_is_the_authors():
    np.random.seed(0)  # noqa: NPY002 (the authors seed the legacy generator)
    np.testing.assert_array_equal(yl.beta_star(), np.random.randn(5))  # noqa: NPY002


def test_grid_is_the_authors_and_steps_keep_the_ends():
    a, g = yl.grid()
    np.testing.assert_array_equal(a, np.linspace(0, 0.25, 300))
    np.testing.assert_array_equal(g, np.linspace(0.01, 0.5, 150))
    a, g = yl.grid(10)
    assert a[0] == 0 and a[-1] == 0.25 and g[0] == 0.01 and g[-1] == 0.5
    assert a.size == 31 and g.size == 16


@pytest.mark.parametrize("a,gamma", [(0.0, 0.01), (0.2, 0.3)])
def test_kernel_matches_the_authors_loop_in_law(a, gamma):
    """Mean losses of the four estimators against a numpy port of their loop, 1500
    simulations each: within 4.5 standard errors of the difference (two independent runs)."""
    sims = 1500
    ours = batch.run_sweep(yl.yi_linear_kernel, jax.random.key(3), yl.params_for([a], [gamma]),
                           yl.YiConfig(yl.N1, yl.N2, yl.DIM), seeds=sims)[1]
    theirs = _their_simulation(np.random.default_rng(4), a, gamma, sims)
    for k in yl.ESTIMATORS:
        x, y = np.asarray(ours[k])[0, :, 0], theirs[k]
        se = np.sqrt(x.var(ddof=1) / sims + y.var(ddof=1) / sims)
        assert abs(x.mean() - y.mean()) < 4.5 * se, (k, x.mean(), y.mean(), se)
    assert float(np.asarray(ours["fallbacks"]).sum()) == 0


def test_quick_preset_passes_and_writes_the_map(tmp_path, capsys):
    out = tmp_path / "r.json"
    code = kc.main([*QUICK, "--json", str(out), "--curves", str(tmp_path / "c.csv")])
    printed = capsys.readouterr().out
    assert code == 0, printed
    rep = json.loads(out.read_text())
    assert [c["id"] for c in rep["claims"]] == list(yl.CLAIM_IDS)
    share = rep["findings"]["which_min_share"]
    assert abs(sum(share.values()) - 1) < 1e-12 and share["filtered_x"] > 0
    assert rep["config"]["differences_from_the_authors"]
    assert "breaks even" in printed and (tmp_path / "c.csv").stat().st_size > 0


def test_negative_controls_fail(tmp_path, capsys, monkeypatch):
    """A wrong closed form (d / n1 for Y0, two n-row OLS errors of d / n for Y4) and swapped
    cells (the biased verifier asked to improve, the unbiased one to hurt) each fail."""
    monkeypatch.setattr(yl, "unfiltered_loss", lambda n1=yl.N1, dim=yl.DIM, sigma=1.0: dim / n1)
    monkeypatch.setattr(yl, "Y1_CELL", (0.25, 0.01))
    monkeypatch.setattr(yl, "Y2_CELL", (0.0, 0.01))
    out = tmp_path / "r.json"
    assert kc.main([*QUICK, "--json", str(out)]) == 1
    capsys.readouterr()
    claims = {c["id"]: c for c in json.loads(out.read_text())["claims"]}
    assert not any(c["passed"] for c in claims.values()), claims
    assert claims["Y0"]["reason"] == "prediction outside CI"
    assert claims["Y1"]["reason"] == "CI not below bound"
    assert claims["Y2"]["reason"] == "CI not above bound"


@pytest.mark.parametrize("argv,flag", [
    (["--preset", "yi-linear", "--p", "4"], "--p"),
    (["--preset", "yi-linear", "--rounds", "2"], "--generations"),
    (["--preset", "yi-linear", "--grid-step", "0"], "--grid-step"),
    (["--preset", "yi-linear", "--claim-seeds", "10"], "--claim-seeds"),
    (["--preset", "yi-linear", "--seeds", "1000"], "--seeds"),
    (["--grid-step", "2"], "--grid-step"),
    (["--claim-seeds", "500"], "--claim-seeds")])
def test_bad_input_exits_2(argv, flag, capsys):
    assert kc.main(argv) == 2
    assert flag in capsys.readouterr().err
