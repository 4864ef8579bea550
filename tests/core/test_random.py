import jax
import jax.numpy as jnp
import pytest

from collapse_jax.core import _random


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
@pytest.mark.parametrize("name", ["normal", "uniform", "laplace", "exponential"])
def test_flat_draws_equal_shaped_draws(name, dtype):
    """The helpers only change compile and run time: same key, same numbers as the shaped
    call."""
    keys = jax.random.split(jax.random.key(7), 3)
    shape = (2, 3, 5)
    shaped = jax.vmap(lambda k: getattr(jax.random, name)(k, shape, dtype))(keys)
    flat = jax.vmap(lambda k: getattr(_random, name)(k, shape, dtype))(keys)
    assert flat.shape == shaped.shape == (3, *shape)
    assert bool(jnp.all(flat == shaped))


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
def test_flat_bernoulli_and_categorical_equal_jax(dtype):
    """Bernoulli draws with an array of probabilities and Gumbel-max categorical draws (with
    impossible classes, ``-inf`` logits, as the proxy's digit deal has) equal jax's own, keys
    vmapped as the kernels call them."""
    with jax.enable_x64(dtype == jnp.float64):
        keys = jax.random.split(jax.random.key(5), 3)
        p = jax.random.uniform(jax.random.key(1), (4, 6, 5), dtype)
        logits = jnp.where(p < 0.3, -jnp.inf, jax.random.normal(jax.random.key(2), p.shape,
                                                                 dtype)).at[..., 0].set(0.0)
        for ours, theirs, arg in [(_random.bernoulli, jax.random.bernoulli, p),
                                  (_random.categorical, jax.random.categorical, logits)]:
            a = jax.vmap(lambda k, f=ours, x=arg: f(k, x))(keys)
            b = jax.vmap(lambda k, f=theirs, x=arg: f(k, x))(keys)
            assert a.shape == b.shape and a.dtype == b.dtype
            assert bool(jnp.all(a == b))
        # the deal never picks an impossible class
        assert bool(jnp.all(jnp.take_along_axis(
            logits, _random.categorical(keys[0], logits)[..., None], -1) > -jnp.inf))


def test_normal_from_bits_is_jax_normal_conversion():
    """normal_f32 converts words exactly as jax.random.normal does: fed the 32-bit words of
    jax.random.bits it returns jax.random.normal's numbers bit for bit."""
    key = jax.random.key(11)
    words = jax.random.bits(key, (4099,), jnp.uint32)
    assert bool(jnp.all(_random.normal_from_bits(words)
                        == jax.random.normal(key, (4099,), jnp.float32)))


def test_normal_f32_law_and_reproducibility():
    """Both halves of each 64-bit word feed the draws: the law is N(0, 1) (mean, variance,
    fourth moment and the tail beyond 3 within 5 standard errors; the halves uncorrelated),
    the same key gives the same numbers, any shape (odd sizes included) is served."""
    import numpy as np

    with jax.enable_x64(True):
        x = np.asarray(jax.jit(lambda k: _random.normal_f32(k, (200_001,)))(jax.random.key(3)),
                       np.float64)
        again = np.asarray(_random.normal_f32(jax.random.key(3), (200_001,)))
        shaped = _random.normal_f32(jax.random.key(3), (7, 3, 5))
    m = x.size
    assert x.dtype == np.float64 and np.array_equal(again, x.astype(np.float32))
    assert shaped.shape == (7, 3, 5) and shaped.dtype == jnp.float32
    for stat, se in [(x.mean(), 1 / np.sqrt(m)), (x.var() - 1.0, np.sqrt(2 / m)),
                     (np.mean(x**4) - 3.0, np.sqrt(96 / m))]:
        assert abs(stat) < 5 * se, (stat, se)
    p3 = 0.0026997960632601866  # P(|Z| > 3)
    assert abs(np.mean(np.abs(x) > 3) - p3) < 5 * np.sqrt(p3 * (1 - p3) / m)
    half = m // 2 + 1  # first and second halves of the same 64-bit words
    r = np.corrcoef(x[: m // 2], x[half: half + m // 2])[0, 1]
    assert abs(r) < 5 / np.sqrt(m // 2)
    assert not np.array_equal(x[:1000], np.asarray(jax.random.normal(jax.random.key(3), (1000,),
                                                                     jnp.float32)))
