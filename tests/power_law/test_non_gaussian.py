import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from collapse_jax.power_law import non_gaussian, theory
from collapse_jax.power_law.kernel import family_draws

SMALL = ["--seeds", "400", "--generations", "60", "--n", "50", "--bootstrap", "400"]


def _claims(path):
    return {c["id"]: c for c in json.loads(path.read_text())["claims"]}


@pytest.mark.parametrize("alpha,dim", [(0.25, 1), (0.25, 3), (0.05, 10), (0.6, 2)])
def test_psi_family_gaussian_is_the_closed_form(alpha, dim):
    """The radial quadrature (root of the chi2 CDF, partial second moment) reproduces
    psi(alpha, d) for the Gaussian radial law."""
    assert theory.psi_family(alpha, dim, "gaussian") == pytest.approx(
        float(theory.psi_closed_form(alpha, dim)), abs=1e-12)
    assert theory.psi_family(1.0, dim, "laplace") == 0.0


@pytest.mark.parametrize("alpha,dim", [(0.25, 3), (0.5, 1)])
def test_psi_family_laplace_matches_monte_carlo(alpha, dim):
    """The Laplace exponent by nested quadrature equals a direct Monte Carlo of the centred
    ball's kept variance (R^2 = W chi2_d, 10^6 draws), within 5 standard errors."""
    rng = np.random.default_rng(1)
    m = 1_000_000
    r2 = rng.exponential(size=m) * rng.chisquare(dim, size=m)
    kept = np.sort(r2)[: int(alpha * m)]
    est = 1.0 - kept.mean() / dim
    se = kept.std() / np.sqrt(kept.size) / dim
    assert abs(theory.psi_family(alpha, dim, "laplace") - est) < 5 * se, (est, se)
    # heavier tails: the centred ball keeps less of the variance than the Gaussian's
    assert theory.psi_family(alpha, dim, "laplace") > float(theory.psi_closed_form(alpha, dim))


@pytest.mark.parametrize("alpha", [0.1, 0.25, 0.6])
def test_psi_mad_laplace_matches_monte_carlo(alpha):
    """psi_1 = 1 - E[|z|; |z| <= c] / (alpha E|z|) for the 1-D Laplace in closed form equals
    a 10^6-draw Monte Carlo of the centred interval of mass alpha within 5 standard errors;
    the empty-pool product is the direct product."""
    rng = np.random.default_rng(4)
    z = np.sort(np.abs(rng.laplace(size=1_000_000)))
    kept = z[: int(alpha * z.size)]
    est = 1.0 - kept.mean() / z.mean()
    se = est * np.sqrt(kept.var() / kept.mean() ** 2 / kept.size + z.var() / z.size)
    assert abs(theory.psi_mad_laplace(alpha) - est) < 5 * se, (est, se)
    t = np.arange(1, 40)
    direct = np.cumsum(np.log1p(-theory.psi_mad_laplace(alpha) / t))
    np.testing.assert_allclose(theory.log_empty_pool_product(theory.psi_mad_laplace(alpha), t),
                               direct, rtol=1e-10)


def test_laplace_draws_have_identity_covariance_and_kurtosis_six():
    """family_draws('laplace') rows: mean 0, covariance I, E z^4 = 3 E W^2 = 6 per
    coordinate (float32 fast path and float64), within 5 standard errors."""
    m, d = 200_000, 3
    with jax.enable_x64(True):
        for fast, dtype in [(True, jnp.float32), (False, jnp.float64)]:
            z = np.asarray(family_draws(jax.random.key(2), (m, d), dtype, "laplace", fast=fast),
                           dtype=float)
            assert abs(z.mean(0)).max() < 5 * np.sqrt(1 / m)
            cov = z.T @ z / m
            se_off = 1 / np.sqrt(m)  # E z_i^2 z_j^2 = E W^2 = 2 for i != j: sd sqrt(2)
            assert abs(np.diag(cov) - 1).max() < 5 * np.sqrt(5 / m)
            assert abs(cov - np.diag(np.diag(cov))).max() < 5 * np.sqrt(2) * se_off
            k4 = np.mean(z**4, axis=0)
            assert abs(k4 - 6).max() < 5 * np.sqrt((np.mean(z**8) - 36) / m), k4


def test_check_decides_every_claim(tmp_path, capsys, monkeypatch):
    """Small sizes: every claim passes, L2 within its cap; outputs written; piped, one
    progress line per compiled run (9 for the Laplace)."""
    from collapse_jax.verdict import live

    monkeypatch.delenv(live.ENV, raising=False)  # progress on; capsys: stderr is piped
    out, fig = tmp_path / "r.json", tmp_path / "r.png"
    code = non_gaussian.main(SMALL + ["--json", str(out), "--plot", str(fig)])
    captured = capsys.readouterr()
    stdout = captured.out
    assert code == 0, stdout
    stages = [x for x in captured.err.splitlines() if x.startswith("  [")]
    assert [x.split("]")[0] for x in stages] == [f"  [{k}/9" for k in range(1, 10)], stages
    assert "median/MAD refit" in stages[-1] and "s elapsed" in stages[-1]
    claims = _claims(out)
    assert set(claims) == set(non_gaussian.CLAIMS)
    assert all(c["passed"] for c in claims.values()), claims
    assert fig.stat().st_size > 0


@pytest.mark.reuses_programs
def test_negative_controls_wrong_predictions_fail(tmp_path, capsys, monkeypatch):
    """The Gaussian exponent predicted for the Laplace (L2), an accumulate law far below the
    truth (L1 outside its CI, and L3 not below it), a replace bound of -2 per generation
    (L4), a replace drift without the (n - 1)/n bias (L5: an unbiased refit's 1) and the
    second-moment exponent predicted for the mean-absolute-deviation refit (L6) each fail."""
    from collapse_jax.core import accumulation

    psi2_1d = theory.psi_family(0.25, 1, "laplace")
    monkeypatch.setattr(theory, "psi_mad_laplace", lambda alpha: psi2_1d)
    monkeypatch.setattr(theory, "psi_family",
                        lambda alpha, dim, family="gaussian": float(theory.psi_closed_form(
                            alpha, dim)))
    monkeypatch.setattr(accumulation, "accumulate_trace_ratio", lambda n, t, est="mle": 0.01)
    monkeypatch.setattr(non_gaussian, "L4_BOUND", -2.0)
    monkeypatch.setattr(accumulation, "replace_trace_ratio", lambda n, t, ridge_share=0.0: 1.0)
    out = tmp_path / "r.json"
    code = non_gaussian.main(SMALL + ["--json", str(out)])
    stdout = capsys.readouterr().out
    assert code == 1, stdout
    claims = _claims(out)
    for cid in ("L1", "L2", "L5", "L6"):
        assert claims[cid]["reason"] == "prediction outside CI", claims[cid]
    for cid in ("L3", "L4"):
        assert claims[cid]["reason"] == "CI not below bound", claims[cid]


@pytest.mark.parametrize("argv,flag", [(["--alpha", "1.5"], "--alpha"), (["--n", "3"], "--n"),
                                       (["--dim", "0"], "--dim"),
                                       (["--family", "cauchy"], "--family")])
def test_bad_input_exits_2(argv, flag, capsys):
    with pytest.raises(SystemExit) if flag == "--family" else _nullcontext():
        code = non_gaussian.main(argv)
        assert code == 2
        assert flag in capsys.readouterr().err


class _nullcontext:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_equivalent_refuses_a_laplace_generator():
    """The deterministic equivalent is a Gaussian Monte Carlo: a Laplace config is bad input,
    not a wrong prediction."""
    from collapse_jax.core._validate import InvalidInput
    from collapse_jax.power_law import equivalent
    from collapse_jax.power_law.kernel import selection_config, selection_params

    cfg = selection_config(dim=2, n=10, alpha=0.5, generations=5, family="laplace")
    with pytest.raises(InvalidInput, match="equivalent_curves.*family='laplace'"):
        equivalent.equivalent_curves(jax.random.key(0), selection_params(cfg, alpha=0.5), cfg,
                                     n=10, alpha=0.5, seeds=2)
