import jax
import numpy as np
import pytest

from collapse_jax.core import accumulation
from collapse_jax.engine import batch
from collapse_jax.power_law import theory
from collapse_jax.power_law.kernel import selection_config, selection_kernel, selection_params

from ..conftest import Z


def _small(**kw):
    base = dict(dim=1, n=30, alpha=0.25, generations=12)
    base.update(kw)
    cfg = selection_config(**base)
    return cfg, selection_params(cfg, alpha=base["alpha"], offset=kw.get("offset", 0.5))


@pytest.mark.parametrize("kw", [
    {}, {"paradigm": "replace"},
    pytest.param({"paradigm": "accumulate-subsample"}, marks=pytest.mark.slow),
    pytest.param({"dim": 2, "metric": "fixed", "truth": "random"}, marks=pytest.mark.slow),
    {"dim": 2, "metric": "euclidean"},
    {"select": False}, {"estimator": "unbiased"},
])
def test_jit_equals_eager_and_is_deterministic(kw):
    # 4 generations: op-by-op (eager) execution costs about 1 s a generation here
    cfg, p = _small(**{"generations": 4, **kw})
    key = jax.random.key(7)
    with jax.disable_jit():
        _, eager = selection_kernel(key, p, cfg)
    _, jitted = jax.jit(selection_kernel, static_argnums=2)(key, p, cfg)
    _, again = jax.jit(selection_kernel, static_argnums=2)(key, p, cfg)
    for k in eager:
        np.testing.assert_allclose(eager[k], jitted[k], rtol=1e-9, atol=1e-12, err_msg=k)
        np.testing.assert_array_equal(jitted[k], again[k])
    assert eager["trace"].shape == (cfg.generations + 1,)
    assert eager["psi"].shape == (cfg.generations + 1, cfg.dim, cfg.dim)


def test_vmap_equals_loop_over_seeds_and_silos():
    cfg, p = _small()
    key = jax.random.key(1)
    _, out = batch.run(selection_kernel, key, p, cfg, seeds=3, silos=2)
    keys = batch.seed_keys(key, 3)
    single = jax.jit(selection_kernel, static_argnums=2)
    for i in range(3):
        for s in range(2):
            _, one = single(keys[i], p, cfg, s)
            np.testing.assert_allclose(out["trace"][i, s], one["trace"], rtol=1e-10)


def test_silos_share_the_truth_but_not_the_reference():
    cfg, p = _small(dim=3, truth="random", sampler="sort")
    fin, _ = batch.run(selection_kernel, jax.random.key(2), p, cfg, seeds=2, silos=3)
    np.testing.assert_array_equal(fin.truth.mean[:, 0], fin.truth.mean[:, 1])
    refs = np.asarray(fin.reference).reshape(-1, 3)
    assert len({tuple(np.round(r, 12)) for r in refs}) >= 4  # 6 silo references, mostly distinct


@pytest.mark.slow
def test_chunking_and_seed_count_do_not_change_numbers():
    cfg, p = _small()
    key = jax.random.key(3)
    _, a = batch.run(selection_kernel, key, p, cfg, seeds=6)
    _, b = batch.run(selection_kernel, key, p, cfg, seeds=6, chunk_size=4)
    _, s = batch.run(selection_kernel, key, p, cfg, seeds=6, chunk_size=2)
    np.testing.assert_array_equal(np.asarray(b["trace"]), np.asarray(s["trace"]))
    _, c = batch.run(selection_kernel, key, p, cfg, seeds=4)
    np.testing.assert_allclose(a["trace"], b["trace"], rtol=1e-12)
    np.testing.assert_allclose(a["trace"][:4], c["trace"], rtol=1e-12)


def test_new_params_do_not_retrace():
    cfg, p = _small()
    key = jax.random.key(4)
    batch.run(selection_kernel, key, p, cfg, seeds=2)
    size = len(batch._COMPILED)
    for off in (0.1, 2.0):
        _, tm = batch.run(selection_kernel, key, selection_params(cfg, alpha=0.5, offset=off),
                          cfg, seeds=2, timed=True)
        assert tm.compile_s == 0.0
    assert len(batch._COMPILED) == size


@pytest.mark.slow
def test_sweep_equals_separate_runs():
    cfg = selection_config(dim=1, n=40, n_max=80, alpha=0.5, alpha_min=0.25, generations=10)
    key = jax.random.key(5)
    sweep = selection_params(cfg, alpha=[0.25, 0.5], n=[80, 40], offset=[0.0, 1.0])
    _, m = batch.run_sweep(selection_kernel, key, sweep, cfg, seeds=3)
    one = selection_params(cfg, alpha=0.5, n=40, offset=1.0)
    _, m1 = batch.run(selection_kernel, key, one, cfg, seeds=3)
    np.testing.assert_allclose(m["trace"][1], m1["trace"], rtol=1e-12)


def test_accumulate_without_selection_matches_closed_form():
    n, T, seeds = 10, 40, 4000
    cfg = selection_config(dim=1, n=n, generations=T, select=False)
    _, m = batch.run(selection_kernel, jax.random.key(6), selection_params(cfg), cfg,
                     seeds=seeds)
    tr = np.asarray(m["trace"])[:, 0]
    for t in (0, 5, T):
        est, se = tr[:, t].mean(), tr[:, t].std(ddof=1) / np.sqrt(seeds)
        assert abs(est - accumulation.accumulate_trace_ratio(n, t)) <= Z * se


def test_replace_select_factor_one_generation():
    # E[Tr Sigma_1 / Tr Sigma_0] for replace + centred selection against its exact finite-n
    # value (quadrature over the window mass and the real fit's offset), within Z SEs.
    n, seeds = 400, 2000
    cfg = selection_config(dim=1, n=n, alpha=0.25, generations=2, paradigm="replace")
    _, m = batch.run(selection_kernel, jax.random.key(8), selection_params(cfg), cfg,
                     seeds=seeds)
    r = np.asarray(m["trace"])[:, 0, 1] / np.asarray(m["trace"])[:, 0, 0]
    pred = theory.replace_select_factor_exact(0.25, n)
    assert abs(r.mean() - pred) <= Z * r.std(ddof=1) / np.sqrt(seeds)


def test_float32_underflow_is_reported_not_hidden():
    cfg = selection_config(dim=1, n=50, alpha=0.1, generations=40, paradigm="replace",
                           precision="float32")
    _, m = batch.run(selection_kernel, jax.random.key(9), selection_params(cfg, alpha=0.1),
                     cfg, seeds=4)
    tr = np.asarray(m["trace"])
    assert not np.all(np.isfinite(tr) & (tr > np.finfo(np.float32).tiny))


@pytest.mark.parametrize(("kw", "match"), [
    ({"alpha": 0.0}, "alpha=0.0"), ({"alpha": 1.5}, "alpha=1.5"), ({"n": 1}, "n=1"),
    ({"generations": 1}, "generations=1"), ({"metric": "cosine"}, "metric='cosine'"),
    ({"paradigm": "mix"}, "paradigm='mix'"), ({"dim": 2, "sampler": "order-stat"}, "order-stat"),
])
def test_bad_config_raises_clear_error(kw, match):
    with pytest.raises(ValueError, match=match):
        selection_config(**kw)


def test_bad_params_raise_clear_error():
    cfg = selection_config(n=20)
    with pytest.raises(ValueError, match="selection_params: offset=-1"):
        selection_params(cfg, offset=-1.0)
    with pytest.raises(ValueError, match="selection_params: n=40"):
        selection_params(cfg, n=40)


def test_float64_without_x64_is_refused():
    jax.config.update("jax_enable_x64", False)
    try:
        with pytest.raises(ValueError, match="64-bit"):
            selection_config()
        assert selection_config(precision="float32").precision == "float32"
    finally:
        jax.config.update("jax_enable_x64", True)


def test_score_frame_is_the_quadratic_form():
    """The eigenframe scores sum lam (w - centre)^2 of w = Q^T z equal the Mahalanobis score
    (x - u)^T P (x - u) of x = mean + L z, and frame_rotate maps w back to z (float64, to
    rounding: an identity of the frame, not a statistical claim)."""
    import jax.numpy as jnp

    from collapse_jax.core import linalg
    from collapse_jax.power_law.kernel import frame_rotate, frame_scores, score_frame

    rng = np.random.default_rng(3)
    d = 6
    a = rng.normal(size=(d, d))
    cov = a @ a.T + 0.1 * np.eye(d)
    b = rng.normal(size=(d, d))
    precision = np.linalg.inv(0.3 * (b @ b.T + 0.1 * np.eye(d)))
    mean, ref = rng.normal(size=d), rng.normal(size=d) * 3
    z = rng.normal(size=(50, d))
    with jax.enable_x64(True):
        chol = linalg.cholesky(jnp.asarray(cov))
        x = mean + z @ np.asarray(chol).T
        want = np.einsum("mi,ij,mj->m", x - ref, precision, x - ref)
        for metric in ("fixed", "current-fit"):
            frame = score_frame(jnp.asarray(mean), chol, jnp.asarray(ref),
                                jnp.asarray(precision), metric)
            w = z if frame.rotation is None else z @ np.asarray(frame.rotation)
            got = np.asarray(frame_scores(jnp.asarray(w), frame))
            if metric == "fixed":
                np.testing.assert_allclose(got, want, rtol=1e-9)
            else:
                c = np.linalg.solve(np.asarray(chol), ref - mean)
                np.testing.assert_allclose(got, np.sum((z - c) ** 2, axis=1), rtol=1e-12)
            np.testing.assert_allclose(np.asarray(frame_rotate(jnp.asarray(w), frame)), z,
                                       atol=1e-12)
