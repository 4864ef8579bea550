"""One selection step against a perfect reference: how much of a cluster's spread does each
score keep?

Per seed: ``N`` candidates and a reference of ``m`` points, both drawn from the same Gaussian
cluster ``N(0, s^2 I_d)``; keep the ``n`` lowest scores; return ``Tr Cov(kept) / Tr
Cov(candidates)``. A reference equal in law to the candidates gives a selection rule nothing
to correct, so an unbiased rule keeps the spread (random selection: ``(n - 1) N / (n (N - 1))``
in expectation, about 0.985 at n = 50, N = 200). The raw entropic potential at a large epsilon
keeps much less: its blur favours points near the cluster centre. The debiased potential
(candidates' self term subtracted, as the authors' geomloss call does) keeps more, but no
epsilon brings either score near random: measured, 0.65-0.76 at epsilon 0.005-2, against 0.98
for random (docs/proxy_references.md).

``python -m collapse_jax.proxy.one_step [--seeds S] [--epsilons ...] [--schedule ...]`` prints
the table quoted in docs/proxy_references.md; ``--schedule geomloss`` the rows of geomloss' own
loop (:func:`collapse_jax.core.transport.geomloss_potentials`, the authors' solver).
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from collapse_jax.core import _random, transport
from collapse_jax.core._types import Key
from collapse_jax.core._validate import check_int


class OneStep(NamedTuple):
    """Static sizes of one step."""

    candidates: int
    kept: int
    reference: int
    dim: int
    scale: float


def one_step_config(*, candidates: int = 200, kept: int = 50, reference: int = 200,
                    dim: int = 2, scale: float = 0.5) -> OneStep:
    fn = "one_step_config"
    candidates = check_int(fn, "candidates", candidates, 4)
    return OneStep(candidates, check_int(fn, "kept", kept, 2, candidates - 1),
                   check_int(fn, "reference", reference, 2), check_int(fn, "dim", dim, 1, 64),
                   float(scale))


def kept_spread(key: Key, cfg: OneStep, settings: transport.SinkhornSettings):
    """``(ratio of the score's kept set, ratio of a random kept set, converged)`` for one
    seed (the random set: the first ``kept`` candidates, which are i.i.d.)."""
    k1, k2 = jax.random.split(key)
    cand = cfg.scale * _random.normal(k1, (cfg.candidates, cfg.dim), jnp.result_type(float))
    ref = cfg.scale * _random.normal(k2, (cfg.reference, cfg.dim), jnp.result_type(float))
    scores, ok = transport.selection_scores(cand, ref, settings=settings)
    _, idx = jax.lax.top_k(-scores, cfg.kept)

    def spread(x):
        return jnp.sum(jnp.var(x, axis=0))

    total = spread(cand)
    return spread(cand[idx]) / total, spread(cand[:cfg.kept]) / total, ok


def measure(seeds: int, cfg: OneStep, settings: transport.SinkhornSettings, key: int = 0):
    """Means and standard errors over ``seeds``: ``{"score": (mean, se), "random": (mean,
    se), "converged": fraction}``."""
    keys = jax.random.split(jax.random.key(key), seeds)
    r, rr, ok = jax.jit(jax.vmap(lambda k: kept_spread(k, cfg, settings)))(keys)
    r, rr = np.asarray(r, float), np.asarray(rr, float)

    def ms(x):
        return float(np.mean(x)), float(np.std(x, ddof=1) / np.sqrt(len(x)))

    return {"score": ms(r), "random": ms(rr), "converged": float(np.mean(np.asarray(ok)))}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m collapse_jax.proxy.one_step",
                                description=__doc__.split("\n")[0])
    p.add_argument("--seeds", type=int, default=200)
    p.add_argument("--epsilons", type=float, nargs="+", default=[2.0, 0.25, 0.05, 0.005])
    p.add_argument("--iterations", type=int, default=1000)
    p.add_argument("--anneal", type=float, default=1e3,
                   help="epsilon-scaling start (multiple of epsilon) of the annealed rows")
    p.add_argument("--schedule", choices=("fixed", "geomloss", "both"), default="both",
                   help="fixed: the rows without and with annealing (--iterations each); "
                        "geomloss: geomloss' own loop (its epsilon schedule from the squared "
                        "diameter, one step per value, no stopping rule: the authors' "
                        "solver); both (default)")
    a = p.parse_args(argv)
    jax.config.update("jax_enable_x64", True)
    cfg = one_step_config()
    print(f"one step, N = {cfg.candidates} candidates, keep {cfg.kept}, reference "
          f"{cfg.reference} points, all from N(0, {cfg.scale:g}^2 I_{cfg.dim}); "
          f"{a.seeds} seeds, {a.iterations} Sinkhorn iterations")
    print(f"{'epsilon':>8} {'potential':>9} {'annealed':>8} {'kept spread':>18} "
          f"{'converged':>9} {'random':>16}")
    for eps in a.epsilons:
        for debias in (False, True):
            rows = [] if a.schedule == "geomloss" else [("fixed", 1.0), ("fixed", a.anneal)]
            rows += [] if a.schedule == "fixed" else [("geomloss", 1.0)]
            for schedule, anneal in rows:
                st = transport.sinkhorn_settings(
                    eps, a.iterations, 1e-3, 1.5 if anneal == 1.0 else 1.0, anneal=anneal,
                    decay=transport.anneal_decay(anneal),
                    debias=debias, schedule=schedule)
                t0 = time.perf_counter()
                m = measure(a.seeds, cfg, st)
                tag = "geomloss" if schedule == "geomloss" else "yes" if anneal > 1 else "no"
                print(f"{eps:8g} {'debiased' if debias else 'raw':>9} {tag:>8} "
                      f"{m['score'][0]:10.4f} +- {m['score'][1]:.4f} {m['converged']:9.2f} "
                      f"{m['random'][0]:8.4f} +- {m['random'][1]:.4f}  "
                      f"({time.perf_counter() - t0:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
