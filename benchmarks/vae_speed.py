"""CVAE training throughput: ``jit(vmap(fit))`` over seeds against a per-seed loop, one run.

Run by hand: ``python benchmarks/vae_speed.py [--seeds 12] [--steps 1000] [--json PATH]``.

The workload is one training run of :mod:`collapse_jax.vae` as the ``vae_verification`` check
does it every round (CVAE 64-128-8, Gaussian likelihood, batch 64, Adam, ``--steps`` steps in
one ``lax.scan``) on the scikit-learn digits, for ``--seeds`` seeds:

* ``vmap``: every seed in one compiled program, ``jax.jit(jax.vmap(train))(keys)``;
* ``loop``: the same compiled single-seed program called once per seed from Python (how a
  per-seed PyTorch-style script runs; compiled once, so only run time is compared).

Both are timed after compilation (best of two runs); the table gives seed-steps per second and
the ratio ``loop / vmap`` of run times, measured in the same process.
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import equinox as eqx
import jax
import jax.numpy as jnp

from collapse_jax.core.nets import cvae as nv
from collapse_jax.core.nets import data as nd
from collapse_jax.core.nets import init as ni
from collapse_jax.core.nets import train as nt


def _best(fn, repeats: int = 2) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(fn())
        best = min(best, time.perf_counter() - t0)
    return best


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seeds", type=int, default=12)
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--json", metavar="PATH")
    a = p.parse_args(argv)

    split = nd.stratified_split(nd.load_digits(), seed=0)
    x, y = jnp.asarray(split.train.x), jnp.asarray(split.train.y)
    cfg = nt.train_config(steps=a.steps, batch=64, lr=5e-3)

    def train(key):
        k_init, k_fit = jax.random.split(key)
        like = eqx.filter_eval_shape(nv.CVAE, x.shape[1], 8, 128, 10, 0.1, key=k_init)
        return nt.fit(k_fit, ni.reinit(like, k_init), nv.neg_elbo, x, y, 200, cfg)[1]

    keys = jax.random.split(jax.random.key(0), a.seeds)
    single, batched = jax.jit(train), jax.jit(jax.vmap(train))
    t0 = time.perf_counter()
    jax.block_until_ready(batched(keys))
    compile_vmap = time.perf_counter() - t0
    t0 = time.perf_counter()
    jax.block_until_ready(single(keys[0]))
    compile_loop = time.perf_counter() - t0
    run_vmap = _best(lambda: batched(keys))
    run_loop = _best(lambda: [single(k) for k in keys])
    work = a.seeds * a.steps
    dev = jax.devices()[0]
    out = {"seeds": a.seeds, "steps": a.steps, "device": f"{dev.platform}:{dev.device_kind}",
           "jax": jax.__version__, "machine": platform.machine(),
           "vmap": {"first_call_s": compile_vmap, "run_s": run_vmap,
                    "seed_steps_per_s": work / run_vmap},
           "loop": {"first_call_s": compile_loop, "run_s": run_loop,
                    "seed_steps_per_s": work / run_loop},
           "ratio_loop_over_vmap": run_loop / run_vmap}
    print(f"CVAE training, {a.seeds} seeds x {a.steps} steps, {out['device']}, jax {jax.__version__}")
    print(f"{'variant':<8} {'first call s':>12} {'run s':>8} {'seed-steps/s':>13}")
    for name in ("vmap", "loop"):
        r = out[name]
        print(f"{name:<8} {r['first_call_s']:12.2f} {r['run_s']:8.2f} {r['seed_steps_per_s']:13.3g}")
    print(f"loop / vmap run time: {out['ratio_loop_over_vmap']:.2f}x")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=1)
    return out


if __name__ == "__main__":
    main()
