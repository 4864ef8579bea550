"""collapse_jax.core.linalg: pure-JAX small dense linear algebra agrees with LAPACK to rounding,
does not depend on the batch, and leaves no LAPACK custom call in any kernel's program."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from collapse_jax.classic.fixed_design import ols_config, ols_kernel, ols_params
from collapse_jax.classic.kernel import refit_config, refit_kernel, refit_params
from collapse_jax.core import linalg
from collapse_jax.engine import batch
from collapse_jax.knowledge_center.kernel import verifier_config, verifier_kernel, verifier_params
from collapse_jax.power_law.kernel import selection_config, selection_kernel, selection_params

EPS = np.finfo(np.float64).eps
DIMS = (1, 2, 5, 10, 17)
REPRO = Path(__file__).parent.parent / "repro" / "lapack_vmap_scan.py"


def _spd(rng, d, cond=None):
    x = rng.normal(size=(d + 3, d))
    a = x.T @ x
    if cond is not None:  # prescribed condition number
        q, _ = np.linalg.qr(rng.normal(size=(d, d)))
        a = (q * np.geomspace(1.0, 1.0 / cond, d)) @ q.T
    return 0.5 * (a + a.T)


def _tol(a, d):
    """Rounding scale of a backward-stable O(d^3) routine: c d eps ||a||_2."""
    return 8 * d * EPS * np.linalg.norm(a, 2)


@pytest.mark.parametrize("d", DIMS)
def test_eigh_matches_lapack_to_rounding(d):
    rng = np.random.default_rng(d)
    a = _spd(rng, d)
    w, v = (np.asarray(t) for t in jax.jit(linalg.eigh)(a))
    w_ref = np.linalg.eigvalsh(a)
    tol = _tol(a, d)
    assert np.all(np.diff(w) >= 0)
    np.testing.assert_allclose(w, w_ref, rtol=0, atol=tol)
    np.testing.assert_allclose((v * w) @ v.T, a, rtol=0, atol=tol)
    np.testing.assert_allclose(v.T @ v, np.eye(d), rtol=0, atol=8 * d * EPS)


@pytest.mark.parametrize("d", DIMS)
def test_cholesky_solves_inverse_logdet_match_lapack(d):
    rng = np.random.default_rng(100 + d)
    a = _spd(rng, d, cond=1e6 if d > 1 else None)
    b = rng.normal(size=(d, 3))
    lo, x, inv, logdet = (np.asarray(t) for t in jax.jit(
        lambda a, b: (linalg.cholesky(a), linalg.spd_solve(a, b), linalg.spd_inv(a),
                      linalg.logdet_spd(a)))(a, b))
    lo_ref = np.linalg.cholesky(a)
    cond = np.linalg.cond(a)
    np.testing.assert_allclose(lo, lo_ref, rtol=0, atol=8 * d * EPS * cond * np.abs(lo_ref).max())
    np.testing.assert_allclose(lo @ lo.T, a, rtol=0, atol=_tol(a, d))
    assert np.all(np.triu(lo, 1) == 0)
    np.testing.assert_allclose(a @ x, b, rtol=0, atol=8 * d * EPS * cond * np.abs(b).max())
    np.testing.assert_allclose(inv, np.linalg.inv(a), rtol=0,
                               atol=8 * d * EPS * cond * np.abs(np.linalg.inv(a)).max())
    assert float(logdet) == pytest.approx(np.linalg.slogdet(a)[1],
                                                      abs=8 * d * EPS * cond)
    up = lo.T
    y = np.asarray(jax.jit(linalg.solve_upper)(up, b))
    np.testing.assert_allclose(up @ y, b, rtol=0, atol=8 * d * EPS * cond * np.abs(b).max())


def test_edge_cases():
    # diagonal, repeated eigenvalues, rank-deficient PSD, zero, not positive definite
    eigh = jax.jit(linalg.eigh)
    w, v = eigh(np.diag([3.0, 1.0, 2.0]))
    np.testing.assert_array_equal(np.asarray(w), [1.0, 2.0, 3.0])
    w, _ = eigh(np.eye(3) * 2.0)
    np.testing.assert_array_equal(np.asarray(w), [2.0] * 3)
    u = np.array([[1.0, 2.0, 2.0]]) / 3.0
    root = np.asarray(jax.jit(lambda a: linalg.psd_function(a, jnp.sqrt))(u.T @ u))
    np.testing.assert_allclose(root, u.T @ u, atol=1e-15)  # rank one: the root is itself
    np.testing.assert_array_equal(np.asarray(eigh(np.zeros((3, 3)))[0]), np.zeros(3))
    chol = jax.jit(linalg.cholesky)
    assert np.all(np.isnan(np.asarray(chol(-np.eye(3)))[np.tril_indices(3)]))
    assert np.isnan(float(jax.jit(linalg.logdet_spd)(np.diag([1.0, -1.0]))))


def test_batch_does_not_change_a_lane():
    """Each lane of a vmapped call equals the single call bit for bit (chunking and device
    count cannot change results), although lanes need different numbers of Jacobi sweeps."""
    rng = np.random.default_rng(7)
    mats = np.stack([_spd(rng, 6)] + [np.diag(rng.uniform(1, 2, 6))] * 3)
    batched = jax.jit(jax.vmap(linalg.eigh))(mats)
    for i, m in enumerate(mats):
        single = jax.jit(linalg.eigh)(m)
        for a, b in zip(batched, single):
            np.testing.assert_array_equal(np.asarray(a)[i], np.asarray(b))


def _kernels():
    sel = selection_config(dim=3, n=20, alpha=0.25, generations=3, metric="fixed")
    refit = refit_config(dim=3, n=10, generations=3)
    ols = ols_config(dim=4, T=12, generations=3)
    ver = verifier_config(p=3, n0=8, n=50, rounds=3)
    return [("selection", selection_kernel, selection_params(sel, alpha=0.25), sel),
            ("refit", refit_kernel, refit_params(refit), refit),
            ("ols", ols_kernel, ols_params(ols), ols),
            ("verifier", verifier_kernel, verifier_params(ver), ver)]


@pytest.mark.parametrize("name,kernel,params,cfg", _kernels(), ids=lambda v: v
                         if isinstance(v, str) else "")
def test_no_lapack_custom_call_in_batched_kernels(name, kernel, params, cfg):
    keys = batch.seed_keys(jax.random.key(0), 4)
    text = batch._run.lower(kernel, keys, params, cfg, 2).as_text()
    assert "lapack" not in text.lower(), f"{name}: a LAPACK custom call is in the program"
    assert "custom_call" not in text or "lapack" not in text


def test_reproducer_pure_finishes():
    """The standalone reproducer (tests/repro/lapack_vmap_scan.py) with the toolkit's
    routines finishes; with LAPACK it hangs on jax 0.10.2 CPU (see the slow test)."""
    r = subprocess.run([sys.executable, str(REPRO), "pure"], capture_output=True, text=True,
                       timeout=240)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.startswith("finished")


@pytest.mark.slow
def test_reproducer_lapack_stalls_or_finishes():
    """Documents the runtime fault: with LAPACK eigen-solves the same program either stalls
    (the fault, seen on jax 0.10.2 CPU) or, on a runtime where it is fixed, finishes with the
    same number as the pure routines."""
    try:
        r = subprocess.run([sys.executable, str(REPRO), "lapack"], capture_output=True,
                           text=True, timeout=90)
    except subprocess.TimeoutExpired:
        pytest.xfail("LAPACK eigen-solves in a vmapped scan stalled the CPU runtime (the fault)")
    pure = subprocess.run([sys.executable, str(REPRO), "pure"], capture_output=True, text=True,
                          timeout=240)
    assert r.returncode == 0
    assert float(r.stdout.split()[1]) == pytest.approx(float(pure.stdout.split()[1]),
                                                       rel=1e-10)


@pytest.mark.parametrize("d", (2, 5, 10))
def test_eigh_rtol_gives_the_identity_frame_for_a_scalar_matrix_whatever_its_noise(d):
    """A scalar matrix whose off-diagonal entries are rounding noise: without ``rtol`` the
    eigenvectors follow the noise (two noise patterns give two bases); with it they are ``I``
    and the eigenvalues the diagonal, in the matrix's order with ``sort=False``. A matrix with
    real off-diagonal mass is still decomposed to rounding."""
    rng = np.random.default_rng(d)
    eigh = jax.jit(lambda a: linalg.eigh(a, rtol=1e-10, sort=False))
    bases = []
    for _ in range(2):
        noise = rng.normal(scale=1e-15, size=(d, d))
        a = np.eye(d) / 0.3 + 0.5 * (noise + noise.T)
        w, v = (np.asarray(t) for t in eigh(a))
        np.testing.assert_array_equal(v, np.eye(d))
        np.testing.assert_array_equal(w, np.diagonal(a))
        bases.append(np.asarray(jax.jit(linalg.eigh)(a)[1]))
    if d >= 5:  # without rtol the noise picks the basis
        assert not np.allclose(np.abs(bases[0]), np.abs(bases[1]), atol=1e-3)
    a = _spd(rng, d)
    w, v = (np.asarray(t) for t in eigh(a))
    # entries below rtol relative may stay: the reconstruction is exact to rtol, the
    # eigenvalues (second order in them) to rounding
    norm = np.linalg.norm(a, 2)
    np.testing.assert_allclose((v * w) @ v.T, a, rtol=0, atol=d * 1e-10 * norm)
    np.testing.assert_allclose(np.sort(w), np.linalg.eigvalsh(a), rtol=0, atol=_tol(a, d))
    np.testing.assert_allclose(v.T @ v, np.eye(d), rtol=0, atol=8 * d * EPS)


@pytest.mark.parametrize("d", [1, 2, 5, 10, 16])
def test_unrolled_spd_solve_matches_the_loop_to_rounding(d):
    rng = np.random.default_rng(d)
    m = rng.normal(size=(d + 3, d))
    a = jnp.asarray(m.T @ m + 0.1 * np.eye(d))
    for b in (jnp.asarray(rng.normal(size=d)), jnp.asarray(rng.normal(size=(d, 4)))):
        want = np.linalg.solve(np.asarray(a), np.asarray(b))
        got = np.asarray(jax.jit(linalg.spd_solve_unrolled)(a, b))
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(got, np.asarray(linalg.spd_solve(a, b)), rtol=1e-9,
                                   atol=1e-12)
    # a non-positive pivot gives NaN, as the loop does; d above the bound is refused
    assert np.isnan(np.asarray(linalg.spd_solve_unrolled(-a, b))).any()
    with pytest.raises(ValueError, match="spd_solve_unrolled: d=17 is too large"):
        linalg.spd_solve_unrolled(jnp.eye(17), jnp.ones(17))
