"""Engine programs kept on disk (``collapse_jax.engine.program_cache``): a second process with
the same program reads it back instead of tracing, lowering and compiling it, with the same
numbers to the bit; what cannot be named safely is never kept."""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from collapse_jax.engine import program_cache
from collapse_jax.power_law.kernel import selection_config, selection_kernel, selection_params

SCRIPT = textwrap.dedent("""
    import json, sys
    import jax, numpy as np
    jax.config.update("jax_enable_x64", True)
    from collapse_jax.verdict import cache
    from collapse_jax.engine import batch
    from collapse_jax.power_law.kernel import selection_config, selection_kernel, selection_params
    folder, out = sys.argv[1], sys.argv[2]
    assert cache.enable(folder, jax) == folder
    traced = []
    real = batch._Program._trace
    batch._Program._trace = lambda self: traced.append(1) or real(self)
    cfg = selection_config(dim=1, n=20, alpha=0.25, generations=6)
    p = selection_params(cfg, alpha=0.25, offset=0.5)
    _, res = batch.run(selection_kernel, jax.random.key(3), p, cfg, seeds=5, chunk_size=3)
    np.savez(out, **{k: np.asarray(v) for k, v in res.items()})
    print(json.dumps({"traced": len(traced)}))
""")


def _run(folder, out, env=None):  # another program has another key: tested below, in process
    r = subprocess.run([sys.executable, "-c", SCRIPT, str(folder), str(out)],
                       capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    return json.loads(r.stdout.strip().splitlines()[-1])["traced"]


def test_a_second_process_reads_the_program_back_with_the_same_numbers(tmp_path):
    cc = tmp_path / "cc"
    assert _run(cc, tmp_path / "a.npz") == 1  # chunks of 3 seeds: one program
    kept = list((cc / "programs").glob("*.pkl"))
    assert len(kept) == 1
    assert _run(cc, tmp_path / "b.npz") == 0  # read back: nothing traced
    a, b = np.load(tmp_path / "a.npz"), np.load(tmp_path / "b.npz")
    assert set(a.files) == set(b.files) and a.files
    for k in a.files:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    # An unreadable entry is compiled again (and rewritten), with the same numbers.
    kept[0].write_bytes(b"not an entry")
    assert _run(cc, tmp_path / "c.npz") == 1
    c = np.load(tmp_path / "c.npz")
    for k in a.files:
        np.testing.assert_array_equal(a[k], c[k], err_msg=k)


def test_a_program_read_back_from_jaxs_cache_is_not_kept_again(tmp_path):
    """With ``programs/`` deleted and JAX's own entries kept, a run compiles from JAX's cache;
    that executable, serialised again, would lack functions XLA links at compile time and stop
    the next run (``NOT_FOUND: Function wrapped_iota not found``). It is not kept: every later
    run traces and reads JAX's entry, with the same numbers."""
    import os
    import shutil

    cc = tmp_path / "cc"
    env = {**os.environ, "COLLAPSE_JAX_CACHE_MIN_COMPILE_S": "0"}  # JAX keeps every program
    assert _run(cc, tmp_path / "a.npz", env) == 1
    assert len(list((cc / "programs").glob("*.pkl"))) == 1
    assert any(p.name.endswith("-cache") for p in cc.iterdir())  # JAX's own entries
    shutil.rmtree(cc / "programs")
    for name in ("b", "c"):  # read back from JAX's cache, then again: both run
        assert _run(cc, tmp_path / f"{name}.npz", env) == 1
        assert not list((cc / "programs").glob("*.pkl"))
    a = np.load(tmp_path / "a.npz")
    for name in ("b", "c"):
        other = np.load(tmp_path / f"{name}.npz")
        for k in a.files:
            np.testing.assert_array_equal(a[k], other[k], err_msg=k)


def test_the_key_names_the_program_and_refuses_what_it_cannot_name():
    cfg = selection_config(dim=1, n=20, alpha=0.25, generations=6)
    p = selection_params(cfg, alpha=0.25, offset=0.5)
    key = program_cache.program_key("_run", selection_kernel, cfg, 1, 3, p)
    assert key == program_cache.program_key("_run", selection_kernel, cfg, 1, 3, p)
    assert key != program_cache.program_key("_run", selection_kernel, cfg, 1, 4, p)
    assert key != program_cache.program_key("_run", selection_kernel, cfg._replace(n_max=21), 1, 3,
                                            p)
    assert key != program_cache.program_key("_run_sweep", selection_kernel, cfg, 1, 3, p)

    def local(k, params, c, s):  # may close over data: never kept
        return selection_kernel(k, params, c, s)

    assert program_cache.program_key("_run", local, cfg, 1, 3, p) is None
    assert program_cache.program_key("_run", selection_kernel, (cfg, np.zeros(2)), 1, 3,
                                     p) is None
    # The suite runs with the persistent cache off: nothing is read or written.
    assert program_cache.folder() is None
    assert program_cache.load(key) is None
    assert not program_cache.store(key, None, 0, 0)


@pytest.mark.parametrize("value", [None, 1, 2.5, "a", True, (1, ("b", None))])
def test_plain_configuration_values(value):
    assert program_cache._plain(value)
