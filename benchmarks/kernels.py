"""Throughput of every simulation kernel, as ratios against baselines measured in the same run.

Run by hand: ``python benchmarks/kernels.py [--kernels power_law refit ols verifier]
[--scale] [--max-seeds 100000] [--json PATH]``.

For each kernel, at the workload of its proofs_check's default run:

* ``compile s``: lowering + XLA compile of the batched program (first call);
* ``run s``: the best of two timed runs after compilation;
* ``x numpy``: speed-up over a plain numpy per-seed loop of the same algorithm (the way the
  papers' code runs: a Python loop over seeds and generations, numpy inside a generation),
  timed on a few seeds and scaled linearly (its cost is linear in seeds by construction);
* ``x roofline``: the kernel's speed relative to bare ``jax.random.normal`` producing the
  kernel's normal draws (same total shape, one call per generation inside a scan, float64),
  the cost of sampling alone. Above 1 means the kernel draws fewer numbers than a naive
  implementation would (the power-law kernel's order-statistics sampler draws ``n`` of the
  ``N`` candidates) or draws them cheaper.

``--scale`` adds, per kernel, the cost per seed-generation from 1e2 seeds up to
``--max-seeds`` (each size in a fresh child process that compiles and runs once, then runs
again from the cached program: ``run s`` is the second run), and the same largest size
streamed in chunks with one compile (:func:`collapse_jax.engine.batch.stream`). Memory: ``base MB``
is the resident set after the first run (interpreter, JAX, the compiled program), ``+ run MB``
the peak resident memory of the second run above it (Linux ``VmHWM`` after resetting it
through ``/proc/self/clear_refs``): what the seeds themselves cost.

The kernels: ``power_law`` (:func:`collapse_jax.power_law.kernel.selection_kernel`, accumulate +
top-alpha, d = 1, n = 200, alpha = 0.25, 200 generations), ``refit`` (classic Gaussian refit,
:func:`collapse_jax.classic.kernel.refit_kernel`, replace, d = 1, n = 10, 100 generations), ``ols``
(fixed-design OLS under replace / accumulate / accumulate-subsample in one scan,
:func:`collapse_jax.classic.fixed_design.ols_kernel`, d = 10, T = 40, 20 fits) and ``verifier``
(knowledge-centre retraining, :func:`collapse_jax.knowledge_center.kernel.verifier_kernel`, block
design, p = 5, n = 2000 rows per direction, 30 rounds), ``laplace`` (Qiao et al.'s product
Laplace under accumulate + selection, :func:`collapse_jax.power_law.product_laplace.
laplace_product_kernel`, their preset's d = 10, n = 100, alpha = 0.05, 200 generations; the
numpy baseline is the authors' loop, ``np.median`` of the whole pool every generation);
``power_law_f32`` and ``verifier_f32`` are the same workloads with float32 draws (the fit stays float64);
``verifier_sufficient`` draws each round's sufficient statistics (``sampler="sufficient"``),
timed against a numpy loop of that same sampler (the rows loop of ``verifier`` is the other
baseline worth quoting: same workload, different algorithm). The
proxy-reference kernel has its own benchmark, ``benchmarks/proxy_speed.py``.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import jax
import numpy as np
from scipy.special import ndtr

jax.config.update("jax_enable_x64", True)

from collapse_jax.engine import batch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _roofline import cpu_description, roofline  # noqa: E402
from power_law_speed import numpy_loop  # noqa: E402


@dataclass
class Workload:
    """One kernel at its check's default size."""

    build: Callable  # () -> (kernel, params, cfg)
    seeds: int  # default seeds of the check
    generations: int  # scan length (for per seed-generation costs)
    numpy_loop: Callable  # (seeds, rng) -> None, the per-seed baseline
    numpy_seeds: int  # seeds the baseline is timed on
    draws: int  # normal draws per seed and generation (roofline shape)
    metric: str  # one metric streamed by --scale
    note: str
    scale_max: int = 100_000  # largest seed count of the --scale table (run time bound)
    # seeds per program: None (all at once), a number, or seeds -> number (the check's rule)
    chunk: int | Callable | None = None


# ---------------------------------------------------------------------------------------------
# power law: accumulate + top-alpha (the benchmark of issue 2, benchmarks/power_law_speed.py)

def _power_law_build(sample_precision="float64"):
    from collapse_jax.power_law.kernel import selection_config, selection_kernel, selection_params
    cfg = selection_config(n=200, alpha=0.25, generations=200, sample_precision=sample_precision)
    return selection_kernel, selection_params(cfg, alpha=0.25), cfg


def _power_law_numpy(seeds, rng):
    numpy_loop(seeds, 200, 0.25, 200, seed=int(rng.integers(2**31)))


# ---------------------------------------------------------------------------------------------
# classic Gaussian refit (replace), gaussian_refit's default workload

def _refit_build():
    from collapse_jax.classic.kernel import refit_config, refit_kernel, refit_params
    cfg = refit_config(dim=1, n=10, generations=100, paradigm="replace")
    return refit_kernel, refit_params(cfg), cfg


def _refit_numpy(seeds, rng, n=10, generations=100):
    for _ in range(seeds):
        real = rng.normal(size=n)
        rbar = real.mean()
        mean, var = rbar, real.var()
        out = np.empty((generations, 9))
        for g in range(generations):
            x = mean + np.sqrt(var) * rng.normal(size=n)
            new_mean, new_var = x.mean(), x.var()
            sd = np.sqrt(new_var)
            tails = [ndtr((-c - new_mean) / sd) + ndtr((new_mean - c) / sd) for c in (2, 3)]
            out[g] = (new_var, np.log(new_var), new_mean**2, (new_mean - rbar) ** 2,
                      (new_mean - mean) ** 2, new_mean**2 + (sd - 1.0) ** 2,
                      new_mean**2 + (sd - 1.0) ** 2, *tails)
            mean, var = new_mean, new_var


# ---------------------------------------------------------------------------------------------
# fixed-design OLS, three paradigms with common random numbers (regression_paradigms default)

def _ols_build():
    from collapse_jax.classic.fixed_design import ols_config, ols_kernel, ols_params
    cfg = ols_config(dim=10, T=40, generations=19)
    return ols_kernel, ols_params(cfg), cfg


def _ols_chunk(seeds):
    from collapse_jax.classic.check_regression import cpu_chunk
    return cpu_chunk(batch.Options(), seeds)


def _ols_numpy(seeds, rng, d=10, T=40, fits=20):
    for _ in range(seeds):
        x = rng.normal(size=(T, d))
        w_star = rng.normal(size=d)
        proj = np.linalg.solve(x.T @ x, x.T)
        w_rep = w_acc = w_sub = w_star
        total = np.zeros(T)
        pool_rows, pool_prio = np.zeros((0, d + 1)), np.zeros(0)
        errs = np.empty((fits, 3))
        for i in range(fits):
            eps = rng.normal(size=T)
            prio = rng.uniform(size=T)
            w_rep = proj @ (x @ w_rep + eps)
            total += x @ w_acc + eps
            w_acc = proj @ (total / (i + 1))
            rows = np.vstack([pool_rows, np.column_stack([x, x @ w_sub + eps])])
            allp = np.concatenate([pool_prio, prio])
            keep = np.argsort(allp)[:T]
            pool_rows, pool_prio = rows[keep], allp[keep]
            xp, yp = pool_rows[:, :-1], pool_rows[:, -1]
            w_sub = np.linalg.solve(xp.T @ xp, xp.T @ yp)
            errs[i] = [np.sum((w - w_star) ** 2) for w in (w_rep, w_acc, w_sub)]


# ---------------------------------------------------------------------------------------------
# verifier-filtered retraining, block design (knowledge_center default)

def _verifier_build(sample_precision="float64", sampler="rows"):
    from collapse_jax.knowledge_center.kernel import (
        verifier_config,
        verifier_kernel,
        verifier_params,
    )
    cfg = verifier_config(p=5, n0=20, n=2000, rounds=30, sample_precision=sample_precision,
                          sampler=sampler)
    return verifier_kernel, verifier_params(cfg), cfg


def _verifier_loop(seeds, rng, draw, p=5, n0=20, n=2000, rounds=30, delta=0.5, r=0.2,
                   sigma=1.0, sigma_c=0.5, s=1.0):
    """The verifier loop per seed; ``draw(rng, theta, theta_c, n, r, sigma, sigma_c, s)`` gives
    one round's accepted counts and label sums per direction."""
    theta_c = np.zeros(p)
    theta_c[0] = delta
    for _ in range(seeds):
        x = rng.normal(size=(n0, p))
        y = sigma * rng.normal(size=n0)
        theta = np.linalg.solve(x.T @ x, x.T @ y)
        out = np.empty((rounds, 4 + p))
        for k in range(rounds):
            count, y_sum = draw(rng, theta, theta_c, n, r, sigma, sigma_c, s)
            ok = count > 0
            theta = np.where(ok, y_sum / (s * np.where(ok, count, 1)), theta)
            out[k, :4] = (np.sum(theta**2), np.sum((theta - theta_c) ** 2),
                          count.sum() / (p * n), count.sum())
            out[k, 4:] = theta


def _draw_rows(rng, theta, theta_c, n, r, sigma, sigma_c, s):
    noise = sigma * rng.normal(size=(len(theta), n))
    keep = np.abs((s * (theta - theta_c))[:, None] + noise) <= r * s + sigma_c
    count = keep.sum(axis=1)
    return count, count * s * theta + (keep * noise).sum(axis=1)


def _draw_sufficient(rng, theta, theta_c, n, r, sigma, sigma_c, s):
    """Binomial counts and normal sums of the truncated noise, as
    :func:`collapse_jax.knowledge_center.regression.block_round_sufficient` draws them."""
    from scipy.special import ndtr

    half = (r * s + sigma_c) / sigma
    c = -s * (theta - theta_c) / sigma
    a, b = c - half, c + half
    mass = ndtr(b) - ndtr(a)
    pa, pb = np.exp(-0.5 * a * a), np.exp(-0.5 * b * b)
    mu = 0.3989422804014327 * (pa - pb) / mass
    var = 1.0 + 0.3989422804014327 * (a * pa - b * pb) / mass - mu * mu
    count = rng.binomial(n, mass)
    noise = sigma * (count * mu + np.sqrt(count * var) * rng.normal(size=len(theta)))
    return count, count * s * theta + noise


def _verifier_numpy(seeds, rng):
    _verifier_loop(seeds, rng, _draw_rows)


def _verifier_sufficient_numpy(seeds, rng):
    _verifier_loop(seeds, rng, _draw_sufficient)


# ---------------------------------------------------------------------------------------------
# Qiao et al.'s product Laplace, accumulate + selection (non_gaussian --preset qiao-nongaussian)

def _laplace_build():
    from collapse_jax.power_law import product_laplace as pl
    cfg = pl.laplace_config(n=100, alpha=0.05, generations=200, paradigm="accumulate",
                            select=True)
    return pl.laplace_product_kernel, pl.preset_params(cfg), cfg


def _laplace_numpy(seeds, rng):
    from collapse_jax.power_law import product_laplace as pl
    for _ in range(seeds):  # the authors' loop: np.median of the whole pool per generation
        pl.numpy_reference(int(rng.integers(2**31)), 100, 0.05, 200, "accumulate", True)


WORKLOADS = {
    "power_law": Workload(_power_law_build, 1000, 200, _power_law_numpy, 50, 800, "trace",
                          "accumulate + top-alpha, d=1, n=200, alpha=0.25, N=800, T=200"),
    "power_law_f32": Workload(lambda: _power_law_build("float32"), 1000, 200, _power_law_numpy,
                              50, 800, "trace", "the same with float32 draws (float64 fit)"),
    "refit": Workload(_refit_build, 20000, 100, _refit_numpy, 1000, 10, "trace",
                      "Gaussian refit (replace), d=1, n=10, T=100"),
    "ols": Workload(_ols_build, 8000, 20, _ols_numpy, 400, 40 + 10, "replace",
                    "fixed-design OLS x 3 paradigms, d=10, T=40, 20 fits, in chunks as the "
                    "check runs it (250 seeds per program on 2 CPU cores)", 10_000,
                    chunk=_ols_chunk),
    "laplace": Workload(_laplace_build, 100, 200, _laplace_numpy, 4, 2000 * 10, "ratio",
                        "product Laplace, accumulate + selection, d=10, n=100, alpha=0.05, "
                        "N=2000, T=200, 10 seeds per program as the check runs it (Laplace "
                        "draws: the roofline's normals are a proxy)", 1000, chunk=10),
    "verifier": Workload(_verifier_build, 200, 30, _verifier_numpy, 20, 10000, "err_center",
                         "verifier retraining, block design, p=5, n=2000, 30 rounds", 1000),
    "verifier_f32": Workload(lambda: _verifier_build("float32"), 200, 30, _verifier_numpy, 20,
                             10000, "err_center", "the same with float32 noise draws"),
    "verifier_sufficient": Workload(lambda: _verifier_build(sampler="sufficient"), 200, 30,
                                    _verifier_sufficient_numpy, 20, 10, "err_center",
                                    "the same, sampler='sufficient' (2 p draws per round); "
                                    "numpy baseline: the same sampler per seed", 100_000),
}


def speed_row(name: str, seeds_factor: int = 1, numpy_fraction: float = 1.0) -> dict:
    """One row of the speed table: the kernel at ``seeds_factor`` times its check's default
    seeds, the numpy loop timed on ``numpy_fraction`` of its usual seeds (at least 2; 0 skips
    it: ``numpy_s`` and ``x_numpy`` are then None) and scaled to the same seeds, the roofline
    at the same shape."""
    w = WORKLOADS[name]
    seeds = w.seeds * seeds_factor
    kernel, params, cfg = w.build()
    opts = batch.Options(chunk_size=w.chunk(seeds) if callable(w.chunk) else w.chunk)
    _, first = batch.run(kernel, jax.random.key(0), params, cfg, seeds=seeds, timed=True,
                         options=opts)
    _, again = batch.run(kernel, jax.random.key(1), params, cfg, seeds=seeds, timed=True,
                         options=opts)
    run_s = min(first.run_s, again.run_s)
    numpy_s, timed = None, 0
    if numpy_fraction > 0:
        timed = max(2, round(w.numpy_seeds * numpy_fraction))
        t0 = time.perf_counter()
        w.numpy_loop(timed, np.random.default_rng(0))
        numpy_s = (time.perf_counter() - t0) * seeds / timed
    roof_c, roof_s = roofline(seeds, w.draws, w.generations)
    return {"kernel": name, "workload": w.note, "seeds": seeds, "compile_s": first.compile_s,
            "run_s": run_s, "seed_gen_per_s": seeds * w.generations / run_s,
            "numpy_s": numpy_s, "numpy_seeds_timed": timed,
            "x_numpy": None if numpy_s is None else numpy_s / run_s,
            "roofline_s": roof_s, "roofline_compile_s": roof_c, "x_roofline": roof_s / run_s}


CHILD = r"""
import gc, json, sys
import jax, numpy as np
jax.config.update("jax_enable_x64", True)
sys.path.insert(0, sys.argv[5])
from kernels import WORKLOADS
from collapse_jax.engine import batch
name, seeds, chunk, mode = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
w = WORKLOADS[name]
kernel, params, cfg = w.build()


def status(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1]) / 1024


def once(key):
    if mode == "stream":
        red = batch.GroupMeans(lambda out: {"x": out[1][w.metric][:, 0]})
        tm = batch.stream(kernel, key, params, cfg, seeds=seeds, chunk_size=chunk, reduce=red)
        red.result()
    else:
        out, tm = batch.run(kernel, key, params, cfg, seeds=seeds, timed=True)
        jax.block_until_ready(out)
        del out
    gc.collect()
    return tm


first = once(jax.random.key(0))          # compile + run
base = status("VmRSS:")
open("/proc/self/clear_refs", "w").write("5")   # reset the peak (VmHWM) to the current RSS
again = once(jax.random.key(1))          # cached program: the run alone
print(json.dumps({"compile_s": first.compile_s, "run_s": again.run_s, "base_mb": base,
                  "peak_mb": status("VmHWM:")}))
"""


def _child(name, seeds, chunk, mode):
    here = str(Path(__file__).resolve().parent)
    r = subprocess.run([sys.executable, "-c", CHILD, name, str(seeds), str(chunk), mode, here],
                       capture_output=True, text=True)
    if r.returncode != 0:
        return {"error": (r.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(r.stdout.strip().splitlines()[-1])


def scale_rows(name: str, max_seeds: int, chunk: int) -> list[dict]:
    w = WORKLOADS[name]
    rows, seeds = [], 100
    while seeds <= max_seeds:
        r = _child(name, seeds, 0, "run")
        rows.append({"kernel": name, "seeds": seeds, "mode": "unchunked", **r})
        _print_scale(rows[-1], w.generations)
        seeds *= 10
    r = _child(name, max_seeds, min(chunk, max_seeds), "stream")
    rows.append({"kernel": name, "seeds": max_seeds, "mode": f"stream {chunk}", **r})
    _print_scale(rows[-1], w.generations)
    return rows


def _print_scale(r, generations):
    if "error" in r:
        print(f"{r['kernel']:<10} {r['seeds']:>8} {r['mode']:>14}  FAILED: {r['error']}")
        return
    print(f"{r['kernel']:<10} {r['seeds']:>8} {r['mode']:>14} {r['compile_s']:9.2f} "
          f"{r['run_s']:8.2f} {1e6 * r['run_s'] / (r['seeds'] * generations):12.3f} "
          f"{r['base_mb']:8.0f} {r['peak_mb'] - r['base_mb']:9.0f}", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kernels", nargs="+", default=list(WORKLOADS), choices=list(WORKLOADS),
                    metavar="KERNEL", help="any of " + ", ".join(WORKLOADS) + " (all)")
    ap.add_argument("--scale", action="store_true", help="also the cost-per-seed table")
    ap.add_argument("--scale-kernels", nargs="+", choices=list(WORKLOADS), metavar="KERNEL",
                    default=["power_law_f32", "refit", "ols", "verifier"],
                    help="kernels of the --scale table (power_law_f32 is the check's default "
                         "sampling precision)")
    ap.add_argument("--max-seeds", type=int, default=100_000,
                    help="cap on the --scale seed counts (each kernel also has its own: 1e5, "
                         "ols 1e4, verifier 1e3, to bound the run time)")
    ap.add_argument("--chunk", type=int, default=10_000)
    ap.add_argument("--seeds-factor", type=int, default=1,
                    help="run each kernel at this many times its check's default seeds (1; an "
                         "accelerator wants more work per call)")
    ap.add_argument("--numpy-fraction", type=float, default=1.0,
                    help="time the numpy loop on this fraction of its usual seeds (1; 0 skips "
                         "the numpy baseline)")
    ap.add_argument("--json", default=None, help="write the rows to this file")
    a = ap.parse_args()
    if a.seeds_factor < 1 or not 0 <= a.numpy_fraction <= 10:
        ap.error(f"--seeds-factor must be >= 1 (got {a.seeds_factor}) and --numpy-fraction in "
                 f"[0, 10] (got {a.numpy_fraction})")
    dev = jax.devices()[0]
    cpu = cpu_description()
    print(f"machine: {platform.machine()}, {dev.platform} ({dev.device_kind}), "
          f"{len(jax.devices())} device(s), jax {jax.__version__}; {cpu['cpu']}, "
          f"{cpu['cores']} cores, {cpu['simd']}, numpy {cpu['numpy']}")
    print(f"{'kernel':<10} {'seeds':>6} {'compile s':>9} {'run s':>8} {'seed-gen/s':>11} "
          f"{'numpy s':>8} {'x numpy':>8} {'roof s':>7} {'x roofline':>10}")
    rows = []
    for name in a.kernels:
        r = speed_row(name, a.seeds_factor, a.numpy_fraction)
        rows.append(r)
        num = ("-", "-") if r["numpy_s"] is None else (f"{r['numpy_s']:.2f}", f"{r['x_numpy']:.2f}")
        print(f"{name:<10} {r['seeds']:>6} {r['compile_s']:9.2f} {r['run_s']:8.3f} "
              f"{r['seed_gen_per_s']:11.3g} {num[0]:>8} {num[1]:>8} "
              f"{r['roofline_s']:7.3f} {r['x_roofline']:10.2f}", flush=True)
    for name in a.kernels:
        print(f"  {name}: {WORKLOADS[name].note}")
    scale = []
    if a.scale:
        print(f"\n{'kernel':<10} {'seeds':>8} {'mode':>14} {'compile s':>9} {'run s':>8} "
              f"{'us/seed-gen':>12} {'base MB':>8} {'+ run MB':>9}")
        for name in a.scale_kernels:
            top = min(a.max_seeds, WORKLOADS[name].scale_max)
            scale += scale_rows(name, top, min(a.chunk, max(top // 10, 1)))
    if a.json:
        meta = {"machine": platform.machine(), "device": dev.device_kind,
                "platform": dev.platform, "jax": jax.__version__, **cpu}
        with open(a.json, "w") as f:
            json.dump({"meta": meta, "speed": rows, "scale": scale}, f, indent=1)


if __name__ == "__main__":
    main()
