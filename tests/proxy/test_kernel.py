import jax
import jax.numpy as jnp
import numpy as np
import pytest

from collapse_jax.engine import batch
from collapse_jax.proxy.kernel import proxy_config, proxy_kernel, proxy_params

CFG = proxy_config(strategies=("random", "local", "barycenter"), n=12, alpha=0.5, n_real=40,
                   silos=3, generations=2, n_eval=20, rounds=2)
PARAMS = proxy_params(CFG, beta=0.2)


@pytest.fixture(scope="module")
def batched():
    return batch.run(proxy_kernel, jax.random.key(7), PARAMS, CFG, seeds=2)


@pytest.mark.slow  # a second compile of the kernel (one seed, no vmap)
def test_vmap_equals_loop_and_same_key_same_output(batched):
    _, out = batched
    single = jax.jit(lambda k: proxy_kernel(k, PARAMS, CFG))
    keys = batch.seed_keys(jax.random.key(7), 2)
    for i in range(2):
        _, o = single(keys[i])
        for name in ("eval", "trace", "converged"):
            np.testing.assert_allclose(out[name][i, 0], o[name], rtol=2e-5, atol=2e-5)
    size = len(batch._COMPILED)
    _, again = batch.run(proxy_kernel, jax.random.key(7), PARAMS, CFG, seeds=2)
    np.testing.assert_array_equal(out["eval"], again["eval"])
    # A new beta (the params leaf) reuses the compiled program: no retrace.
    _, other = batch.run(proxy_kernel, jax.random.key(7), proxy_params(CFG, beta=5.0), CFG,
                         seeds=2)
    assert len(batch._COMPILED) == size
    assert not np.array_equal(np.asarray(other["eval"])[:, :, 1:], np.asarray(out["eval"])[:, :, 1:])


def test_shapes_common_random_numbers_and_frechet(batched):
    final, out = batched
    t, s = CFG.generations + 1, len(CFG.strategies)
    assert out["eval"].shape == (2, 1, t, s, CFG.n_eval, 2)
    assert out["frechet"].shape == (2, 1, t, CFG.rounds + 1)
    # Generation 0 is the same model for every strategy, drawn with the same uniforms.
    ev = np.asarray(out["eval"][:, 0, 0])
    assert np.array_equal(ev[:, 0], ev[:, 1]) and np.array_equal(ev[:, 0], ev[:, 2])
    fr = np.asarray(out["frechet"][:, 0, 1:])
    assert np.all(np.isfinite(fr)) and np.all(np.diff(fr, axis=-1) <= 1e-4 * fr[..., :1])
    assert final.silo_counts.shape == (2, 1, 3, CFG.modes)
    np.testing.assert_allclose(np.sum(final.silo_counts, axis=(2, 3)), CFG.n_real)


@pytest.mark.parametrize(("kw", "match"), [
    ({"strategies": ("random", "nearest")}, "strategies='nearest'"),
    ({"strategies": ()}, "strategies=()"),
    ({"alpha": 0.0}, "alpha=0.0"), ({"modes": 9, "dim": 3}, "modes=9"),
    ({"paradigm": "mix"}, "paradigm='mix'"), ({"epsilon": -1.0}, "epsilon=-1.0"),
    ({"pool": 5, "n": 10}, "pool=5"),
])
def test_bad_config_raises(kw, match):
    with pytest.raises(ValueError, match=match):
        proxy_config(**kw)


def test_bad_beta_raises():
    with pytest.raises(ValueError, match="beta=0.0"):
        proxy_params(CFG, beta=[0.1, 0.0])
    assert proxy_params(CFG, beta=[0.1, 5.0]).beta.shape == (2,)
    assert jnp.issubdtype(PARAMS.beta.dtype, jnp.floating)
