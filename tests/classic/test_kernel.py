"""refit_kernel: exactness against closed forms, jit == eager, vmap == loop, no retrace.

Compiles are the cost here, so each compiled program is built once (module fixtures) and
shared by several tests.
"""

import math

import jax
import numpy as np
import pytest

from collapse_jax.classic import theory as theory_classic
from collapse_jax.classic.kernel import refit_config, refit_kernel, refit_params
from collapse_jax.core import accumulation
from collapse_jax.engine import batch

from ..conftest import Z

G = 12
SEEDS = 3000
LAM = 1.5
KEY = 4


def _cfg(**kw):
    base = dict(dim=1, n=10, generations=G)
    base.update(kw)
    return refit_config(**base)


@pytest.fixture(scope="module")
def replace_run():
    cfg = _cfg()
    key = jax.random.key(KEY)
    p = refit_params(cfg, estimator=["mle", "unbiased"])
    _, m = batch.run_sweep(refit_kernel, key, p, cfg, seeds=SEEDS)
    return cfg, key, {k: np.asarray(v)[:, :, 0] for k, v in m.items()}


@pytest.fixture(scope="module")
def mix_run():
    cfg = _cfg(paradigm="mix")
    key = jax.random.key(KEY)
    fin, m = batch.run(refit_kernel, key, refit_params(cfg, lam=LAM), cfg, seeds=SEEDS)
    tr_real = np.trace(np.asarray(fin.real_cov)[:, 0], axis1=-2, axis2=-1)[:, None]
    return cfg, key, {k: np.asarray(v)[:, 0] for k, v in m.items()}, tr_real


@pytest.mark.parametrize("kw", [
    # d > 1, random truth, the subsample pool (random priorities inside the scan)
    {"dim": 2, "truth": "random", "paradigm": "accumulate-subsample", "generations": 6},
    # draws inside the scan (too many to pre-draw)
    {"paradigm": "mix", "m": 300, "m_max": 400, "generations": 8},
])
def test_other_paths_are_deterministic_and_finite(kw):
    # jit == eager is tested on the main path below; eager runs compile every primitive
    # once, so they are kept few.
    cfg = _cfg(**kw)
    p = refit_params(cfg, lam=2.0 if cfg.paradigm == "mix" else 0.0)
    key = jax.random.key(3)
    _, out = batch.run(refit_kernel, key, p, cfg, seeds=2)
    _, again = batch.run(refit_kernel, key, p, cfg, seeds=2)
    for k in out:
        np.testing.assert_array_equal(out[k], again[k])
        assert out[k].shape == (2, 1, cfg.generations + 1)
        assert np.all(np.isfinite(out[k])), k


def test_vmap_equals_eager_loop_over_seeds_and_sweep_points(replace_run):
    cfg, key, m = replace_run
    keys = batch.seed_keys(key, 2)
    with jax.disable_jit():
        for j, est in enumerate(("mle", "unbiased")):
            for i in range(2):
                _, one = refit_kernel(keys[i], refit_params(cfg, estimator=est), cfg)
                np.testing.assert_allclose(m["trace"][j, i], one["trace"], rtol=1e-10)


def test_replace_matches_closed_forms(replace_run):
    # theory.md 3.1: exact drift kappa, conditional factor k/c, mean steps Tr Sigma / n,
    # expected tail mass.
    _, _, m = replace_run
    for j, est in enumerate(("mle", "unbiased")):
        trace, step = m["trace"][j], m["step_sq"][j]
        drift = m["logdet"][j][:, -1] / (G + 1)  # truth N(0, 1); row G is fit G + 1
        fac = np.mean(np.concatenate([trace[:, :1], trace[:, 1:] / trace[:, :-1]], 1), axis=1)
        prev = np.concatenate([np.ones((SEEDS, 1)), trace[:, :-1]], axis=1)
        steps = np.mean(10 * step / prev, axis=1)
        tail = m["tail3"][j][:, 4]
        for sample, pred in (
            (drift, theory_classic.refit_log_drift(10, est)),
            (fac, theory_classic.refit_variance_factor(10, est)),
            (steps, 1.0),
            (tail, theory_classic.refit_tail_mass(10, 5, 3.0, est)),
        ):
            assert abs(sample.mean() - pred) <= Z * sample.std(ddof=1) / math.sqrt(SEEDS)


def test_mixing_matches_exact_recursion(mix_run):
    _, _, m, tr_real = mix_run
    var, err = m["trace"] / tr_real, m["dist_real"] / tr_real
    exact = theory_classic.mixing_moments(LAM, 10, np.arange(G + 1))
    for t in (1, 4, G):
        for sample, pred in ((var[:, t], exact[t, 1]), (err[:, t], exact[t, 0])):
            assert abs(sample.mean() - pred) <= Z * sample.std(ddof=1) / math.sqrt(SEEDS)
    assert np.all(var[:, 1:] >= 1.0 - theory_classic.mixing_weight(LAM) - 1e-12)  # the floor


def test_new_params_do_not_retrace(mix_run):
    cfg, key, _, _ = mix_run
    size = batch._run._cache_size()
    for lam in (0.5, math.inf):
        batch.run(refit_kernel, key, refit_params(cfg, lam=lam), cfg, seeds=SEEDS)
    assert batch._run._cache_size() == size


def test_mixing_with_infinite_lam_is_replace(replace_run, mix_run):
    # w = 1 drops the real data: with m = n and one key, mixing at lam = inf is the MLE
    # replace run seed by seed.
    _, _, rep = replace_run
    cfg_mix, key, _, _ = mix_run
    _, mix = batch.run(refit_kernel, key, refit_params(cfg_mix, lam=math.inf), cfg_mix,
                       seeds=SEEDS)
    for k in ("trace", "logdet", "dist_truth", "tail2"):
        np.testing.assert_allclose(np.asarray(mix[k])[:, 0], rep[k][0], rtol=1e-9, err_msg=k)


def test_accumulate_matches_the_exact_law():
    # Same law as loops.selection_kernel(select=False) (theory.md 3.8).
    cfg = _cfg(paradigm="accumulate")
    _, m = batch.run(refit_kernel, jax.random.key(6), refit_params(cfg), cfg, seeds=SEEDS)
    tr = np.asarray(m["trace"])[:, 0]
    for t in (0, 5, G):
        est, se = tr[:, t].mean(), tr[:, t].std(ddof=1) / math.sqrt(SEEDS)
        assert abs(est - accumulation.accumulate_trace_ratio(10, t)) <= Z * se


@pytest.mark.parametrize(("kw", "match"), [
    ({"n": 1}, "n=1"), ({"paradigm": "mixing"}, "paradigm='mixing'"),
    ({"generations": 0}, "generations=0"), ({"dim": 0}, "dim=0"), ({"truth": "t"}, "truth='t'"),
])
def test_bad_config_raises(kw, match):
    with pytest.raises(ValueError, match=match):
        _cfg(**kw)


def test_bad_params_raise():
    cfg = _cfg(paradigm="mix")
    with pytest.raises(ValueError, match="lam=-1"):
        refit_params(cfg, lam=-1.0)
    with pytest.raises(ValueError, match="estimator='unbiased' is not defined"):
        refit_params(cfg, estimator="unbiased")
    with pytest.raises(ValueError, match="m=40"):
        refit_params(cfg, m=40)
    with pytest.raises(ValueError, match="estimator='x'"):
        refit_params(_cfg(), estimator="x")
