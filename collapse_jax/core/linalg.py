"""Small dense linear algebra in plain JAX array operations (no LAPACK custom calls).

Every kernel of the toolkit factors, inverts or diagonalises small ``d x d`` matrices inside
a ``lax.scan`` that is ``vmap``ped over thousands of seeds. On the CPU backend the LAPACK
custom calls behind ``jnp.linalg`` (``potrf``, ``syevd``, ``getrf``, ``trsm``) in such programs
have wedged the runtime: the process sits idle in ``block_until_ready`` with every XLA worker
thread waiting for work (see ``tests/core/test_linalg.py`` for the standalone reproducer). The
routines here are written with ``fori_loop`` / ``while_loop`` and matrix products only, so a
batched program contains no custom call at all; for the small ``d`` of these experiments
they cost about as much as the LAPACK calls, and they agree with them to rounding
(``tests/core/test_linalg.py``).

* :func:`cholesky`: column-by-column (left-looking) Cholesky; NaN when not positive
  definite, as ``jnp.linalg.cholesky``.
* :func:`solve_lower`, :func:`solve_upper`: forward / back substitution.
* :func:`spd_inv`, :func:`spd_solve`: through the Cholesky factor.
* :func:`logdet_spd`: ``2 sum log diag L`` (``-inf`` / NaN when not positive definite).
* :func:`eigh`: cyclic parallel Jacobi (Brent-Luk round-robin ordering), swept until the
  off-diagonal mass is below rounding; eigenvalues ascending, as ``jnp.linalg.eigh``.

All act on one matrix; batch them with ``vmap``.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from collapse_jax.core._types import Array, ArrayLike, Float, Int, Matrix, MatrixLike, Scalar

#: Upper bound on Jacobi sweeps; the cyclic method converges quadratically, and matrices of
#: dimension up to a few dozen need 5-8 sweeps to reach rounding.
JACOBI_MAX_SWEEPS = 30


def cholesky(a: MatrixLike) -> Matrix:
    """Lower Cholesky factor ``L`` (``L L^T = a``) of a symmetric positive definite matrix.

    Only the lower triangle of ``a`` is read. A non-positive pivot gives NaN entries (like
    ``jnp.linalg.cholesky``), never an exception.
    """
    a = jnp.asarray(a)
    d = a.shape[-1]
    if d == 1:
        return jnp.sqrt(a)
    idx = jnp.arange(d)

    def body(j, lo):
        # Column j of the factor from the columns before it (row j of lo is zero past j-1).
        col = a[:, j] - lo @ lo[j]
        pivot = jnp.sqrt(col[j])
        new = jnp.where(idx > j, col / pivot, jnp.where(idx == j, pivot, 0.0))
        return lo.at[:, j].set(new)

    return jax.lax.fori_loop(0, d, body, jnp.zeros_like(a))


def solve_lower(lo: MatrixLike, b: Float[ArrayLike, " d *k"]) -> Float[Array, " d *k"]:
    """Solve ``lo x = b`` for a lower triangular ``lo`` (``b``: ``(d,)`` or ``(d, k)``)."""
    lo, b = jnp.asarray(lo), jnp.asarray(b)
    d = lo.shape[-1]
    if d == 1:
        return b / lo[0, 0]

    def body(i, x):
        return x.at[i].set((b[i] - lo[i] @ x) / lo[i, i])

    return jax.lax.fori_loop(0, d, body, jnp.zeros_like(b, dtype=jnp.result_type(lo, b)))


def solve_upper(up: MatrixLike, b: Float[ArrayLike, " d *k"]) -> Float[Array, " d *k"]:
    """Solve ``up x = b`` for an upper triangular ``up`` (``b``: ``(d,)`` or ``(d, k)``):
    :func:`solve_lower` on the index-reversed system (reversing rows and columns of an upper
    triangular matrix makes it lower triangular)."""
    up, b = jnp.asarray(up), jnp.asarray(b)
    return solve_lower(up[::-1, ::-1], b[::-1])[::-1]


def spd_solve(a: MatrixLike, b: Float[ArrayLike, " d *k"]) -> Float[Array, " d *k"]:
    """Solve ``a x = b`` for a symmetric positive definite ``a`` through its Cholesky factor."""
    lo = cholesky(a)
    return solve_upper(lo.T, solve_lower(lo, b))


#: Largest dimension :func:`spd_solve_unrolled` writes out (its graph grows like ``d^3``).
UNROLL_MAX = 16


def spd_solve_unrolled(a: MatrixLike, b: Float[ArrayLike, " d *k"]) -> Float[Array, " d *k"]:
    """:func:`spd_solve` written out entry by entry for a small static ``d``
    (``d <= UNROLL_MAX``): the Cholesky factor, forward and back substitution as ``O(d^3)``
    scalar expressions with no loop. Under ``vmap`` XLA fuses them into a few element-wise
    passes over the batch, where the loops of :func:`spd_solve` copy the whole batch of
    factors once per column (10 x 10 systems in a 20-generation scan over 8000 seeds: about
    0.25 s against nothing measurable; ``benchmarks/kernels.py``, the OLS row). The same
    arithmetic in another order: results agree with :func:`spd_solve` to rounding. A
    non-positive pivot gives NaN, as there. Only the lower triangle of ``a`` is read.
    """
    a, b = jnp.asarray(a), jnp.asarray(b)
    d = a.shape[-1]
    if d > UNROLL_MAX:
        raise ValueError(f"spd_solve_unrolled: d={d} is too large; allowed at most "
                         f"{UNROLL_MAX} (use spd_solve)")
    lo = {}
    for j in range(d):
        s = a[j, j]
        for k in range(j):
            s = s - lo[j, k] * lo[j, k]
        lo[j, j] = jnp.sqrt(s)
        for i in range(j + 1, d):
            s = a[i, j]
            for k in range(j):
                s = s - lo[i, k] * lo[j, k]
            lo[i, j] = s / lo[j, j]
    z = []
    for i in range(d):
        s = b[i]
        for k in range(i):
            s = s - lo[i, k] * z[k]
        z.append(s / lo[i, i])
    x = [None] * d
    for i in reversed(range(d)):
        s = z[i]
        for k in range(i + 1, d):
            s = s - lo[k, i] * x[k]
        x[i] = s / lo[i, i]
    return jnp.stack(x)


def spd_inv(a: MatrixLike) -> Matrix:
    """Inverse of a symmetric positive definite matrix (symmetric to rounding)."""
    a = jnp.asarray(a)
    lo = cholesky(a)
    y = solve_lower(lo, jnp.eye(a.shape[-1], dtype=a.dtype))
    return y.T @ y


def logdet_spd(a: MatrixLike) -> Scalar:
    """``log det a`` of a symmetric positive definite matrix; ``-inf`` for a zero pivot and
    NaN for a negative one (the caller decides what a non-definite fit means)."""
    lo = cholesky(a)
    return 2.0 * jnp.sum(jnp.log(jnp.diagonal(lo)))


def _round_robin(m: int) -> Int[np.ndarray, "rounds pairs 2"]:
    """``(m - 1, m // 2, 2)`` disjoint index pairs: every pair ``p < q`` of ``0 .. m-1``
    appears in exactly one of the ``m - 1`` rounds (circle method; ``m`` even)."""
    players = list(range(m))
    rounds = []
    for _ in range(m - 1):
        pairs = [sorted((players[i], players[m - 1 - i])) for i in range(m // 2)]
        rounds.append(pairs)
        players = [players[0], players[-1], *players[1:-1]]
    return np.asarray(rounds, dtype=np.int32)


def eigh(a: MatrixLike, max_sweeps: int = JACOBI_MAX_SWEEPS, *, rtol: float | None = None,
         sort: bool = True) -> tuple[Float[Array, " d"], Matrix]:
    """Eigen-decomposition ``a = V diag(w) V^T`` of a symmetric matrix by parallel Jacobi.

    Returns ``(w, V)`` with ``w`` ascending, like ``jnp.linalg.eigh``. Each round applies
    ``m / 2`` disjoint plane rotations (one orthogonal matrix, two products); a sweep of
    ``m - 1`` rounds visits every off-diagonal pair once. Sweeps repeat until the
    off-diagonal Frobenius norm is below ``eps * ||a||_F`` (or ``max_sweeps``); under ``vmap``
    each lane keeps its own converged value, so results do not depend on the batch. An odd
    dimension is padded with a zero row and column that no rotation touches (its
    off-diagonal entries stay exactly zero, so every rotation angle with it is zero).

    ``rtol``: leave a pair ``(p, q)`` unrotated when ``|a_pq| <= rtol sqrt(|a_pp a_qq|)``, and
    stop once no pair exceeds it. A (near-)scalar matrix then gives ``V = I`` instead of
    eigenvectors spun by rounding noise: in a degenerate eigenspace any basis is exact, and
    the one Jacobi picks from noise-level entries changes with the last bit of the input,
    which an XLA program may round differently with the size of the batch it runs in. The
    eigenvalues move by at most ``rtol`` relative. ``sort=False`` returns the eigenpairs in
    the matrix's own order, so that near-equal eigenvalues are not permuted by rounding.
    """
    a = jnp.asarray(a)
    d = a.shape[-1]
    a = 0.5 * (a + a.T)
    if d == 1:
        return a[0], jnp.ones_like(a)
    m = d + (d % 2)
    if m != d:
        a = jnp.pad(a, ((0, 1), (0, 1)))
    pairs = jnp.asarray(_round_robin(m))
    p_all, q_all = pairs[..., 0], pairs[..., 1]
    dtype = a.dtype
    eye = jnp.eye(m, dtype=dtype)
    offdiag = 1.0 - eye
    tol = (jnp.finfo(dtype).eps * jnp.sqrt(jnp.sum(a * a))) ** 2

    def rotate(carry, pq):
        a, v = carry
        p, q = pq
        app, aqq, apq = a[p, p], a[q, q], a[p, q]
        small = apq == 0
        if rtol is not None:
            small = small | (jnp.abs(apq) <= rtol * jnp.sqrt(jnp.abs(app * aqq)))
        tau = (aqq - app) / (2.0 * jnp.where(small, 1.0, apq))
        t = jnp.where(tau >= 0, 1.0, -1.0) / (jnp.abs(tau) + jnp.sqrt(1.0 + tau * tau))
        t = jnp.where(small, 0.0, t)
        c = 1.0 / jnp.sqrt(1.0 + t * t)
        s = t * c
        j = eye.at[p, p].set(c).at[q, q].set(c).at[p, q].set(s).at[q, p].set(-s)
        a = j.T @ a @ j
        # The rotation zeroes the (p, q) entries exactly in exact arithmetic; set them so.
        a = a.at[p, q].set(0.0).at[q, p].set(0.0)
        return (a, v @ j), None

    def sweep(state):
        i, a, v = state
        (a, v), _ = jax.lax.scan(rotate, (a, v), (p_all, q_all))
        return i + 1, a, v

    def cond(state):
        i, a, _ = state
        go = (i < max_sweeps) & (jnp.sum((a * offdiag) ** 2) > tol)
        if rtol is not None:
            diag = jnp.abs(jnp.diagonal(a))
            go = go & jnp.any(jnp.abs(a * offdiag) > rtol * jnp.sqrt(diag[:, None] * diag))
        return go

    _, a, v = jax.lax.while_loop(cond, sweep, (0, a, eye))
    w = jnp.diagonal(a)[:d]
    v = v[:d, :d]
    if not sort:
        return w, v
    order = jnp.argsort(w)
    return w[order], v[:, order]


def eigvalsh(a: MatrixLike) -> Float[Array, " d"]:
    """Eigenvalues of a symmetric matrix, ascending (:func:`eigh` without the vectors)."""
    return eigh(a)[0]


def psd_function(a: MatrixLike, f: Callable[[Array], Array]) -> Matrix:
    """``V f(max(w, 0)) V^T`` for a symmetric positive semi-definite ``a = V diag(w) V^T``
    (eigenvalues clipped at zero first): square roots and inverse square roots."""
    if a.shape[-1] == 1:
        return f(jnp.maximum(a, 0.0))
    w, v = eigh(a)
    return (v * f(jnp.maximum(w, 0.0))) @ v.T
