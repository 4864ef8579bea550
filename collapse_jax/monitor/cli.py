"""``python -m collapse_jax.monitor``: detect collapse in recursive-generation data."""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys

from collapse_jax.core._errors import InvalidInput

PROG = "collapse_jax.monitor"
EXIT_HEALTHY, EXIT_COLLAPSE, EXIT_INPUT, EXIT_INTERNAL = 0, 1, 2, 3

CSV_COLUMNS = ("generation", "samples", "total_variance", "total_variance_se",
               "log_total_variance", "log_total_variance_se", "log_det", "log_det_se",
               "shrinkage", "effective_rank", "effective_rank_se", "vendi", "vendi_se",
               "beyond_2sigma", "beyond_2sigma_se", "beyond_3sigma", "beyond_3sigma_se",
               "precision", "precision_se", "recall", "recall_se", "coverage", "coverage_se")


class Parser(argparse.ArgumentParser):
    """argparse that raises :class:`InvalidInput` (one line, exit 2) instead of exiting."""

    def error(self, message):  # one line, exit 2, no usage dump
        raise InvalidInput(message)


def build_parser() -> argparse.ArgumentParser:
    p = Parser(
        prog=f"python -m {PROG}",
        description="Detect model collapse in the samples (or embeddings) of successive "
                    "generations of a recursive-training pipeline, classify the decay law of "
                    "their diversity (bounded, power, geometric) and set its rate beside the "
                    "theory.",
        epilog="exit codes: 0 no collapse detected; 1 collapse detected; 2 bad input (one "
               "line); 3 internal error (one line with the exception type)",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("path", metavar="PATH",
                   help=".npz with arrays gen_0, gen_1, ...; a directory of .npy files whose "
                        "names end in the generation number; or a .csv/.parquet table with a "
                        "'generation' column and one column per feature")
    p.add_argument("--alpha", type=float, default=None,
                   help="the pipeline's selection ratio in (0, 1), if known: sets the measured "
                        "rate beside psi(alpha, d_eff)")
    p.add_argument("--dim", type=int, default=None,
                   help="dimension d for the theory (default: participation ratio of the "
                        "reference covariance)")
    p.add_argument("--reference", metavar="REAL", default=None,
                   help="real samples (.npy, one-array .npz, .csv, .parquet) to measure "
                        "fidelity and coverage against (default: generation 0)")
    p.add_argument("--json", metavar="OUT", default=None, help="write the full result as JSON")
    p.add_argument("--plot", metavar="OUT", default=None,
                   help="write the figure (.png, .pdf, .svg, ...)")
    p.add_argument("--csv", metavar="OUT", default=None,
                   help="write the per-generation metrics as CSV")
    p.add_argument("--false-alarm", type=float, default=0.01,
                   help="probability of a false alarm over the whole run for a pipeline "
                        "that does not collapse")
    p.add_argument("--null", choices=("accumulate", "iid"), default="accumulate",
                   help="the no-collapse pipeline the alarm threshold is calibrated on: "
                        "'accumulate' (a bounded pipeline refitting on all data so far, whose "
                        "diversity wanders; the default), or 'iid' (independent generations "
                        "of one law: more power, excess alarms on accumulating pipelines)")
    p.add_argument("--key", type=int, default=0,
                   help="random key of the resampling, subsamples and threshold calibration")
    p.add_argument("--resamples", type=int, default=100,
                   help="bootstrap resamples per generation")
    p.add_argument("--knn-k", type=int, default=5, help="k of the k-NN precision/recall/coverage")
    p.add_argument("--knn-subsample", type=int, default=1000,
                   help="samples per generation (and of the reference) used by the k-NN metrics")
    p.add_argument("--rff-features", type=int, default=128,
                   help="random Fourier features of the Vendi-type score")
    p.add_argument("--law-level", type=float, default=0.01,
                   help="one-sided level of the test of a decay law against bounded")
    return p


def _outputs(args):
    from collapse_jax.verdict.outputs import PLOT_EXTENSIONS, check_output_path

    check_output_path("--json", args.json, ("json",))
    check_output_path("--plot", args.plot, PLOT_EXTENSIONS)
    check_output_path("--csv", args.csv, ("csv",))


def _csv_text(rows) -> str:
    buf = io.StringIO()
    cols = [c for c in CSV_COLUMNS if c in rows[0]]
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(cols)
    for r in rows:
        w.writerow([r[c] for c in cols])
    return buf.getvalue()


def _summary(res: dict) -> str:
    rows = res["generations"]
    lines = [f"generations: {len(rows)} ({rows[0]['samples']}..{rows[-1]['samples']} samples, "
             f"{res['reference']['features']} features); reference: {res['reference']['source']}"]
    lines.append(f"total variance: {rows[0]['total_variance']:.4g} -> "
                 f"{rows[-1]['total_variance']:.4g}")
    e = res["exponent"]
    rate = ""
    if e:
        name = "psi" if e["kind"] == "power" else "factor per generation"
        lo, hi = ("?" if v is None else f"{v:.4g}" for v in e["ci"])
        rate = f", {name} = {e['estimate']:.4g} (95% CI {lo} .. {hi})"
    lines.append(f"law: {res['law']}{rate}")
    th = res["theory"]
    if th:
        lines.append(f"theory: psi({th['alpha']:g}, d={th['dim']}) = {th['psi']:.4g}; "
                     f"replace factor {th['replace_factor']:.4g}; consistent: {th['consistent']}")
    det = res["detected_at"]
    fa = res["detection"]["false_alarm"]
    null = res["detection"]["null"]
    lines.append(f"collapse detected at generation {det} ({null} null, false-alarm rate {fa:g})"
                 if det is not None else
                 f"no collapse detected ({null} null, false-alarm rate {fa:g}, tested from "
                 f"generation {res['detection']['first_generation_tested']})")
    return "\n".join(lines)


def run(argv=None) -> int:
    args = build_parser().parse_args(argv)
    _outputs(args)
    from collapse_jax.monitor.analysis import analyse
    from collapse_jax.monitor.loaders import load_generations, load_reference

    gens = load_generations(args.path)
    ref = None if args.reference is None else load_reference(args.reference, gens.features)
    res = analyse(gens, ref, alpha=args.alpha, dim=args.dim, false_alarm=args.false_alarm,
                  key=args.key, resamples=args.resamples, knn_k=args.knn_k,
                  knn_subsample=args.knn_subsample, rff_features=args.rff_features,
                  law_level=args.law_level, reference_label=args.reference, null=args.null)
    res["configuration"]["command"] = ["python", "-m", PROG, *(sys.argv[1:] if argv is None
                                                               else argv)]
    from collapse_jax.verdict.files import atomic_write_text
    from collapse_jax.verdict.json_values import to_jsonable

    if args.json:
        atomic_write_text(args.json, json.dumps(to_jsonable(res), indent=1, allow_nan=False))
    if args.csv:
        atomic_write_text(args.csv, _csv_text(res["generations"]))
    if args.plot:
        from collapse_jax.monitor.figure import make_figure
        from collapse_jax.verdict.outputs import save_figure

        fig = make_figure(res)
        save_figure(fig, args.plot, dpi=120)
    print(_summary(res))
    return EXIT_COLLAPSE if res["collapse_detected"] else EXIT_HEALTHY


def guarded(prog: str, run_fn, argv=None) -> int:
    """``run_fn(argv)``'s exit code; bad input prints one line and returns 2, any other
    exception one line with its type and returns 3 (the monitor commands' contract)."""
    try:
        return run_fn(argv)
    except InvalidInput as exc:
        msg = str(exc).splitlines()[0] if str(exc) else repr(exc)
        print(f"{prog}: error: {msg}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # internal error: one line with the type
        msg = str(exc).splitlines()[0] if str(exc) else ""
        print(f"{prog}: internal error: {type(exc).__name__}: {msg}", file=sys.stderr)
        return EXIT_INTERNAL


def main(argv=None) -> int:
    return guarded(PROG, run, argv)
