"""Minimal standalone reproducer of the CPU-runtime stall that LAPACK custom calls cause
inside a ``vmap``ped ``lax.scan`` (jax/jaxlib 0.10.2, 2-core x86-64, CPU backend).

    python tests/repro/lapack_vmap_scan.py lapack   # hangs: idle in block_until_ready
    python tests/repro/lapack_vmap_scan.py pure     # collapse_jax.core.linalg: finishes in seconds

The trigger, found by bisecting the power-law kernel in the authors' Gaussian configuration
(d = 10, n = 300, alpha = 0.05): two batched symmetric eigen-solves (``syevd``) in one scan
step of 10 x 10 matrices over 1024 lanes, two or more generations. One eigen-solve, one
generation, 256 lanes or 4 x 4 matrices finish; replacing either eigen-solve (or, in the
kernel, the log-determinant or the eigen-solves) by plain array operations is enough. The
process then uses no CPU: every XLA worker thread waits for work.
"""

import sys

import jax
import jax.numpy as jnp

jax.config.update("jax_enable_x64", True)


def main(mode: str, lanes: int = 1024, d: int = 10, steps: int = 2) -> float:
    if mode == "pure":
        from collapse_jax.core import linalg
        eigh, eigvalsh = linalg.eigh, linalg.eigvalsh
    else:
        eigh, eigvalsh = jnp.linalg.eigh, jnp.linalg.eigvalsh

    def one_lane(key):
        a = jax.random.normal(key, (d + 2, d))

        def step(s, k):
            x = jax.random.normal(k, (3 * d, d))
            c = x.T @ x / (3 * d)
            w, v = eigh(c)
            nxt = 0.5 * s + 0.5 * c + 1e-3 * (v * w) @ v.T
            nxt = nxt + 1e-6 * eigvalsh(s + c)[0] * jnp.eye(d)
            return nxt, jnp.trace(nxt)

        return jax.lax.scan(step, a.T @ a, jax.random.split(key, steps))[1]

    keys = jax.random.split(jax.random.key(0), lanes)
    out = jax.jit(jax.vmap(one_lane))(keys).block_until_ready()
    return float(out.sum())


if __name__ == "__main__":
    print("finished", main(sys.argv[1] if len(sys.argv) > 1 else "pure"))
