"""Speed of the power-law kernel, as ratios against baselines measured in the same run.

Run by hand: ``python benchmarks/power_law_speed.py [--seeds 1000] [--numpy-seeds 100]``, and
``python benchmarks/power_law_speed.py --preset [--seeds 64] [--numpy-seeds 2] [--n 300]`` for
Qiao et al.'s own configuration (below).

Workload (issue default): accumulate + top-alpha selection, d = 1, n = 200, alpha = 0.25
(N = 800 candidates), 200 generations, 1000 seeds, float64 fit.

Rows:
* ``jax order-stat``: the library kernel with the exact order-statistics sampler (standardised
  draws in float32 or float64), all metrics on;
* ``jax sort``: the same kernel drawing all N candidates and sorting them (``lax.top_k``);
* ``numpy loop``: the same algorithm the way the papers' code runs it: a Python loop over seeds
  and generations, N candidates per generation, ``argpartition`` for the top n, pooled
  moments, the same metrics; timed on ``--numpy-seeds`` seeds and scaled (its cost is linear in
  seeds by construction);
* ``roofline``: bare ``jax.random.normal`` of the candidate shape ``(seeds, N)`` once per
  generation, summed so that nothing is optimised away.

``--preset``: the authors' configuration (``subexperiments/Gaussian_Modeling/
gaussian_correct.py``: d = 10, alpha = 0.05, N = n / alpha candidates, 300 generations, fixed
metric 0.3 Sigma*, offset 3 N(0, 1) on 5 coordinates, accumulate + selection). Rows: the kernel
as ``--preset qiao-gaussian`` runs it (``threshold`` sampler, light outputs), the kernel with
``lax.top_k`` and every metric (the configuration before the threshold sampler), the authors'
``run_accumulate(use_selection=True)`` ported line by line (numpy legacy random stream,
``multivariate_normal``, ``argsort``, ``vstack`` + ``np.cov`` of every kept batch each
generation) timed on ``--numpy-seeds`` seeds, the sampler's bare draw
(``collapse_jax.core._random.normal_f32``: float32 normals from both halves of each 64-bit
threefry word) and the roofline: ``jax.random.normal`` of ``N d`` float32 draws per seed and
generation, vmapped over seeds as the kernel draws them. The kernel can pass the roofline
(ratio above 1): its draw spends half the threefry work of ``jax.random.normal``
(``--skip-sort`` drops the slow top_k row).
"""

from __future__ import annotations

import argparse
import platform
import time

import jax
import numpy as np

jax.config.update("jax_enable_x64", True)

from _roofline import roofline, roofline_per_seed  # noqa: E402

from collapse_jax.core import _random  # noqa: E402
from collapse_jax.engine import batch  # noqa: E402
from collapse_jax.power_law.kernel import (  # noqa: E402
    selection_config,
    selection_kernel,
    selection_params,
)


def numpy_loop(seeds: int, n: int, alpha: float, generations: int, seed: int = 0) -> float:
    """Per-seed numpy implementation of accumulate + top-alpha (brute force, d = 1)."""
    rng = np.random.default_rng(seed)
    n_cand = int(round(n / alpha))
    t0 = time.perf_counter()
    for _ in range(seeds):
        real = rng.normal(size=n)
        count, mean = float(n), real.mean()
        scatter = float(((real - mean) ** 2).sum())
        var = scatter / count
        mean0, sd0 = mean, np.sqrt(var)
        ref = 0.0
        out = np.empty((generations, 6))
        for g in range(generations):
            sd = np.sqrt(var)
            x = mean + sd * rng.normal(size=n_cand)
            keep = x[np.argpartition((x - ref) ** 2, n)[:n]]
            bm = keep.mean()
            bs = ((keep - bm) ** 2).sum()
            delta = bm - mean
            psi = 1.0 - (bs / n + delta**2) / var
            new_count = count + n
            mean = mean + delta * n / new_count
            scatter = scatter + bs + delta**2 * count * n / new_count
            count = new_count
            var = scatter / count
            out[g] = (var, np.log(var), (mean - ref) ** 2, mean**2,
                      (mean - mean0) ** 2 + (np.sqrt(var) - sd0) ** 2, psi)
    return time.perf_counter() - t0


def authors_accumulate_select(seeds: int, n: int, alpha: float, generations: int,
                              dim: int = 10) -> float:
    """Qiao et al.'s ``GaussianModelCollapse.run_accumulate(use_selection=True)`` ported line
    by line (one seed after another); returns the wall time."""
    n_gen = int(n / alpha)
    t0 = time.perf_counter()
    for seed in range(seeds):
        rs = np.random.RandomState(seed)  # their legacy global stream, one per seed
        mu_star = rs.randn(dim)
        a = rs.randn(dim, dim)
        sigma_star = a @ a.T + np.eye(dim) * 0.1
        u_bias = mu_star.copy()
        dims = rs.choice(dim, size=dim // 2, replace=False)
        u_bias[dims] += rs.randn(len(dims)) * 3.0
        sigma_bias = sigma_star * 0.3
        mu_t, sigma_t = mu_star.copy(), sigma_star.copy()
        accumulated, results = [], []
        for t in range(1, generations + 1):
            samples = rs.multivariate_normal(mu_t, sigma_t, size=n_gen)
            diff = samples - u_bias
            maha = np.sum(diff @ np.linalg.inv(sigma_bias) * diff, axis=1)
            samples = samples[np.argsort(-maha)[-n:]]
            accumulated.append(samples)
            all_samples = np.vstack(accumulated)
            mu_t = np.mean(all_samples, axis=0)
            sigma_t = np.cov(all_samples.T, bias=True) + np.eye(dim) * 1e-6
            results.append((t, np.linalg.norm(mu_t - mu_star) ** 2, np.trace(sigma_t)))
    return time.perf_counter() - t0


def preset_main(a):
    """The ``--preset`` rows (module docstring)."""
    dim, alpha, gens = 10, 0.05, 300
    n_cand = int(round(a.n / alpha))
    rows = []
    variants = [("jax threshold, light outputs (the preset)", "threshold", "light")]
    if not a.skip_sort:
        variants.append(("jax top_k, every metric (before)", "sort", "full"))
    for label, sampler, outputs in variants:
        cfg = selection_config(dim=dim, n=a.n, alpha=alpha, generations=gens, metric="fixed",
                               truth="random", start="truth", reference="gaussian",
                               sampler=sampler, sample_precision="float32", outputs=outputs)
        p = selection_params(cfg, alpha=alpha, offset=3.0, fixed_scale=0.3, ridge=1e-6)
        _, first = batch.run(selection_kernel, jax.random.key(0), p, cfg, seeds=a.seeds,
                             timed=True)
        _, tm = batch.run(selection_kernel, jax.random.key(1), p, cfg, seeds=a.seeds, timed=True)
        rows.append((label, first.compile_s, min(first.run_s, tm.run_s) / a.seeds))
    t_np = authors_accumulate_select(a.numpy_seeds, a.n, alpha, gens) / a.numpy_seeds
    rows.append((f"authors' script (timed on {a.numpy_seeds} seeds)", 0.0, t_np))
    c_pair, t_pair = roofline_per_seed(a.seeds, n_cand * dim, gens,
                                       draw=lambda k, size: _random.normal_f32(k, (size,)))
    rows.append(("normal_f32 (the sampler's draw) N d per seed", c_pair, t_pair / a.seeds))
    c_roof, t_roof = roofline_per_seed(a.seeds, n_cand * dim, gens)
    rows.append(("roofline: jax.random.normal N d per seed", c_roof, t_roof / a.seeds))
    print(f"Qiao et al.'s configuration: d={dim}, n={a.n}, alpha={alpha} (N={n_cand}), {gens} "
          f"generations, accumulate+select, fixed metric; {a.seeds} seeds")
    print(f"machine: {platform.machine()}, {jax.devices()[0].platform} "
          f"({jax.devices()[0].device_kind}), jax {jax.__version__}")
    print(f"{'variant':<46} {'compile s':>9} {'s / seed':>9} {'x authors':>9} {'x roofline':>10}")
    for label, c, r in rows:
        print(f"{label:<46} {c:9.2f} {r:9.4f} {t_np / r:9.2f} {rows[-1][2] / r:10.2f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=None, help="seeds (1000; --preset: 64)")
    ap.add_argument("--numpy-seeds", type=int, default=None,
                    help="seeds the numpy loop is timed on (100; --preset: 2)")
    ap.add_argument("--generations", type=int, default=200)
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--alpha", type=float, default=0.25)
    ap.add_argument("--skip-sort", action="store_true", help="skip the slow sort row")
    ap.add_argument("--preset", action="store_true",
                    help="Qiao et al.'s configuration instead (d 10, alpha 0.05, n from --n, "
                         "default 300; --seeds default 64, --numpy-seeds default 2)")
    a = ap.parse_args()
    if a.preset:
        a.seeds = 64 if a.seeds is None else a.seeds
        a.numpy_seeds = 2 if a.numpy_seeds is None else a.numpy_seeds
        a.n = 300 if a.n == ap.get_default("n") else a.n
        return preset_main(a)
    a.seeds = 1000 if a.seeds is None else a.seeds
    a.numpy_seeds = 100 if a.numpy_seeds is None else a.numpy_seeds
    sg = a.seeds * a.generations
    rows = []
    variants = [("jax order-stat, f32 draws", "order-stat", "float32"),
                ("jax order-stat, f64 draws", "order-stat", "float64")]
    if not a.skip_sort:
        variants.append(("jax sort (all N drawn)", "sort", "float32"))
    for label, sampler, sp in variants:
        cfg = selection_config(n=a.n, alpha=a.alpha, generations=a.generations, sampler=sampler,
                               sample_precision=sp)
        p = selection_params(cfg, alpha=a.alpha)
        _, first = batch.run(selection_kernel, jax.random.key(0), p, cfg, seeds=a.seeds,
                             timed=True)
        _, tm = batch.run(selection_kernel, jax.random.key(1), p, cfg, seeds=a.seeds, timed=True)
        rows.append((label, first.compile_s, min(first.run_s, tm.run_s)))
    t_np = numpy_loop(a.numpy_seeds, a.n, a.alpha, a.generations) * a.seeds / a.numpy_seeds
    rows.append((f"numpy loop (timed on {a.numpy_seeds} seeds, scaled)", 0.0, t_np))
    c_roof, t_roof = roofline(a.seeds, int(round(a.n / a.alpha)), a.generations)
    rows.append(("roofline: jax.random.normal (seeds, N)", c_roof, t_roof))

    print(f"power-law kernel: {a.seeds} seeds x {a.generations} generations, n={a.n}, "
          f"alpha={a.alpha}, d=1, accumulate+select, float64 fit")
    print(f"machine: {platform.machine()}, {jax.devices()[0].platform} "
          f"({jax.devices()[0].device_kind}), jax {jax.__version__}")
    print(f"{'variant':<48} {'compile s':>9} {'run s':>8} {'seed-gen/s':>11} "
          f"{'x numpy':>8} {'x roofline':>10}")
    for label, c, r in rows:
        print(f"{label:<48} {c:9.2f} {r:8.3f} {sg / r:11.3g} {t_np / r:8.2f} {t_roof / r:10.2f}")


if __name__ == "__main__":
    main()
