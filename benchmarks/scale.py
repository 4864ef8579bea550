"""Scaling of the power-law kernel: cost per seed from 1e2 to 1e5 seeds, and peak memory of
1e5 seeds chunked (streamed) against unchunked, each measured in a fresh child process.

Run by hand: ``python benchmarks/scale.py [--max-seeds 100000] [--chunk 5000]``.
Workload: accumulate + top-alpha, d = 1, n = 200, alpha = 0.25, 200 generations, all metrics.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

CHILD = r"""
import json, resource, sys, time
import jax, numpy as np
jax.config.update("jax_enable_x64", True)
from collapse_jax import batch
from collapse_jax.loops import selection_config, selection_kernel, selection_params
seeds, chunk, mode, gens = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
cfg = selection_config(n=200, alpha=0.25, generations=gens, sample_precision="float32")
p = selection_params(cfg, alpha=0.25)
key = jax.random.key(0)
if mode == "stream":
    red = batch.GroupMeans(lambda out: {"trace": out[1]["trace"][:, 0]})
    tm = batch.stream(selection_kernel, key, p, cfg, seeds=seeds, chunk_size=chunk, reduce=red)
    mean_last = float(red.result()["trace"].mean(0)[-1])
else:
    (_, m), tm = batch.run(selection_kernel, key, p, cfg, seeds=seeds, timed=True,
                           chunk_size=None if chunk == 0 else chunk)
    mean_last = float(np.asarray(m["trace"])[:, 0, -1].mean())
print(json.dumps({"compile_s": tm.compile_s, "run_s": tm.run_s, "mean_last": mean_last,
                  "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def child(seeds, chunk, mode, gens):
    r = subprocess.run([sys.executable, "-c", CHILD, str(seeds), str(chunk), mode, str(gens)],
                       capture_output=True, text=True, check=True)
    return json.loads(r.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--max-seeds", type=int, default=100_000)
    ap.add_argument("--chunk", type=int, default=5000)
    ap.add_argument("--generations", type=int, default=200)
    a = ap.parse_args()
    g = a.generations
    print(f"power-law kernel, {g} generations, n=200, alpha=0.25, d=1")
    print(f"{'seeds':>8} {'mode':>18} {'compile s':>9} {'run s':>8} {'us/seed-gen':>11} "
          f"{'peak RSS MB':>11}")
    seeds = 100
    while seeds <= a.max_seeds:
        r = child(seeds, 0, "run", g)
        print(f"{seeds:>8} {'unchunked':>18} {r['compile_s']:9.2f} {r['run_s']:8.2f} "
              f"{1e6 * r['run_s'] / (seeds * g):11.3f} {r['maxrss_mb']:11.0f}", flush=True)
        seeds *= 10
    r = child(a.max_seeds, a.chunk, "stream", g)
    print(f"{a.max_seeds:>8} {'stream ' + str(a.chunk):>18} {r['compile_s']:9.2f} "
          f"{r['run_s']:8.2f} {1e6 * r['run_s'] / (a.max_seeds * g):11.3f} "
          f"{r['maxrss_mb']:11.0f}")


if __name__ == "__main__":
    main()
