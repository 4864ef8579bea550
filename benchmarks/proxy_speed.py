"""Speed of the OT layer and of the proxy kernel, as ratios against baselines measured in the
same run.

Run by hand: ``python benchmarks/proxy_speed.py [--problems-per-axis 8] [--size 512]``.

Part 1, batched Sinkhorn (issue target: at least 10x on 2 CPU cores): 64 independent
entropic OT problems of 512 x 512 points in 2-D (8 silos x 8 seeds), squared Euclidean cost,
``epsilon`` and a fixed number of iterations as in the check. Rows:

* ``vmap``: one compiled program, ``vmap`` over seeds of ``vmap`` over silos;
* ``loop, jitted solve``: the same 64 problems one by one through one compiled single-problem
  solve (compiled once, before timing);
* ``loop, eager``: one by one through the un-jitted ott-jax call, the way a notebook calls it
  (every call re-traces; timed on ``--eager-problems`` problems and scaled, its cost being
  linear in problems).

Part 2, the full proxy kernel (the check's default setting, all eight strategies, one split):
compile time and seed-generations per second at two seed counts, against

* ``roofline``: bare ``jax.random.normal`` of the candidate shape ``(seeds, strategies, N,
  d)`` once per generation (the sampling the kernel cannot avoid);
* ``numpy Sinkhorn loop``: a plain numpy log-domain Sinkhorn, one problem at a time, with
  the same iteration count, on exactly the OT problems one seed-generation of the kernel
  solves (local, global-oracle, Scheme I's geodesics and scores, Scheme II's rounds and
  score). It leaves out EM, sampling and the selection rules, so it is a lower bound on the
  cost of a numpy version of the kernel.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from scipy.special import logsumexp

from collapse_jax.core import transport
from collapse_jax.engine import batch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _roofline import roofline  # noqa: E402

from collapse_jax.proxy.kernel import proxy_config, proxy_kernel, proxy_params


def _clouds(key, batch_shape, m, dtype=jnp.float32):
    kx, ky = jax.random.split(key)
    x = jax.random.normal(kx, batch_shape + (m, 2), dtype)
    y = 1.5 * jax.random.normal(ky, batch_shape + (m, 2), dtype) + 1.0
    return x, y


def _best(f, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(f())
        times.append(time.perf_counter() - t0)
    return min(times)


def batched_sinkhorn(per_axis: int, size: int, settings, eager_problems: int, repeats: int,
                     map_batches=(1, 4)):
    """Rows ``(label, compile_s, run_s)`` for the 64-problem comparison and the check that
    every way gives the same potentials."""
    x, y = _clouds(jax.random.key(0), (per_axis, per_axis), size)

    def solve(u, v):
        return transport.solve(u, v, settings=settings)

    vm = jax.jit(jax.vmap(jax.vmap(solve)))
    t0 = time.perf_counter()
    comp = vm.lower(x, y).compile()
    c_vmap = time.perf_counter() - t0
    out = comp(x, y)
    t_vmap = _best(lambda: comp(x, y).f, repeats)

    one = jax.jit(solve)
    t0 = time.perf_counter()
    one_c = one.lower(x[0, 0], y[0, 0]).compile()
    c_one = time.perf_counter() - t0
    flat_x, flat_y = x.reshape((-1, size, 2)), y.reshape((-1, size, 2))

    def loop():
        return [one_c(flat_x[i], flat_y[i]).f for i in range(flat_x.shape[0])]

    t_loop = _best(loop, repeats)
    t0 = time.perf_counter()
    eager = [solve(flat_x[i], flat_y[i]).f for i in range(eager_problems)]
    jax.block_until_ready(eager)
    t_eager = (time.perf_counter() - t0) * flat_x.shape[0] / eager_problems
    diff = max(float(jnp.max(jnp.abs(out.f.reshape((-1, size))[i] - f)))
               for i, f in enumerate(eager))
    rows = [(f"vmap over {per_axis} silos x {per_axis} seeds", c_vmap, t_vmap)]
    for bs in map_batches:  # memory-bounded batching: lax.map over vmapped blocks
        mapped = jax.jit(lambda u, v, bs=bs: jax.lax.map(lambda p: solve(*p), (u, v),
                                                         batch_size=bs))
        t0 = time.perf_counter()
        comp_m = mapped.lower(flat_x, flat_y).compile()
        c_m = time.perf_counter() - t0
        rows.append((f"lax.map, vmapped blocks of {bs}", c_m,
                     _best(lambda c=comp_m: c(flat_x, flat_y).f, repeats)))
    rows += [("loop, jitted single solve", c_one, t_loop),
            (f"loop, eager (timed on {eager_problems}, scaled)", 0.0, t_eager)]
    return rows, diff, float(jnp.mean(out.converged))


def _np_sinkhorn(x, y, b, eps, iterations):
    """Log-domain Sinkhorn, uniform ``a``, weights ``b`` (zeros allowed); returns ``f``."""
    c = np.sum((x[:, None, :] - y[None, :, :]) ** 2, axis=-1)
    la = np.full(x.shape[0], -np.log(x.shape[0]))
    with np.errstate(divide="ignore"):
        lb = np.log(b / b.sum())
    f, g = np.zeros(x.shape[0]), np.zeros(y.shape[0])
    for _ in range(iterations):
        f = -eps * logsumexp((g[None, :] - c) / eps + lb[None, :], axis=1)
        g = -eps * logsumexp((f[:, None] - c) / eps + la[:, None], axis=0)
    return f


def numpy_problems(cfg):
    """Shapes ``(rows, cols, count)`` of the OT problems one seed-generation solves."""
    st = set(cfg.strategies)
    big = (cfg.candidates, cfg.n_real)
    probs = []
    if "local" in st:
        probs.append(big + (1,))
    if "global-oracle" in st:
        probs.append(big + (1,))
    if "interpolation" in st:  # K geodesics toward silo data, K scores against the proxies
        probs += [big + (cfg.silos,), (cfg.candidates, cfg.candidates, cfg.silos)]
    if "barycenter" in st:  # (rounds + 1) x K Monge images of the support, one score
        probs += [(cfg.support, cfg.n_real, (cfg.rounds + 1) * cfg.silos),
                  (cfg.candidates, cfg.support, 1)]
    return probs


def numpy_seed_generation(cfg, repeats: int) -> float:
    rng = np.random.default_rng(0)
    eps, it = cfg.sinkhorn.epsilon, cfg.sinkhorn.iterations
    problems = numpy_problems(cfg)
    inputs = [(rng.normal(size=(r, 2)), rng.normal(size=(c, 2)), rng.uniform(size=c), k)
              for r, c, k in problems]
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        for x, y, b, k in inputs:
            for _ in range(k):
                _np_sinkhorn(x, y, b, eps, it)
        best = min(best, time.perf_counter() - t0)
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--problems-per-axis", type=int, default=8)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--epsilon", type=float, default=2.0)
    ap.add_argument("--iterations", type=int, default=100)
    ap.add_argument("--eager-problems", type=int, default=4)
    ap.add_argument("--seeds", default="4,16", help="seed counts of the kernel rows")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--skip-kernel", action="store_true", help="part 1 only")
    a = ap.parse_args()
    print(f"machine: {platform.machine()}, {jax.devices()[0].platform} "
          f"({jax.devices()[0].device_kind}), jax {jax.__version__}, float32")

    settings = transport.sinkhorn_settings(a.epsilon, a.iterations)
    rows, diff, conv = batched_sinkhorn(a.problems_per_axis, a.size, settings,
                                        a.eager_problems, a.repeats)
    n_prob = a.problems_per_axis**2
    print(f"\n1. {n_prob} Sinkhorn problems of {a.size} x {a.size} (2-D, eps={a.epsilon:g}, "
          f"{a.iterations} iterations, momentum 1.5); converged {conv:.0%}; max |f_vmap - "
          f"f_eager| = {diff:.1e}")
    t_vmap = rows[0][2]
    print(f"{'variant':<44} {'compile s':>9} {'run s':>8} {'problems/s':>10} {'time / vmap':>13}")
    for label, c, r in rows:
        print(f"{label:<44} {c:9.2f} {r:8.3f} {n_prob / r:10.1f} {r / t_vmap:12.1f}x")

    if a.skip_kernel:
        return
    cfg = proxy_config(dim=2, modes=6, skew=0.7, n=50, alpha=0.25, pool=200, n_real=200,
                       silos=5, generations=10, epsilon=2.0, sinkhorn_iterations=a.iterations,
                       tau=0.5, rounds=5, support=50)
    params = proxy_params(cfg, beta=0.1)
    t_np = numpy_seed_generation(cfg, a.repeats)
    n_solves = sum(k for _, _, k in numpy_problems(cfg))
    print(f"\n2. proxy kernel, check defaults: {len(cfg.strategies)} strategies, N="
          f"{cfg.candidates} candidates, K={cfg.silos} silos, {cfg.generations} generations; "
          f"{n_solves} Sinkhorn solves per seed-generation")
    print(f"{'variant':<44} {'compile s':>9} {'run s':>8} {'seed-gen/s':>10} "
          f"{'x numpy':>8} {'roofline/x':>10}")
    for seeds in (int(s) for s in a.seeds.split(",")):
        sg = seeds * cfg.generations
        _, first = batch.run(proxy_kernel, jax.random.key(0), params, cfg, seeds=seeds,
                             timed=True)
        run_s = _best(lambda s=seeds: batch.run(proxy_kernel, jax.random.key(1), params, cfg,
                                                seeds=s), a.repeats)
        c_roof, t_roof = roofline(seeds, (len(cfg.strategies), cfg.candidates, cfg.dim),
                                  cfg.generations, repeats=3)
        print(f"{f'jax kernel, {seeds} seeds':<44} {first.compile_s:9.2f} {run_s:8.3f} "
              f"{sg / run_s:10.3g} {t_np * sg / run_s:7.1f}x {run_s / t_roof:9.0f}x")
        print(f"{f'  roofline: random.normal, {seeds} seeds':<44} {c_roof:9.2f} {t_roof:8.4f} "
              f"{sg / t_roof:10.3g}")
    print(f"{'numpy Sinkhorn loop (Sinkhorn only)':<44} {0.0:9.2f} {t_np:8.3f} "
          f"{1.0 / t_np:10.3g} {1.0:7.1f}x")


if __name__ == "__main__":
    main()
