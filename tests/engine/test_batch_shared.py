"""batch.run_sweep_shared: shared arrays are read unbatched by every point and seed."""

import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from collapse_jax.engine import batch


def _kernel(key, ps, cfg, silo):
    p, shared = ps
    return None, {"v": p * jnp.sum(shared) + jax.random.normal(key, (cfg,))}


def test_shared_sweep_equals_sweep_with_broadcast_data():
    data = jnp.arange(6.0)
    params = jnp.array([1.0, 2.0, 3.0])
    (_, out), tm = batch.run_sweep_shared(_kernel, jax.random.key(0), params, data, 2,
                                          seeds=4, timed=True)
    (_, ref) = batch.run_sweep(lambda k, p, cfg, s: _kernel(k, (p[0], p[1][0]), cfg, s),
                               jax.random.key(0),
                               (params, jnp.broadcast_to(data, (3, 1, 6))), 2, seeds=4)
    assert out["v"].shape == (3, 4, 1, 2) and tm.compile_s > 0
    np.testing.assert_allclose(out["v"], ref["v"])
    # Chunks of seeds give the same numbers (seed i always gets fold_in(key, i)).
    chunked = batch.run_sweep_shared(_kernel, jax.random.key(0), params, data, 2, seeds=4,
                                     chunk_size=3)[1]
    np.testing.assert_allclose(chunked["v"], out["v"])


def test_stream_with_shared_arrays_equals_run_sweep_shared():
    data = jnp.arange(6.0)
    params = jnp.array([1.0, 2.0, 3.0])
    ref = batch.run_sweep_shared(_kernel, jax.random.key(0), params, data, 2, seeds=5)[1]["v"]
    red = batch.SeedSummary(lambda out, start: {"v": np.moveaxis(out[1]["v"][:, :, 0], 1, 0)})
    batch.stream(_kernel, jax.random.key(0), params, 2, seeds=5, chunk_size=2, sweep=True,
                 shared=data, reduce=red)
    np.testing.assert_allclose(np.moveaxis(red.kept()["v"], 0, 1), np.asarray(ref)[:, :, 0])
    with pytest.raises(ValueError, match="sweep=True"):
        batch.stream(_kernel, jax.random.key(0), params, 2, seeds=5, shared=data, reduce=red)


def test_shared_sweep_needs_a_sweep_axis():
    with pytest.raises(ValueError, match="run_sweep_shared"):
        batch.run_sweep_shared(_kernel, jax.random.key(0), jnp.float64(1.0), jnp.ones(2), 2,
                               seeds=2)


SHARDED = """
import jax, jax.numpy as jnp, numpy as np
from collapse_jax.engine import batch
def kernel(key, ps, cfg, silo):
    p, shared = ps
    return None, {"v": p * jnp.sum(shared) + jax.random.normal(key, (cfg,))}
assert jax.device_count() == 2, jax.devices()
args = (kernel, jax.random.key(0), jnp.array([1.0, 2.0, 3.0]), jnp.arange(6.0), 2)
ref = batch.run_sweep_shared(*args, seeds=5, devices=1)[1]["v"]
for dev, chunk in ((2, None), (2, 3)):
    out = batch.run_sweep_shared(*args, seeds=5, devices=dev, chunk_size=chunk)[1]["v"]
    np.testing.assert_allclose(np.asarray(out), np.asarray(ref), rtol=1e-6, atol=0)
print("sharded ok")
"""


def test_shared_sweep_sharded_over_a_seed_mesh_equals_one_device():
    # Two host devices in a child process (the device count is fixed at JAX start-up); the
    # seed axis is sharded, the shared data replicated. float32 rounding may differ with
    # the shard shape, hence rtol 1e-6 (about 8 float32 eps).
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2",
               JAX_PLATFORMS="cpu")
    r = subprocess.run([sys.executable, "-c", SHARDED], capture_output=True, text=True,
                       env=env, timeout=300)
    assert r.returncode == 0 and "sharded ok" in r.stdout, r.stderr[-2000:]
