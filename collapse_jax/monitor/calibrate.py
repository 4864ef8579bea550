"""``python -m collapse_jax.monitor.calibrate``: measure the monitor's false-alarm rate at your sizes.

The early warning's threshold is calibrated on a model of the no-collapse null
(:mod:`collapse_jax.monitor.detect`). This command checks the calibration end to end: it
runs many simulated *bounded* Gaussian pipelines of the given features, samples per
generation and generations (:func:`collapse_jax.monitor.simulate.gaussian_loop`: refit on
all data so far without selection, or independent generations), passes each through the
monitor exactly as the command line does (:func:`collapse_jax.monitor.analyse`, bootstrap
SEs, the chosen null), and counts the pipelines in which collapse was detected. The verdict
is PASS when the nominal ``--false-alarm`` lies in the exact (Clopper-Pearson) interval of
the measured rate, FAIL otherwise. Exit 0 PASS, 1 FAIL, 2 bad input (one line), 3 internal
error (one line).
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from collapse_jax.core._errors import InvalidInput
from collapse_jax.monitor.cli import Parser, guarded

PROG = "collapse_jax.monitor.calibrate"
EXIT_PASS, EXIT_FAIL = 0, 1
FN = "calibrate"


def build_parser() -> argparse.ArgumentParser:
    p = Parser(
        prog=f"python -m {PROG}",
        description="Measure the monitor's false-alarm rate on simulated bounded pipelines "
                    "(no selection) of your sizes, through the monitor's own metrics and "
                    "early warning, against the nominal rate.",
        epilog="exit codes: 0 the nominal rate lies in the measured rate's interval; 1 it "
               "does not; 2 bad input (one line); 3 internal error (one line)",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--features", type=int, default=2, help="features per sample (1-512)")
    p.add_argument("--samples", type=int, default=200,
                   help="samples per generation (at least features + 2)")
    p.add_argument("--generations", type=int, default=10,
                   help="generations per pipeline, generation 0 included (3-1000)")
    p.add_argument("--pipelines", type=int, default=1000, help="simulated pipelines (10-10^6)")
    p.add_argument("--pipeline", choices=("accumulate", "iid"), default="accumulate",
                   help="the bounded pipeline simulated: refit on all data so far without "
                        "selection, or independent generations of one law")
    p.add_argument("--null", choices=("accumulate", "iid"), default="accumulate",
                   help="the monitor's --null")
    p.add_argument("--false-alarm", type=float, default=0.05,
                   help="the monitor's nominal --false-alarm, in (0, 0.5)")
    p.add_argument("--resamples", type=int, default=30,
                   help="the monitor's bootstrap resamples per generation (20-100000)")
    p.add_argument("--level", type=float, default=0.99,
                   help="confidence level of the measured rate's interval, in (0.5, 1)")
    p.add_argument("--seed", type=int, default=0, help="seed of the first pipeline")
    p.add_argument("--json", metavar="OUT", default=None, help="write the result as JSON")
    return p


def _check(args) -> None:
    from collapse_jax.core._validate import check_float, check_int

    check_int(FN, "features", args.features, 1, 512)
    check_int(FN, "samples", args.samples, args.features + 2, 10**6)
    check_int(FN, "generations", args.generations, 3, 1000)
    check_int(FN, "pipelines", args.pipelines, 10, 10**6)
    check_int(FN, "resamples", args.resamples, 20, 100000)
    check_int(FN, "seed", args.seed, 0, 2**62)
    check_float(FN, "false_alarm", args.false_alarm, 0.0, 0.5, lo_open=True, hi_open=True)
    check_float(FN, "level", args.level, 0.5, 1.0, lo_open=True, hi_open=True)
    if args.features * args.samples * args.generations > 5 * 10**7:
        raise InvalidInput(f"{FN}: features x samples x generations = "
                           f"{args.features * args.samples * args.generations} exceeds 5e7 "
                           "numbers per pipeline; use fewer samples or generations")
    if args.json:
        from collapse_jax.verdict.outputs import check_output_path

        check_output_path("--json", args.json, ("json",))


def verdict(alarms: int, pipelines: int, nominal: float, level: float = 0.99) -> dict:
    """PASS when ``nominal`` lies in the exact (Clopper-Pearson, :func:`collapse_jax.core.stats.
    proportion_ci`) ``level`` interval of ``alarms / pipelines``."""
    from collapse_jax.core.stats import proportion_ci

    rate = alarms / pipelines
    lo, hi = proportion_ci(alarms, pipelines, level)
    return {
        "verdict": "PASS" if lo <= nominal <= hi else "FAIL",
        "claim": "the monitor's false-alarm rate on bounded pipelines equals the nominal "
                 "--false-alarm (the nominal lies in the measured rate's exact interval)",
        "nominal": nominal,
        "rate": rate,
        "se": float(np.sqrt(rate * (1 - rate) / pipelines)),
        "ci": [lo, hi],
        "level": level,
        "alarms": alarms,
        "pipelines": pipelines,
    }


def measure(*, features: int, samples: int, generations: int, pipelines: int,
            pipeline: str = "accumulate", null: str = "accumulate", false_alarm: float = 0.05,
            resamples: int = 30, level: float = 0.99, seed: int = 0, progress=None) -> dict:
    """Run the simulated pipelines through :func:`analyse`; returns the JSON-ready result."""
    from collapse_jax.monitor.analysis import _versions, analyse
    from collapse_jax.monitor.simulate import gaussian_loop

    started = time.perf_counter()
    first = []
    for i in range(pipelines):
        g = gaussian_loop(pipeline, n=samples, dim=features, generations=generations,
                          seed=seed + i)
        r = analyse(g, false_alarm=false_alarm, kernel_metrics=False, resamples=resamples,
                    null=null)
        first.append(r["detected_at"])
        if progress is not None:
            progress(i + 1, pipelines, time.perf_counter() - started)
    at = [v for v in first if v is not None]
    return {
        **verdict(len(at), pipelines, false_alarm, level),
        "alarm_generations": {str(t): at.count(t) for t in sorted(set(at))},
        "configuration": {"features": features, "samples": samples,
                          "generations": generations, "pipeline": pipeline, "null": null,
                          "resamples": resamples, "seed": seed,
                          "simulator": "collapse_jax.monitor.simulate.gaussian_loop "
                                       "(seeds seed .. seed + pipelines - 1)",
                          "monitor": "analyse(kernel_metrics=False)"},
        "versions": _versions(),
        "elapsed_s": time.perf_counter() - started,
    }


def run(argv=None) -> int:
    args = build_parser().parse_args(argv)
    _check(args)
    print(f"{PROG}: {args.pipelines} {args.pipeline} pipelines of {args.generations} "
          f"generations x {args.samples} samples x {args.features} features, null "
          f"{args.null}, nominal {args.false_alarm}", file=sys.stderr, flush=True)
    step = max(1, args.pipelines // 10)

    def progress(i, total, elapsed):
        if i % step == 0 or i == total:
            print(f"  {i}/{total} pipelines, {elapsed:.1f} s, ~{elapsed * (total - i) / i:.0f} "
                  "s left", file=sys.stderr, flush=True)

    res = measure(features=args.features, samples=args.samples,
                  generations=args.generations, pipelines=args.pipelines,
                  pipeline=args.pipeline, null=args.null, false_alarm=args.false_alarm,
                  resamples=args.resamples, level=args.level, seed=args.seed,
                  progress=progress)
    res["configuration"]["command"] = ["python", "-m", PROG,
                                       *(sys.argv[1:] if argv is None else argv)]
    if args.json:
        from collapse_jax.verdict.files import atomic_write_text
        from collapse_jax.verdict.json_values import to_jsonable

        atomic_write_text(args.json, json.dumps(to_jsonable(res), indent=1, allow_nan=False))
    lo, hi = res["ci"]
    print(f"false-alarm rate {res['rate']:.4f} +- {res['se']:.4f} "
          f"({res['alarms']}/{res['pipelines']}; {res['level']:.0%} interval "
          f"[{lo:.4f}, {hi:.4f}]) against nominal {res['nominal']}: {res['verdict']}")
    return EXIT_PASS if res["verdict"] == "PASS" else EXIT_FAIL


def main(argv=None) -> int:
    return guarded(PROG, run, argv)


if __name__ == "__main__":
    sys.exit(main())
