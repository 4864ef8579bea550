import jax
import jax.numpy as jnp
import numpy as np
import pytest

from collapse_jax.engine import batch
from collapse_jax.knowledge_center import regression
from collapse_jax.knowledge_center import theory as vt
from collapse_jax.knowledge_center.kernel import verifier_config, verifier_kernel, verifier_params

from ..conftest import Z

# Small configurations shared by the tests so that each compiles once. n0 = 20 keeps the
# Student-t tails of the initial OLS error light (nu = 18), so Monte Carlo SEs are reliable.
SMALL = {"block": verifier_config(p=3, n0=20, n=100, rounds=4),
         "isotropic": verifier_config(p=3, n0=20, n=20, rounds=3, design="isotropic",
                                      paradigm="accumulate")}
single = jax.jit(verifier_kernel, static_argnums=2)


@pytest.mark.parametrize("design", ["block", "isotropic"])
def test_jit_equals_eager_and_is_deterministic(design):
    cfg = SMALL[design]
    p = verifier_params(cfg, delta=0.4, r=0.3, sigma_c=0.4)
    key = jax.random.key(7)
    with jax.disable_jit():
        _, eager = verifier_kernel(key, p, cfg)
    _, jitted = single(key, p, cfg)
    _, again = single(key, p, cfg)
    for k in eager:
        np.testing.assert_allclose(eager[k], jitted[k], rtol=1e-10, atol=1e-12, err_msg=k)
        np.testing.assert_array_equal(jitted[k], again[k])
    assert jitted["theta"].shape == (cfg.rounds + 1, cfg.p)
    assert jitted["err_star"].shape == (cfg.rounds + 1,)
    assert float(jitted["accepted"][0]) == cfg.n0 and float(jitted["acc_rate"][0]) == 1.0


def test_sweep_matches_single_seeds_and_the_exact_theory():
    # One compiled sweep (verifier on / off) serves four checks: the sweep equals jitted
    # single-seed calls, new parameters do not retrace, and the Monte Carlo means match
    # verifier_theory.predict (block, replace) and the no-verifier random walk within Z SE.
    cfg = SMALL["block"]
    seeds, key = 3000, jax.random.key(6)
    delta, r, sigma_c = 0.5, 0.3, 0.4
    sweep = verifier_params(cfg, delta=[delta, delta], r=[r, r], sigma_c=sigma_c,
                            verify=[True, False])
    _, m = batch.run_sweep(verifier_kernel, key, sweep, cfg, seeds=seeds)
    keys = batch.seed_keys(key, seeds)
    for j, v in enumerate([True, False]):
        one = verifier_params(cfg, delta=delta, r=r, sigma_c=sigma_c, verify=v)
        for i in range(2):
            _, ref = single(keys[i], one, cfg)
            np.testing.assert_allclose(m["theta"][j, i, 0], ref["theta"], rtol=1e-12)
    pr = vt.predict(vt.Setting(cfg.p, cfg.n0, cfg.n, 1.0, sigma_c, r, delta), cfg.rounds)

    def close(x, exact, what):
        x = np.asarray(x)
        assert abs(x.mean() - exact) <= Z * x.std(ddof=1) / np.sqrt(x.size), what

    for k in range(cfg.rounds + 1):
        close(m["err_center"][0, :, 0, k], pr.err_center[k], f"err_center[{k}]")
        close(m["theta"][0, :, 0, k, 0] - delta, pr.offset[k], f"offset[{k}]")
    close(m["err_star"][0, :, 0, 1], pr.err_star[1], "err_star[1]")
    close(m["acc_rate"][0, :, 0, 1], pr.acc_rate[1], "acc_rate[1]")
    th = np.asarray(m["theta"])[1, :, 0]
    close(np.sum((th[:, -1] - th[:, 0]) ** 2, axis=-1),
          cfg.rounds * vt.no_verifier_slope(cfg.p, cfg.n, 1.0), "random walk")
    size = batch._run_sweep._cache_size()
    batch.run_sweep(verifier_kernel, key, verifier_params(cfg, delta=[1.0, 2.0], r=[0.1, 0.9]),
                    cfg, seeds=seeds)
    assert batch._run_sweep._cache_size() == size


def test_no_verifier_keeps_every_row_and_failures_are_counted_not_nan():
    cfg = SMALL["block"]
    _, m = single(jax.random.key(2), verifier_params(cfg, verify=False), cfg)
    np.testing.assert_array_equal(np.asarray(m["accepted_dir"])[1:], cfg.n)
    # A window of width 2e-3 sigma keeps ~0.1% of the rows: with 100 rows per direction most
    # rounds leave a direction empty; it keeps its coefficient and the round is flagged.
    fin, m = single(jax.random.key(3), verifier_params(cfg, r=0.0, sigma_c=0.001), cfg)
    assert float(fin.failed_rounds) >= 1
    for k, v in m.items():
        assert np.all(np.isfinite(v)), k
    empty = np.asarray(m["accepted_dir"])[1:] == 0
    th = np.asarray(m["theta"])
    np.testing.assert_array_equal(th[1:][empty], th[:-1][empty])


def test_ols_fallbacks():
    fb = jnp.array([1.0, 2.0, 3.0])
    st = regression.RoundStats(jnp.diag(jnp.array([4.0, 0.0, 2.0])), jnp.array([2.0, 5.0, 4.0]),
                               jnp.array([4.0, 0.0, 2.0]), jnp.asarray(6.0))
    theta, failed = regression.ols(st, fb, block=True)
    np.testing.assert_allclose(theta, [0.5, 2.0, 2.0])
    assert float(failed) == 1.0
    x = jnp.ones((2, 3))
    few = regression.RoundStats(x.T @ x, x.T @ jnp.ones(2), jnp.zeros(3), jnp.asarray(2.0))
    theta, failed = regression.ols(few, fb, block=False)
    np.testing.assert_array_equal(theta, fb)
    assert float(failed) == 1.0


def test_isotropic_round_without_verifier_is_plain_ols_statistics():
    key = jax.random.key(4)
    theta = jnp.array([0.3, -0.2, 0.1])
    design = regression.isotropic_design(jax.random.key(5), 3, 10, jnp.zeros(3), jnp.float64)
    st = regression.isotropic_round(key, design, theta, 0.2, 1.0, 0.5, 2.0, 0.0, jnp.float64)
    x = (2.0 / np.sqrt(3.0)) * np.asarray(design.z)
    noise = np.asarray(jax.random.normal(key, (30,), jnp.float64))
    y = x @ np.asarray(theta) + noise
    np.testing.assert_allclose(st.gram, x.T @ x, rtol=1e-12)
    np.testing.assert_allclose(st.moment, x.T @ y, rtol=1e-12)
    assert float(st.total) == 30


@pytest.mark.parametrize(("kw", "match"), [
    ({"p": 0}, "p=0"), ({"n0": 4}, "n0=4"), ({"rounds": 0}, "rounds=0"),
    ({"design": "grid"}, "design='grid'"), ({"paradigm": "mix"}, "paradigm='mix'"),
    ({"sample_precision": "float16"}, ".*float16"), ({"sampler": "cells"}, "sampler='cells'"),
    ({"sampler": "sufficient", "design": "isotropic"}, "sampler='sufficient' needs"),
])
def test_bad_config_raises_clear_error(kw, match):
    with pytest.raises(ValueError, match=f"verifier_config: {match}"):
        verifier_config(**kw)


@pytest.mark.parametrize(("kw", "match"), [
    ({"delta": -1.0}, "delta=-1"), ({"r": -0.1}, "r=-0.1"), ({"sigma": 0.0}, "sigma=0"),
    ({"r": 0.0, "sigma_c": 0.0}, "r=0.0 with sigma_c=0.0"), ({"verify": 2}, "verify=.*2"),
    ({"delta": [0.1, 0.2], "r": [0.1, 0.2, 0.3]}, "do not broadcast"),
])
def test_bad_params_raise_clear_error(kw, match):
    with pytest.raises(ValueError, match=match):
        verifier_params(SMALL["block"], **kw)


def test_float32_noise_draws_keep_a_float64_fit():
    """``sample_precision='float32'`` only changes the noise draws: the fit and every metric
    stay float64, and the first round's acceptance equals the float64 run's in law (same
    acceptance probability; compared within Z standard errors over rows and seeds)."""
    cfg32 = SMALL["block"]._replace(sample_precision="float32")
    params = verifier_params(SMALL["block"])
    seeds = 400
    _, m32 = batch.run(verifier_kernel, jax.random.key(1), params, cfg32, seeds=seeds)
    _, m64 = batch.run(verifier_kernel, jax.random.key(2), params, SMALL["block"], seeds=seeds)
    assert m32["theta"].dtype == jnp.float64
    a32 = np.asarray(m32["acc_rate"])[:, 0, 1]
    a64 = np.asarray(m64["acc_rate"])[:, 0, 1]
    se = np.sqrt(a32.var(ddof=1) / seeds + a64.var(ddof=1) / seeds)
    assert abs(a32.mean() - a64.mean()) < Z * se


def _round_law(theta, theta_c, n, r, sigma, sigma_c, s):
    """Closed forms of one block round per direction: E m, Var m, E S, Var S (``m`` the
    accepted count, ``S`` the sum of the accepted label noise), from the truncated normal."""
    from scipy import stats

    half = (r * s + sigma_c) / sigma
    c = -s * (np.asarray(theta) - np.asarray(theta_c)) / sigma
    tn = stats.truncnorm(c - half, c + half)
    q = stats.norm.cdf(c + half) - stats.norm.cdf(c - half)
    em, vm = n * q, n * q * (1 - q)
    mu, var = tn.mean(), tn.var()
    # S = sigma (sum of m truncated normals): total variance over m
    return em, vm, sigma * em * mu, sigma**2 * (em * var + vm * mu**2), sigma**2 * (em + vm * mu**2)


@pytest.mark.parametrize("sampler", ["rows", "sufficient"])
def test_block_round_law_of_both_samplers(sampler):
    """One verified round off the centre (the window cuts the noise asymmetrically): the
    accepted count and accepted-noise sum of each direction have the closed-form mean and
    variance of the truncated normal (within Z SEs over 4000 rounds) for the exact row sampler
    and the sufficient-statistics one. Negative control: the variance of the sum computed as
    if the accepted noise were untruncated is rejected."""
    fn = regression.block_round_sufficient if sampler == "sufficient" else regression.block_round
    theta = jnp.array([0.3, -0.8, 1.6])
    theta_c = jnp.array([0.5, 0.0, 0.0])
    n, r, sigma, sigma_c, s = 60, 0.2, 1.0, 0.5, 1.2
    reps = 4000
    keys = jax.random.split(jax.random.key(11), reps)
    st = jax.jit(jax.vmap(lambda k: fn(k, theta, theta_c, n, r, sigma, sigma_c, s, 1.0,
                                        jnp.float64)))(keys)
    m = np.asarray(st.count)
    noise = np.asarray(st.moment) / s - m * s * np.asarray(theta)   # sum of accepted noise
    em, vm, es, vs, vs_wrong = _round_law(theta, theta_c, n, r, sigma, sigma_c, s)
    assert np.all(np.abs(m.mean(0) - em) <= Z * np.sqrt(vm / reps)), (m.mean(0), em)
    assert np.all(np.abs(noise.mean(0) - es) <= Z * np.sqrt(vs / reps)), (noise.mean(0), es)
    # the variance's SE: sqrt((kurt - 1) / reps) relative, kurtosis estimated from the draws
    dev = noise - noise.mean(0)
    kurt = np.mean(dev**4, 0) / np.mean(dev**2, 0) ** 2
    v = noise.var(0, ddof=1)
    se_v = vs * np.sqrt((kurt - 1) / reps)
    assert np.all(np.abs(v - vs) <= Z * se_v), (v, vs)
    assert np.any(np.abs(v - vs_wrong) > Z * se_v), (v, vs_wrong)


def test_sufficient_sampler_without_verifier_keeps_every_row():
    theta = jnp.array([0.3, -0.8])
    st = regression.block_round_sufficient(jax.random.key(0), theta, jnp.zeros(2), 50, 0.2,
                                           1.0, 0.5, 1.0, 0.0, jnp.float64)
    np.testing.assert_array_equal(np.asarray(st.count), [50.0, 50.0])


@pytest.mark.slow
def test_sufficient_kernel_matches_the_row_kernel():
    """The whole loop (default sizes: p 5, n 2000 rows per direction, 30 rounds, replace)
    under both samplers: the mean distance to the centre and the acceptance rate agree at
    rounds 1, 5 and 30 within Z SEs of their difference (independent keys, 300 seeds each),
    with and without the verifier."""
    seeds = 300
    out = {}
    for sampler in ("rows", "sufficient"):
        cfg = verifier_config(sampler=sampler)
        params = verifier_params(cfg, verify=[True, False])
        _, m = batch.run_sweep(verifier_kernel, jax.random.key(5 if sampler == "rows" else 6),
                               params, cfg, seeds=seeds)
        out[sampler] = {k: np.asarray(m[k]) for k in ("err_center", "acc_rate")}
    for k in ("err_center", "acc_rate"):
        for j in (1, 5, 30):
            a, b = out["rows"][k][:, :, 0, j], out["sufficient"][k][:, :, 0, j]
            se = np.sqrt(a.var(1, ddof=1) / seeds + b.var(1, ddof=1) / seeds)
            diff = np.abs(a.mean(1) - b.mean(1))
            assert np.all(diff <= Z * np.maximum(se, 1e-15)), (k, j, diff, se)
