"""Resumable parameter sweeps of the simulation kernels over a grid.

``python -m proofs_checks.sweep --out DIR --alpha 0.1 0.25 0.5 --offset 0 1 --n 200 400``
runs the cartesian grid of the power-law (Gaussian selection) kernel;
``python -m proofs_checks.sweep --kernel knowledge_center --out DIR --delta 0 0.5 1 --r 0.1 0.5``
runs the verifier-filtered retraining kernel over ``(delta, r, sigma, sigma_c, verify)``.
Every kernel of :mod:`collapse_jax.engine.registry` sweeps through the generic flags:
``python -m proofs_checks.sweep --kernel gaussian_refit --out DIR --set n=10,20 --set
estimator=mle,unbiased --config generations=50`` (``--set NAME=V1,V2,...``: a sweep axis over
a sweepable parameter; ``--config NAME=VALUE``: a keyword of the kernel's config builder).
One compile serves every point. Each finished point is written at once, atomically, as a CSV
in ``DIR/points/`` and recorded with its row count and sha256 in ``DIR/manifest.json``;
``DIR/config.json`` holds the run (flags, configuration, grid, versions, device).
``python -m proofs_checks.sweep --resume DIR`` continues an interrupted sweep (of either
kernel): it verifies every point file against the manifest, keeps the intact ones and
recomputes the missing, empty, truncated or altered ones. Each CSV holds the per-generation
mean and standard error over seeds of every metric (long format; pandas and xarray read it).

With ``--resume`` only the execution flags ``--batch-points``, ``--chunk-size`` and
``--devices`` may take new values (they change how the points run, not their numbers); any
other flag may be repeated only with the value stored in ``DIR/config.json``, so the original
command line works with ``--out DIR`` replaced by ``--resume DIR``. A differing flag is refused
(exit 2) with both values.

Exit codes: 0 the sweep is complete; 2 bad input (one line naming the flag or the damaged
file; checked before any computation); 3 internal error (one line, the traceback in the log
file it names); 130 interrupted by Ctrl-C (one line saying how many points are finished; every
finished point is kept, and ``--resume DIR`` continues).
"""

from __future__ import annotations

if __name__ == "__main__":  # the stored --help text, before the imports that bring JAX
    from proofs_checks._help import maybe_print_help

    maybe_print_help("sweep")

import argparse
import json
import math
import os
import shlex
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from collapse_jax.core._validate import InvalidInput
from collapse_jax.engine import registry
from collapse_jax.verdict.cli import _Parser, add_execution_flags
from collapse_jax.verdict.errors import (
    EXIT_INPUT,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_PASS,
    CheckError,
    input_error,
    internal_error,
)
from collapse_jax.verdict.watchdog import Watchdog, watchdog_timeout

PROG = "python -m proofs_checks.sweep"
KERNELS = registry.names()
#: The kernels with their own grid flags (``--alpha`` ... ``--design``); ``--set`` and
#: ``--config`` drive every kernel (these two included).
LEGACY_KERNELS = ("power_law", "knowledge_center")
#: ``kernel`` names recorded in ``config.json`` by each ``--kernel``.
KERNEL_NAMES = {k: registry.get(k).record_name for k in KERNELS}
#: Defaults of the flags of the two legacy kernels (``None`` on the parser, so that the
#: generic flags can tell whether one was given); ``--n``, ``--generations`` and
#: ``--paradigm`` resolve per kernel.
LEGACY_DEFAULTS = {"alpha": [0.25], "offset": [0.0], "fixed_scale": [1.0], "dim": 1,
                   "metric": "current-fit", "truth": "standard", "estimator": "mle",
                   "delta": [0.5], "r": [0.2], "sigma": [1.0], "sigma_c": [0.5], "verify": [1],
                   "p": 5, "n0": 20, "design": "block", "sampler": "rows",
                   "precision": "float64"}
LEGACY_FLAGS = (*LEGACY_DEFAULTS, "n", "generations", "paradigm")
#: The flags of a run of the generic flags (stored in ``config.json``).
GENERIC_FLAGS = ("kernel", "set", "config", "seeds", "silos", "key")
#: Flags that may change on ``--resume``: how the points run, not what they compute.
EXECUTION_FLAGS = ("batch_points", "chunk_size", "devices", "watchdog")
#: Keys of ``config.json`` that define the run (see :mod:`collapse_jax.engine.sweep`).
RECORD_KEYS = ("kernel", "cfg", "grid", "seeds", "silos", "key")
KEY_MAX = 2**63 - 1

EPILOG = "\n\n".join(textwrap.fill(t, 79) for t in (
    "with --resume DIR: only --batch-points, --chunk-size and --devices may take new values "
    "(execution, not results); every other flag may be repeated only with the value stored "
    "in DIR/config.json, so the original command works with --out DIR replaced by --resume "
    "DIR. Point files are verified against DIR/manifest.json (row count, sha256) and the "
    "missing, empty, truncated or altered ones are recomputed.",
    f"exit codes: {EXIT_PASS} the sweep is complete; {EXIT_INPUT} bad input (one line naming "
    "the flag or the damaged file; nothing computed); "
    f"{EXIT_INTERNAL} internal error (one line, traceback in the log file it names); "
    f"{EXIT_INTERRUPTED} interrupted (finished points are kept; --resume DIR continues)"))


def _kernels_help() -> str:
    """The registered kernels with their sweepable parameters and config keywords, with
    defaults (imports the kernel modules: 64-bit JAX first, as the sweep runs)."""
    from collapse_jax.engine import batch

    with batch.float64():
        return _kernels_lines()


def _kernels_lines() -> str:
    lines = [textwrap.fill("registered kernels (--kernel NAME), their --set parameters "
                           "(type, default) and --config keywords (default; None: derived "
                           "from the others):", 79)]
    for name in KERNELS:
        e = registry.get(name)
        defaults = e.param_defaults()
        sets = ", ".join(f"{k} ({t.__name__}, "
                         f"{'from the config' if defaults[k] is None else _show_value(t(defaults[k]))})"
                         for k, t in e.sweepable.items())
        conf = ", ".join(f"{k}={_show_value(d) if d is not None else 'None'}"
                         for k, (_, d) in e.config_fields().items())
        lines += [textwrap.fill(f"{name}: {e.doc}", 79, initial_indent="  ",
                                subsequent_indent="      "),
                  textwrap.fill(f"--set: {sets}", 79, initial_indent="    ",
                                subsequent_indent="      "),
                  textwrap.fill(f"--config: {conf}", 79, initial_indent="    ",
                                subsequent_indent="      ")]
    return "\n".join(lines)


class _CLIParser(_Parser):
    """The command's parser: ``--help`` ends with the registered kernels."""

    def format_help(self):
        return super().format_help().rstrip("\n") + "\n\n" + _kernels_help() + "\n"


class _StoredFlagsParser(_Parser):
    """Parses the flags stored in ``config.json``: an error raises instead of exiting."""

    def error(self, message):
        raise CheckError(message)


def build_parser(cls=_CLIParser):
    p = cls(prog=PROG, description=__doc__.split("\n")[0], epilog=EPILOG,
                formatter_class=argparse.RawDescriptionHelpFormatter)
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--out", metavar="DIR",
                       help="new results directory (created; an existing one must be empty)")
    where.add_argument("--resume", metavar="DIR",
                       help="continue the sweep stored in DIR (see below for the flags "
                            "allowed with it)")
    p.add_argument("--kernel", default="power_law", choices=KERNELS,
                   help="a registered kernel (listed below; default power_law)")
    k = p.add_argument_group("any kernel: grid and structure (power_law and knowledge_center "
                             "also take their own flags below, without these two)")
    k.add_argument("--set", nargs="+", action="extend", default=None,
                   metavar="NAME=V1,V2,...",
                   help="a sweep axis: a sweepable parameter of the kernel and its "
                        "comma-separated values; repeatable (default: each parameter at its "
                        "default value)")
    k.add_argument("--config", nargs="+", action="extend", default=None,
                   metavar="NAME=VALUE",
                   help="a keyword of the kernel's config builder (static structure; a tuple "
                        "takes comma-separated values); repeatable (default: the builder's "
                        "defaults, buffer sizes fitted to the --set values)")
    g = p.add_argument_group("power_law grid (lists) and structure")
    g.add_argument("--alpha", type=float, nargs="+", default=None,
                   help="kept fractions, in (0, 1] (default 0.25)")
    g.add_argument("--offset", type=float, nargs="+", default=None,
                   help="silo bias of the reference in standard deviations, >= 0 "
                        "(default 0)")
    g.add_argument("--fixed-scale", type=float, nargs="+", default=None,
                   help="scale c of the fixed metric, > 0 (default 1)")
    g.add_argument("--dim", type=int, default=None, help="dimension, >= 1 (default 1)")
    g.add_argument("--metric", default=None, choices=("current-fit", "fixed",
                                                                "euclidean"),
                   help="selection metric (default current-fit)")
    g.add_argument("--truth", default=None, choices=("standard", "random"),
                   help="true covariance (default standard)")
    g.add_argument("--estimator", default=None, choices=("mle", "unbiased"),
                   help="covariance estimator (default mle)")
    v = p.add_argument_group("knowledge_center grid (lists) and structure")
    v.add_argument("--delta", type=float, nargs="+", default=None,
                   help="verifier bias, >= 0 (default 0.5)")
    v.add_argument("--r", type=float, nargs="+", default=None,
                   help="verifier radius, >= 0 (default 0.2)")
    v.add_argument("--sigma", type=float, nargs="+", default=None,
                   help="label noise, > 0 (default 1)")
    v.add_argument("--sigma-c", type=float, nargs="+", default=None,
                   help="verifier noise, >= 0 (default 0.5)")
    v.add_argument("--verify", type=int, nargs="+", default=None, choices=(0, 1),
                   help="1 with the verifier, 0 without; '1 0' sweeps both (default 1)")
    v.add_argument("--p", type=int, default=None, help="coefficients (default 5)")
    v.add_argument("--n0", type=int, default=None, help="real rows (default 20)")
    v.add_argument("--design", default=None, choices=("block", "isotropic"),
                   help="synthetic design (default block)")
    v.add_argument("--sampler", default=None, choices=("rows", "sufficient"),
                   help="block-design rounds: rows draws every row (exact); sufficient draws "
                        "per direction the accepted count (binomial) and accepted-noise sum "
                        "(normal, exact mean and variance), 2 p draws per round (default rows)")
    c = p.add_argument_group("common")
    c.add_argument("--n", type=int, nargs="+", default=None,
                   help="power_law: kept points per generation, a list (default 200); "
                        "knowledge_center: synthetic rows per direction, one value "
                        "(default 2000)")
    c.add_argument("--generations", "--rounds", dest="generations", type=int, default=None,
                   help="generations (power_law, default 200) or rounds (knowledge_center, "
                        "default 30)")
    c.add_argument("--paradigm", default=None,
                   choices=("accumulate", "replace", "accumulate-subsample"),
                   help="power_law: accumulate (default), replace, accumulate-subsample; "
                        "knowledge_center: replace (default) or accumulate")
    c.add_argument("--precision", default=None, choices=("float64", "float32"),
                   help="floating-point precision of the fit (default float64)")
    c.add_argument("--seeds", type=int, default=1000,
                   help="Monte Carlo seeds per point, >= 2 (default 1000)")
    c.add_argument("--silos", type=int, default=1, help="silos per seed, >= 1 (default 1)")
    c.add_argument("--key", type=int, default=0, help="PRNG seed, 0 .. 2**63 - 1 (default 0)")
    e = p.add_argument_group("execution (may change on --resume; the numbers do not)")
    e.add_argument("--batch-points", type=int, default=8,
                   help="grid points vmapped together, one compile for all batches "
                        "(default 8)")
    add_execution_flags(e, "default: all seeds at once")
    p.kernel_groups = {"power_law": g, "knowledge_center": v}
    return p


def kernel_only_flags() -> dict[str, tuple[str, ...]]:
    """The flags of one legacy kernel only, by kernel: the destinations of its argument group
    in :func:`build_parser` (a run of the other kernel rejects them)."""
    return {kernel: tuple(action.dest for action in group._group_actions)
            for kernel, group in build_parser().kernel_groups.items()}


def _given(argv) -> dict:
    """The flags written on the command line (not their defaults), by destination."""
    q = build_parser()
    for action in q._actions:
        action.default = argparse.SUPPRESS
    return vars(q.parse_args(argv))


def _defaults() -> dict:
    return {a.dest: a.default for a in build_parser()._actions if a.dest != "help"}


def _flag(dest: str) -> str:
    return "--" + dest.replace("_", "-")


def _show(v) -> str:
    return " ".join(map(str, v)) if isinstance(v, list) else str(v)


def _check_lists(checks) -> None:
    for flag, vals, ok, allowed in checks:
        for v in vals:
            if not ok(v):
                raise CheckError(f"{flag}={v!r} is invalid: allowed {allowed}")


def _power_law_settings(a) -> tuple[dict, dict]:
    a.n = [200] if a.n is None else a.n
    a.generations = 200 if a.generations is None else a.generations
    a.paradigm = a.paradigm or "accumulate"
    if a.dim < 1:
        raise CheckError(f"--dim={a.dim!r} is invalid: allowed >= 1")
    _check_lists((
        ("--alpha", a.alpha, lambda v: 0 < v <= 1, "(0, 1]"),
        ("--n", a.n, lambda v: v >= a.dim + 1, f">= dim + 1 = {a.dim + 1}"),
        ("--offset", a.offset, lambda v: v >= 0 and math.isfinite(v), ">= 0"),
        ("--fixed-scale", a.fixed_scale, lambda v: v > 0 and math.isfinite(v), "> 0")))
    from collapse_jax.power_law.kernel import selection_config

    cfg = selection_config(dim=a.dim, n=max(a.n), n_max=max(a.n), alpha=max(a.alpha),
                           alpha_min=min(a.alpha), generations=a.generations,
                           paradigm=a.paradigm, metric=a.metric, truth=a.truth,
                           estimator=a.estimator, precision=a.precision)
    grid = {"alpha": a.alpha, "n": [float(v) for v in a.n], "offset": a.offset,
            "fixed_scale": a.fixed_scale}
    return cfg._asdict(), grid


def _knowledge_center_settings(a) -> tuple[dict, dict]:
    a.n = [2000] if a.n is None else a.n
    if len(a.n) != 1:
        raise CheckError(f"--n={a.n!r} is invalid: allowed one value for --kernel "
                         "knowledge_center (rows per direction are static structure)")
    if a.paradigm not in (None, "replace", "accumulate"):
        raise CheckError(f"--paradigm={a.paradigm!r} is invalid: allowed replace or "
                         "accumulate for --kernel knowledge_center")
    a.paradigm = a.paradigm or "replace"
    a.generations = 30 if a.generations is None else a.generations
    _check_lists((
        ("--delta", a.delta, lambda v: v >= 0 and math.isfinite(v), ">= 0"),
        ("--r", a.r, lambda v: v >= 0 and math.isfinite(v), ">= 0"),
        ("--sigma", a.sigma, lambda v: v > 0 and math.isfinite(v), "> 0"),
        ("--sigma-c", a.sigma_c, lambda v: v >= 0 and math.isfinite(v), ">= 0")))
    from collapse_jax.knowledge_center.kernel import verifier_config

    cfg = verifier_config(p=a.p, n0=a.n0, n=a.n[0], rounds=a.generations, design=a.design,
                          paradigm=a.paradigm, precision=a.precision, sampler=a.sampler)
    grid = {"delta": a.delta, "r": a.r, "sigma": a.sigma, "sigma_c": a.sigma_c,
            "verify": [float(v) for v in a.verify]}
    return cfg._asdict(), grid


def _generic(a) -> bool:
    """Whether ``a`` runs through ``--set`` / ``--config`` (every kernel but the two legacy
    ones without those flags)."""
    return a.kernel not in LEGACY_KERNELS or a.set is not None or a.config is not None


def _parse_value(flag: str, name: str, text: str, kind: type):
    where = f"{flag} {name}={text} is invalid"
    if kind is bool:
        low = text.strip().lower()
        if low not in ("true", "false", "1", "0"):
            raise CheckError(f"{where}: {text!r} is not a bool; allowed true, false, 1, 0")
        return low in ("true", "1")
    if kind in (int, float):
        try:
            v = kind(text)
        except ValueError:
            raise CheckError(f"{where}: {text!r} is not {'an int' if kind is int else 'a float'}"
                             ) from None
        if kind is float and math.isnan(v):
            raise CheckError(f"{where}: nan is not allowed")
        return v
    if not text:
        raise CheckError(f"{where}: empty value")
    return text


def _show_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, tuple):
        return ",".join(map(_show_value, v))
    return str(v)


def _parse_pairs(flag: str, items, kinds: dict, kernel: str, axes: bool) -> dict:
    """``{name: values}`` (``axes``: lists, one per ``--set``) or ``{name: value}``
    (``--config``; a tuple keyword takes comma-separated values), validated against
    ``kinds`` (``{name: type}``); in the order of ``kinds``."""
    what = "sweepable parameter" if axes else "config keyword"
    out = {}
    for item in items:
        name, eq, text = item.partition("=")
        if not eq or not name:
            raise CheckError(f"{flag} {item} is invalid: allowed NAME="
                             f"{'V1,V2,...' if axes else 'VALUE'}")
        if name not in kinds:
            raise CheckError(f"{flag} {item} is invalid: {name!r} is not a {what} of --kernel "
                             f"{kernel}; allowed {', '.join(kinds)}")
        if name in out:
            raise CheckError(f"{flag} {item} is invalid: {name} is given twice")
        kind = kinds[name]
        if axes or kind is tuple:
            vals = [_parse_value(flag, name, t, str if kind is tuple else kind)
                    for t in text.split(",")]
            out[name] = vals if axes else tuple(vals)
        else:
            out[name] = _parse_value(flag, name, text, kind)
    return {k: out[k] for k in kinds if k in out}


def _canonical(pairs: dict) -> list[str] | None:
    """The stored (and compared) form of parsed ``--set`` / ``--config`` values."""
    return [f"{k}={','.join(map(_show_value, v)) if isinstance(v, list) else _show_value(v)}"
            for k, v in pairs.items()] or None


def _generic_parts(a, entry) -> tuple[dict, dict]:
    sets = _parse_pairs("--set", a.set or [], entry.sweepable, a.kernel, True)
    fields = entry.config_fields()
    conf = _parse_pairs("--config", a.config or [], {k: t for k, (t, _) in fields.items()},
                        a.kernel, False)
    return sets, conf


def _generic_settings(a) -> tuple[dict, dict]:
    """The configuration and grid of a ``--set`` / ``--config`` run (canonicalising those
    two flags in place)."""
    given = [_flag(k) for k in LEGACY_FLAGS if getattr(a, k) is not None]
    if given:
        raise CheckError(f"{given[0]} is invalid with --kernel {a.kernel} and --set/--config: "
                         "allowed only with --kernel power_law or knowledge_center without "
                         "--set/--config; give static structure as --config NAME=VALUE and "
                         "sweep axes as --set NAME=V1,V2,...")
    entry = registry.get(a.kernel)
    sets, conf = _generic_parts(a, entry)
    defaults = entry.param_defaults()
    grid = {}
    for k, kind in entry.sweepable.items():
        if k in sets:
            grid[k] = sets[k]
        elif defaults[k] is not None:
            grid[k] = [kind(defaults[k])]
    try:
        cfg = entry.build_config(grid, **conf)
    except InvalidInput as e:
        raise CheckError(f"--config is invalid for --kernel {a.kernel}: {e}") from None
    try:
        entry.params(cfg, **grid)  # validates every value before anything runs
    except InvalidInput as e:
        raise CheckError(f"--set is invalid for --kernel {a.kernel}: {e}") from None
    a.set, a.config = _canonical(sets), _canonical(conf)
    return cfg._asdict(), grid


def _build(a) -> dict:
    """Validate the run-defining flags of ``a`` (resolving defaults in place); the record
    :func:`collapse_jax.engine.sweep.run_grid` stores, plus the resolved flags."""
    if a.kernel not in KERNELS:
        raise CheckError(f"--kernel={a.kernel!r} is invalid: allowed {', '.join(KERNELS)}")
    for flag, v, lo in (("--seeds", a.seeds, 2), ("--silos", a.silos, 1),
                        ("--generations", a.generations, 2)):
        if v is not None and v < lo:
            raise CheckError(f"{flag}={v!r} is invalid: allowed >= {lo}")
    if not 0 <= a.key <= KEY_MAX:
        raise CheckError(f"--key={a.key!r} is invalid: allowed 0 .. 2**63 - 1")
    if _generic(a):
        cfg, grid = _generic_settings(a)
        flags = {k: getattr(a, k) for k in GENERIC_FLAGS}
    else:
        for k, v in LEGACY_DEFAULTS.items():
            if getattr(a, k) is None:
                setattr(a, k, list(v) if isinstance(v, list) else v)
        build = _power_law_settings if a.kernel == "power_law" else _knowledge_center_settings
        cfg, grid = build(a)
        flags = {k: v for k, v in vars(a).items()
                 if k not in ("out", "resume", "set", "config", *EXECUTION_FLAGS)}
    return {"kernel": KERNEL_NAMES[a.kernel], "entry": a.kernel, "cfg": cfg, "grid": grid,
            "seeds": a.seeds, "silos": a.silos, "key": a.key, "flags": flags}


def _check_execution(a) -> None:
    import jax

    if a.batch_points < 1:
        raise CheckError(f"--batch-points={a.batch_points!r} is invalid: allowed >= 1")
    if a.chunk_size is not None and a.chunk_size < 1:
        raise CheckError(f"--chunk-size={a.chunk_size!r} is invalid: allowed >= 1")
    if a.devices is not None and not 1 <= a.devices <= jax.device_count():
        raise CheckError(f"--devices={a.devices!r} is invalid: allowed 1 .. "
                         f"{jax.device_count()} (devices visible to JAX)")


def _writable(flag: str, d: Path) -> None:
    """Create ``d`` (and its parents) and write a probe file there, or raise one line."""
    try:
        d.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=d):
            pass
    except OSError as e:
        raise CheckError(f"{flag}={str(d)!r} is invalid: cannot write there "
                         f"({e.strerror or e})") from None


def _reject_other_kernels_flags(a) -> None:
    """A flag of the other legacy kernel's group, given on the command line, is an error (a
    stored run resolves every legacy default, so only a new run checks this)."""
    if a.kernel not in LEGACY_KERNELS or _generic(a):
        return
    owner = "knowledge_center" if a.kernel == "power_law" else "power_law"
    stray = [_flag(k) for k in kernel_only_flags()[owner] if getattr(a, k) is not None]
    if stray:
        raise CheckError(f"{', '.join(stray)} {'is' if len(stray) == 1 else 'are'} invalid "
                         f"with --kernel {a.kernel}: allowed with --kernel {owner}")


def _new_run(a, primary: bool = True) -> dict:
    _reject_other_kernels_flags(a)
    s = _build(a)
    if not primary:  # process 0 checks and creates the folder; the others never write
        return {**s, "out": a.out}
    out = Path(a.out)
    if out.exists() and not out.is_dir():
        raise CheckError(f"--out={a.out!r} is invalid: it is a file; allowed a new or empty "
                         "directory")
    if out.is_dir() and any(out.iterdir()):
        raise CheckError(f"--out={a.out!r} is invalid: allowed a new or empty directory "
                         "(use --resume to continue a sweep)")
    _writable("--out", out)
    return {**s, "out": a.out}


def _load_config(d: str) -> tuple[dict, Path]:
    where = f"--resume={d!r} is invalid"
    path = Path(d)
    if not path.exists():
        raise CheckError(f"{where}: no such directory; allowed a sweep directory made by --out")
    if not path.is_dir():
        raise CheckError(f"{where}: it is a file; allowed a sweep directory made by --out")
    cfg_path = path / "config.json"
    if not cfg_path.is_file():
        raise CheckError(f"{where}: not a sweep (no config.json there); allowed a directory "
                         "made by --out")
    try:
        meta = json.loads(cfg_path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckError(f"{where}: {cfg_path} is corrupt ({e}); start again with --out") \
            from None
    if not isinstance(meta, dict):
        raise CheckError(f"{where}: {cfg_path} is corrupt (not a JSON object); start again "
                         "with --out")
    missing = [k for k in RECORD_KEYS if k not in meta]
    if missing:
        raise CheckError(f"{where}: {cfg_path} is incomplete (missing "
                         f"{', '.join(map(repr, missing))}); start again with --out")
    return meta, cfg_path


def _resumed_run(a, given: dict) -> dict:
    from collapse_jax.engine.sweep import without_added_defaults

    meta, cfg_path = _load_config(a.resume)
    where = f"--resume={a.resume!r} is invalid: {cfg_path}"
    stored = meta.get("flags")
    if stored is not None:  # written by this command: rebuild the run from its flags
        if not isinstance(stored, dict) or set(stored) - set(_defaults()):
            raise CheckError(f"{where} is corrupt (unknown stored flags); start again with "
                             "--out")
        try:  # the stored values pass the same parser as a command line
            ns = build_parser(_StoredFlagsParser).parse_args(_as_argv(stored, a.resume))
        except CheckError as e:
            raise CheckError(f"{where} is corrupt (stored flags: {e}); start again with --out") \
                from None
        try:
            s = _build(ns)
        except InvalidInput as e:
            raise CheckError(f"{where} holds a run that is refused now ({e})") from None
        bad = [k for k in (*RECORD_KEYS, "flags")
               if without_added_defaults(json.loads(json.dumps(s[k])), meta[k]) != meta[k]]
        if bad:
            raise CheckError(f"{where} is inconsistent: its {', '.join(bad)} differ from what "
                             "its stored flags give (edited by hand?); start again with --out")
        comparable = s["flags"]
        if "set" in given or "config" in given:  # compare in the stored (canonical) form
            given = dict(given)
            try:
                sets, conf = _generic_parts(argparse.Namespace(
                    kernel=s["entry"], set=given.get("set"), config=given.get("config")),
                    registry.get(s["entry"]))
                given.update({k: v for k, v in (("set", _canonical(sets)),
                                                ("config", _canonical(conf))) if k in given})
            except CheckError:
                pass  # kept as given: it differs from the stored values
    else:  # written from Python by collapse_jax.engine.sweep.run_grid
        s = _record_run(meta, where)
        comparable = {k: s[k] for k in ("seeds", "silos", "key")} | {"kernel": s["cli"]}
    diffs, unknown = [], []
    for k, v in given.items():
        if k in ("out", "resume", *EXECUTION_FLAGS):
            continue
        if k not in comparable:
            if s["flags"] is None:
                unknown.append(_flag(k))
            else:  # a flag the stored run did not use
                diffs.append(f"{_flag(k)} {_show(v)} (stored none)")
        elif json.loads(json.dumps(v)) != comparable[k]:
            diffs.append(f"{_flag(k)} {_show(v)} (stored {_show(comparable[k])})")
    if diffs:
        raise CheckError(f"--resume={a.resume!r} is invalid with flags that differ from the "
                         f"stored run: {'; '.join(diffs)}; with --resume only --batch-points, "
                         "--chunk-size and --devices may change")
    if unknown:
        raise CheckError(f"--resume={a.resume!r} is invalid with {', '.join(unknown)}: "
                         f"{cfg_path} stores no flags to check them against (made from "
                         "Python); give only --resume DIR and execution flags")
    _writable("--resume", Path(a.resume) / "points")
    return {**s, "out": a.resume}


def _as_argv(flags: dict, resume: str) -> list[str]:
    argv = ["--resume", resume]
    for k, v in flags.items():
        if v is not None:
            argv += [_flag(k), *(repr(x) if isinstance(x, float) else str(x)
                                 for x in (v if isinstance(v, list) else [v]))]
    return argv


def _record_run(meta: dict, where: str) -> dict:
    """Check a ``config.json`` made by :func:`collapse_jax.engine.sweep.run_grid` from Python."""
    entry = registry.by_record_name(meta["kernel"]) if isinstance(meta["kernel"], str) else None
    if entry is None:
        raise CheckError(f"{where}: its kernel {meta['kernel']!r} is not one of "
                         f"{', '.join(KERNEL_NAMES.values())}")
    import inspect

    cli, make_params = entry.name, entry.params
    ref = json.loads(json.dumps(entry.build_config()._asdict()))
    cfg, grid = meta["cfg"], meta["grid"]
    names = set(inspect.signature(make_params).parameters) - {"cfg"}
    if not (isinstance(cfg, dict) and set(cfg) == set(ref)
            and all(type(cfg[k]) is type(ref[k]) for k in ref)):
        raise CheckError(f"{where} is corrupt ('cfg' does not match the fields of "
                         f"{meta['kernel']}'s configuration)")

    def number(x):  # or a string (refit_params' estimator)
        return isinstance(x, str) or (isinstance(x, (int, float)) and not isinstance(x, bool)
                                      and not math.isnan(x))

    if not (isinstance(grid, dict) and grid and set(grid) <= names
            and all(isinstance(v, list) and v and all(map(number, v)) for v in grid.values())):
        raise CheckError(f"{where} is corrupt ('grid' must map parameters of "
                         f"{make_params.__name__} to non-empty lists of numbers)")
    for k, lo, hi in (("seeds", 2, None), ("silos", 1, None), ("key", 0, KEY_MAX)):
        v = meta[k]
        if not (isinstance(v, int) and not isinstance(v, bool) and v >= lo
                and (hi is None or v <= hi)):
            raise CheckError(f"{where} is corrupt ({k}={v!r})")
    return {"kernel": meta["kernel"], "cli": cli, "entry": cli, "cfg": cfg, "grid": grid,
            "seeds": meta["seeds"], "silos": meta["silos"], "key": meta["key"], "flags": None}


def _kernel(name: str, cfg_dict: dict):
    """``(kernel, cfg, make_params)`` of a sweep, by registry name (the config rebuilt from
    its recorded dict)."""
    entry = registry.get(name)
    cfg = entry.config_from_dict(cfg_dict)
    return entry.kernel, cfg, entry.make_params(cfg)


def _show_progress(done: int, total: int, rate: float, elapsed: float, tty: bool) -> None:
    """The points bar (after every batch); silent when stderr is not a terminal."""
    if tty:
        print(f"\r  points {done}/{total}  {rate:.2f} points/s  {elapsed:6.1f}s", end="",
              file=sys.stderr, flush=True)


def _run(a, argv, t0: float, tty: bool, started: dict) -> int:
    import jax

    from collapse_jax.engine import batch, sweep
    from collapse_jax.verdict import cache

    cache.enable(getattr(a, "compile_cache", None), jax, "python -m proofs_checks.sweep")
    batch.maybe_initialize_distributed()
    if not batch.is_primary():  # several processes: process 0 alone prints (and writes)
        sys.stdout = open(os.devnull, "w")  # for the rest of this process
        tty = False
    with batch.float64():  # for this run only: the caller's jax_enable_x64 is left as it was
        return _run_float64(a, argv, t0, tty, started, jax, batch, sweep)


def _run_float64(a, argv, t0, tty, started, jax, batch, sweep) -> int:
    _check_execution(a)
    try:
        s = _resumed_run(a, _given(argv)) if a.resume else _new_run(a, batch.is_primary())
    except CheckError:
        batch.agree(False)  # the other processes stop too, instead of waiting for this one
        raise
    if not batch.agree(True):
        raise CheckError("another process of this run refused its input (its message names "
                         "the flag); nothing was computed")
    kernel, cfg, make_params = _kernel(s["entry"], s["cfg"])

    timeout = watchdog_timeout(a)

    def progress(done, total, rate):
        dog.set_stage(f"points {done} of {total} done")
        if batch.is_primary():
            _show_progress(done, total, rate, time.perf_counter() - t0, tty)

    started["out"] = s["out"]
    options = batch.Options(devices=a.devices, chunk_size=a.chunk_size).checked(PROG)
    with Watchdog(PROG, "sweep", timeout) as dog:
        dog.set_stage("first batch of points")
        res = sweep.run_grid(kernel, s["key"], cfg, make_params, s["grid"], seeds=s["seeds"],
                             silos=s["silos"], out_dir=s["out"], batch_points=a.batch_points,
                             kernel_name=s["kernel"], progress=progress,
                             extra={"flags": s["flags"]} if s["flags"] else None,
                             options=options)
    if tty:
        print(file=sys.stderr)
    fixed = res["recomputed"]
    if fixed:
        named = [f"{sweep.point_name(i)} {why}" for i, why in sorted(fixed.items())[:3]]
        note = (f", {len(fixed)} of them recomputed after damage: {', '.join(named)}"
                f"{', ...' if len(fixed) > 3 else ''}")
    else:
        note = ", 0 recomputed after damage"
    print(f"{len(res['done'])}/{res['total']} points in {s['out']} ({len(res['computed'])} "
          f"computed now{note}; {time.perf_counter() - t0:.1f}s)")
    return EXIT_PASS


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    a = build_parser().parse_args(argv)
    t0 = time.perf_counter()
    tty = sys.stderr.isatty()
    started: dict = {}
    try:
        return _run(a, argv, t0, tty, started)
    except KeyboardInterrupt as e:
        if tty:
            print(file=sys.stderr)
        if hasattr(e, "done"):
            print(f"{PROG}: interrupted after {e.done} of {e.total} points; resume with "
                  f"--resume {shlex.quote(e.out_dir)}", file=sys.stderr)
        elif started:  # a second Ctrl-C while the manifest was being saved
            print(f"{PROG}: interrupted; finished points are kept; resume with --resume "
                  f"{shlex.quote(started['out'])}", file=sys.stderr)
        else:
            print(f"{PROG}: interrupted before the sweep started; nothing was computed",
                  file=sys.stderr)
        return EXIT_INTERRUPTED
    except InvalidInput as e:
        return input_error(PROG, e)
    except Exception as e:  # noqa: BLE001 - every other failure is an internal error
        return internal_error(PROG, "sweep", e)


if __name__ == "__main__":
    sys.exit(main())
