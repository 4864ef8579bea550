import jax
import jax.numpy as jnp
import pytest

from collapse_jax.core import _random


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
@pytest.mark.parametrize("name", ["normal", "uniform"])
def test_flat_draws_equal_shaped_draws(name, dtype):
    """The helpers only change compile time: same key, same numbers as the shaped call."""
    keys = jax.random.split(jax.random.key(7), 3)
    shape = (2, 3, 5)
    shaped = jax.vmap(lambda k: getattr(jax.random, name)(k, shape, dtype))(keys)
    flat = jax.vmap(lambda k: getattr(_random, name)(k, shape, dtype))(keys)
    assert flat.shape == shaped.shape == (3, *shape)
    assert bool(jnp.all(flat == shaped))
