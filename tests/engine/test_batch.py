import os
import subprocess
import sys
import textwrap

import jax
import numpy as np
import pytest

from collapse_jax.engine import batch
from collapse_jax.power_law.kernel import selection_config, selection_kernel, selection_params

SHARDED = textwrap.dedent("""
    import jax, numpy as np
    jax.config.update("jax_enable_x64", True)
    from collapse_jax.engine import batch
    from collapse_jax.power_law.kernel import selection_config, selection_kernel, selection_params
    assert jax.device_count() == 4, jax.devices()
    cfg = selection_config(dim=1, n=20, alpha=0.25, generations=6)
    p = selection_params(cfg, alpha=0.25, offset=1.0)
    key = jax.random.key(11)
    ref = np.asarray(batch.run(selection_kernel, key, p, cfg, seeds=10, devices=1)[1]["trace"])
    for dev, chunk in ((4, None), (2, None), (4, 3), (3, 4)):
        out = batch.run(selection_kernel, key, p, cfg, seeds=10, devices=dev, chunk_size=chunk)
        # Same keys and draws; XLA may vectorise a reduction differently for another shard
        # shape, so equality is to rounding (observed <= 3e-16 relative).
        np.testing.assert_allclose(np.asarray(out[1]["trace"]), ref, rtol=1e-13, atol=0)
    sw = selection_params(cfg, alpha=[0.25, 0.5], offset=[0.0, 1.0])
    a = batch.run_sweep(selection_kernel, key, sw, cfg, seeds=5, devices=1)[1]["trace"]
    b = batch.run_sweep(selection_kernel, key, sw, cfg, seeds=5, devices=4)[1]["trace"]
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-13, atol=0)
    print("sharded ok")
""")


@pytest.mark.slow
def test_sharded_equals_single_device():
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4",
               JAX_PLATFORMS="cpu")
    r = subprocess.run([sys.executable, "-c", SHARDED], capture_output=True, text=True,
                       env=env, timeout=600)
    assert r.returncode == 0 and "sharded ok" in r.stdout, r.stderr[-3000:]


def test_a_program_is_traced_once_and_a_compiled_one_not_again():
    """The size estimate (``jax.eval_shape``) and the compile see one trace of the kernel
    (jit's trace cache; tracing costs a good part of a second per program), and a run whose
    program is already compiled traces nothing."""
    traces = []

    def kernel(key, params, cfg, silo=0):
        traces.append(1)  # runs at trace time only
        return None, {"x": jax.random.normal(key, (cfg,)) * params}

    batch.clear_caches()
    key = jax.random.key(3)
    first = np.asarray(batch.run(kernel, key, np.float64(2.0), 4, seeds=5)[1]["x"])
    assert len(traces) == 1
    again = np.asarray(batch.run(kernel, key, np.float64(2.0), 4, seeds=5)[1]["x"])
    assert len(traces) == 1
    np.testing.assert_array_equal(first, again)
    # negative control: another shape is another program, traced once more
    batch.run(kernel, key, np.float64(2.0), 4, seeds=6)
    assert len(traces) == 2


@pytest.mark.slow
def test_stream_group_means_equal_per_seed_means():
    cfg = selection_config(dim=1, n=20, alpha=0.25, generations=5)
    p = selection_params(cfg, alpha=0.25)
    key = jax.random.key(12)
    full = np.asarray(batch.run(selection_kernel, key, p, cfg, seeds=12)[1]["trace"])[:, 0]
    red = batch.GroupMeans(lambda out: {"trace": out[1]["trace"][:, 0]})
    done = []
    batch.stream(selection_kernel, key, p, cfg, seeds=12, chunk_size=4, reduce=red,
                 options=batch.Options(progress=lambda i, n: done.append((i, n))))
    groups = red.result()["trace"]
    assert groups.shape == (3, 6) and done[-1] == (3, 3)
    np.testing.assert_allclose(groups.mean(0), full.mean(0), rtol=1e-12)
    np.testing.assert_allclose(groups[1], full[4:8].mean(0), rtol=1e-12)


@pytest.mark.parametrize("chunk", [7, 40])
def test_seed_summary_matches_one_pass_statistics(chunk):
    """Streamed curve means and SEs equal the one-pass nanmean / nanstd(ddof=1) / sqrt(count)
    to rounding for any chunk size (NaNs included), kept per-seed values are exact and in seed
    order, the sample is the first seeds, and a kept view does not pin its chunk."""
    cfg = selection_config(dim=2, n=20, alpha=0.25, generations=6)
    p = selection_params(cfg, alpha=0.25)
    key = jax.random.key(5)
    full = np.asarray(batch.run(selection_kernel, key, p, cfg, seeds=40)[1]["trace"])[:, 0]
    full = full.copy()
    full[::7, 2] = np.nan  # some seeds have no value at t = 2

    def derive(out, start):
        tr = np.array(out[1]["trace"][:, 0])
        tr[(np.arange(start, start + tr.shape[0]) % 7) == 0, 2] = np.nan
        return {"trace": tr, "last": tr[:, -1], "avg": tr[:, 3:].mean(axis=1)}

    red = batch.SeedSummary(derive, curves=("trace",), sample=9)
    batch.stream(selection_kernel, key, p, cfg, seeds=40, chunk_size=chunk, reduce=red)
    s = red.summary("trace")
    np.testing.assert_allclose(s["mean"], np.nanmean(full, axis=0), rtol=1e-12)
    count = np.sum(np.isfinite(full), axis=0)
    np.testing.assert_allclose(s["se"], np.nanstd(full, axis=0, ddof=1) / np.sqrt(count),
                               rtol=1e-10)
    np.testing.assert_array_equal(s["count"], count)
    kept = red.kept()
    np.testing.assert_array_equal(kept["last"], full[:, -1])
    np.testing.assert_array_equal(kept["avg"], full[:, 3:].mean(axis=1))
    assert all(v.base is None for v in red._kept["last"])  # copies, not views of a chunk
    np.testing.assert_array_equal(red.sampled()["trace"], full[:9])


def test_options_are_explicit_and_validated():
    with pytest.raises(ValueError, match="devices=99"):
        batch.Options(devices=99).checked()
    cfg = selection_config(n=10, generations=3)
    p = selection_params(cfg)
    key = jax.random.key(0)
    # options give the defaults, a direct argument overrides them; nothing outlives the call
    calls = []
    opts = batch.Options(chunk_size=1, progress=lambda done, total: calls.append(total))
    a = batch.run(selection_kernel, key, p, cfg, seeds=2, options=opts)[1]["trace"]
    b = batch.run(selection_kernel, key, p, cfg, seeds=2, options=opts, chunk_size=2)[1]["trace"]
    assert calls == [2, 2, 1]
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-13)
    assert not hasattr(batch, "options") and not hasattr(batch, "_DEFAULTS")
    with pytest.raises(ValueError, match="run: chunk_size=0"):
        cfg = selection_config(n=10, generations=3)
        batch.run(selection_kernel, jax.random.key(0), selection_params(cfg), cfg, seeds=2,
                  chunk_size=0)


def test_memory_estimate_refuses_before_running(monkeypatch):
    """A run whose kept outputs exceed the available memory is refused from shapes alone (no
    compile, no keys), and one whose chunk program does not fit names a chunk size that
    does; that chunk size then runs."""
    import re
    import time

    cfg = selection_config(dim=1, n=20, alpha=0.25, generations=4)
    p = selection_params(cfg, alpha=0.25)
    key = jax.random.key(0)
    t0 = time.perf_counter()
    with pytest.raises(batch.MemoryEstimateError, match=r"seeds=1000000000000 needs an "
                       r"estimated .* TB .* available"):
        batch.run(selection_kernel, key, p, cfg, seeds=10**12)
    assert time.perf_counter() - t0 < 30
    # kept outputs fit, one chunk's program does not: the message names a chunk that fits
    monkeypatch.setenv("COLLAPSE_JAX_MEMORY_LIMIT", "1M")
    with pytest.raises(batch.MemoryEstimateError) as err:
        batch.stream(selection_kernel, key, p, cfg, seeds=4096, chunk_size=4096,
                     reduce=lambda out, start: None)
    for _ in range(3):  # a suggestion made before compiling is an upper bound: refine
        fit = int(re.search(r"--chunk-size (?:at most )?(\d+)", str(err.value)).group(1))
        assert 1 <= fit < 4096
        try:
            batch.stream(selection_kernel, key, p, cfg, seeds=4096, chunk_size=fit,
                         reduce=lambda out, start: None)
            break
        except batch.MemoryEstimateError as e:
            assert "at most" in str(err.value), "an exact suggestion must fit"
            err = pytest.ExceptionInfo.from_exc_info((type(e), e, e.__traceback__))
    else:
        raise AssertionError("no suggested chunk size ran")
    monkeypatch.setenv("COLLAPSE_JAX_MEMORY_LIMIT", "lots")
    with pytest.raises(ValueError, match="COLLAPSE_JAX_MEMORY_LIMIT='lots' is invalid"):
        batch.run(selection_kernel, key, p, cfg, seeds=4)


@pytest.mark.slow
def test_auto_chunk_bounds_working_memory(monkeypatch):
    """Without chunk_size, a run whose single program exceeds COLLAPSE_JAX_CHUNK_BYTES runs in
    equal chunks of a smaller program: several chunks, the same numbers to rounding."""
    cfg = selection_config(dim=2, n=20, alpha=0.25, generations=5)
    p = selection_params(cfg, alpha=0.25)
    key = jax.random.key(3)
    monkeypatch.setenv("COLLAPSE_JAX_CHUNK_BYTES", "0")
    whole = batch.run(selection_kernel, key, p, cfg, seeds=64)[1]["trace"]
    calls = []
    monkeypatch.setenv("COLLAPSE_JAX_CHUNK_BYTES", "200K")
    split = batch.run(selection_kernel, key, p, cfg, seeds=64,
                      options=batch.Options(progress=lambda done, total: calls.append(total))
                      )[1]["trace"]
    assert calls and calls[0] > 1, "the run was not split into chunks"
    np.testing.assert_allclose(np.asarray(split), np.asarray(whole), rtol=1e-13)


def test_cpu_chunk_size_splits_seeds_evenly_per_device(monkeypatch):
    opts = batch.Options()
    assert batch.cpu_chunk_size(opts, 1000, 32) == 32      # 32 chunks of <= 32
    assert batch.cpu_chunk_size(opts, 100, 32) == 25       # 4 equal chunks, not 32+32+32+4
    assert batch.cpu_chunk_size(opts, 64, 32) == 32
    assert batch.cpu_chunk_size(opts, 5, 32) == 5
    assert batch.cpu_chunk_size(opts, 100, 1) == 1         # one seed per program
    assert batch.cpu_chunk_size(opts._replace(chunk_size=7), 1000, 32) == 7  # given wins
    monkeypatch.setattr(batch.jax, "device_count", lambda: 4)
    two = opts._replace(devices=2)
    assert batch.cpu_chunk_size(two, 1000, 32) == 63       # 16 chunks: <= 32 per device
    assert batch.cpu_chunk_size(two, 101, 1) == 2
    for bad in ((opts, 0, 32), (opts, 10, 0)):
        with pytest.raises(ValueError, match="cpu_chunk_size"):
            batch.cpu_chunk_size(*bad)
    monkeypatch.setattr(batch.jax, "default_backend", lambda: "gpu")
    assert batch.cpu_chunk_size(opts, 1000, 32) is None    # accelerators: automatic chunk


def test_float64_context_sets_full_float32_matmuls_and_restores():
    """Inside a check, float32 products run at "highest" (JAX's default on NVIDIA GPUs is
    TF32, which made the proxy check's Sinkhorn divergences NaN on an H200); the session's
    settings come back on exit, and a precision the user chose is kept."""
    before = (jax.config.jax_enable_x64, jax.config.jax_default_matmul_precision)
    with batch.float64():
        assert jax.config.jax_enable_x64
        assert jax.config.jax_default_matmul_precision == "highest"
    assert (jax.config.jax_enable_x64, jax.config.jax_default_matmul_precision) == before
    with jax.default_matmul_precision("tensorfloat32"), batch.float64():
        assert jax.config.jax_default_matmul_precision == "tensorfloat32"
