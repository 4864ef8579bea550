import math

import jax
import numpy as np
import pytest

from collapse_jax.classic import theory as theory_classic
from collapse_jax.classic.fixed_design import (
    PARADIGMS,
    dohmatob_kernel,
    ols_config,
    ols_kernel,
    ols_params,
)
from collapse_jax.engine import batch

from ..conftest import Z

D, T, T0, N, SEEDS = 5, 16, 24, 6, 3000


@pytest.fixture(scope="module")
def runs():
    cfg = ols_config(dim=D, T=T, T0=T0, generations=N - 1)
    cfg_doh = ols_config(dim=D, T=T, T0=T0, generations=N)
    key = jax.random.key(11)
    _, m = batch.run(ols_kernel, key, ols_params(cfg), cfg, seeds=SEEDS)
    _, md = batch.run(dohmatob_kernel, key, ols_params(cfg_doh, noise0=0.5), cfg_doh,
                      seeds=SEEDS)
    errors = {k: np.asarray(v)[:, 0] for k, v in m.items()}
    errors["dohmatob"] = np.asarray(md["error"])[:, 0]
    return cfg, cfg_doh, key, errors


def _close(sample, pred):
    return abs(sample.mean() - pred) <= Z * sample.std(ddof=1) / math.sqrt(sample.shape[0])


def test_replace_and_accumulate_match_closed_forms(runs):
    _, _, _, e = runs
    n = np.arange(1, N + 1)
    rep = theory_classic.regression_replace_error(n, T, D)
    acc = theory_classic.regression_accumulate_error(n, T, D)
    for i in (0, 2, N - 1):
        assert _close(e["replace"][:, i], rep[i])
        assert _close(e["accumulate"][:, i], acc[i])
    # common random numbers: the first fit is the same under every paradigm
    np.testing.assert_allclose(e["replace"][:, 0], e["accumulate-subsample"][:, 0], rtol=1e-9)
    # no closed form for accumulate-subsample: it sits between the two
    assert e["accumulate"][:, -1].mean() < e["accumulate-subsample"][:, -1].mean()
    assert e["accumulate-subsample"][:, -1].mean() < e["replace"][:, -1].mean()


def test_dohmatob_matches_closed_form(runs):
    _, _, _, e = runs
    pred = theory_classic.dohmatob_error(np.arange(N + 1), T, D, 1.0, T0, 0.5)
    for n in (0, 3, N):
        assert _close(e["dohmatob"][:, n], pred[n])


def test_jit_vmap_equals_eager_loop_and_is_deterministic(runs):
    # The batched, jitted run of the fixture against single-seed eager calls.
    cfg, cfg_doh, key, e = runs
    keys = batch.seed_keys(key, 2)
    with jax.disable_jit():
        for i in range(2):
            _, one = ols_kernel(keys[i], ols_params(cfg), cfg)
            _, one_d = dohmatob_kernel(keys[i], ols_params(cfg_doh, noise0=0.5), cfg_doh)
            for par in PARADIGMS:
                np.testing.assert_allclose(e[par][i], one[par], rtol=1e-9, err_msg=par)
            np.testing.assert_allclose(e["dohmatob"][i], one_d["error"], rtol=1e-9)
    _, again = batch.run(ols_kernel, key, ols_params(cfg), cfg, seeds=SEEDS)
    np.testing.assert_array_equal(np.asarray(again["replace"])[:, 0], e["replace"])


def test_new_noise_does_not_retrace(runs):
    cfg, _, key, _ = runs
    size = batch._run._cache_size()
    batch.run(ols_kernel, key, ols_params(cfg, noise=2.0), cfg, seeds=SEEDS)
    assert batch._run._cache_size() == size


@pytest.mark.parametrize(("kw", "match"), [
    ({"T": 6}, "T=6"), ({"paradigms": ("replace", "mix")}, "paradigm='mix'"),
    ({"paradigms": ()}, "paradigms=()"), ({"pool_size": 100}, "pool_size=100"),
    ({"generations": -1}, "generations=-1"),
])
def test_bad_config_raises(kw, match):
    base = dict(dim=D, T=T)
    base.update(kw)
    with pytest.raises(ValueError, match=match):
        ols_config(**base)


def test_bad_params_raise():
    with pytest.raises(ValueError, match="noise=-1"):
        ols_params(ols_config(dim=D, T=T), noise=-1.0)
