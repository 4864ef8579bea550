"""Time every kernel and every check on the machine's default JAX backend (a GPU or TPU when one
is there), beside baselines measured in the same run, and write the rows as JSON.

Prepared and tested on CPU; meant to be run once where an accelerator is lent:

    python benchmarks/accelerator.py --json docs/benchmarks_gpu.json [--budget-s 480]
    python benchmarks/accelerator.py --table docs/benchmarks_gpu.json   # the README table

Each stage is its own child process with a time limit (the smaller of its own cap and what is
left of ``--budget-s``), so a stage that fails or runs long costs only itself: its row records
the exit status, the wall time and the last line of its error, and the run goes on. The JSON
is rewritten atomically after every stage, so whatever ran is kept even if the machine is taken
away. Stages, most informative first:

* ``env``: JAX version, devices, ``nvidia-smi`` when present, CPU count;
* ``kernels``: ``benchmarks/kernels.py`` on the default backend at ``--seeds-factor`` times
  each check's seeds (an accelerator wants more work per call), with the numpy per-seed loop
  (on this machine's CPU, scaled linearly) and the ``jax.random.normal`` roofline on the same
  device: ``x_numpy`` and ``x_roofline``;
* one stage per check (``check:NAME``): the default run of every ``proofs_checks`` command,
  the power-law preset, and the main check at 100 times its seeds, with wall time, exit status,
  the check's own compile / run split, and its passed / failed counts;
* ``kernels_cpu``: the same kernels with ``JAX_PLATFORMS=cpu`` on this machine's cores (no
  numpy loop): the same run's CPU baseline of each kernel, so ``x_cpu = cpu run_s / run_s``;
* ``preset_speed``: ``benchmarks/power_law_speed.py --preset`` (the authors' Gaussian
  configuration against their own numpy loop);
* ``scale``: ``kernels.py --scale`` for the power-law kernel up to ``--max-seeds``;
* ``vae_yi_mnist`` (only with ``--mnist PATH``, a local MNIST file: nothing is downloaded):
  ``proofs_checks.vae_verification --preset yi-mnist``, Yi et al.'s sizes (issue 16's timing).
  Two refusals are answered by a second attempt instead of ending the stage: a file whose real
  pool is smaller than the preset's 8400 verifier images (the 10000-image MNIST test file
  keeps 8000 after the held-out split) runs the preset's sizes spelled out with
  ``--strong-size`` at the pool, and a memory refusal reruns with the ``--chunk-size`` it
  names. The row lists every attempt and each difference from the preset;
* ``vae_yi_mnist_conv`` (with ``--mnist PATH``): the same with Yi et al.'s convolutional CVAE
  and discriminator network on their 28x28 images (``--arch conv --downsample 1
  --discriminator yi``), the closest this check comes to their pipeline; its rehearsal
  (``--quick``) pools to 4x4 so that it runs on 2 CPU cores;
* ``vae_yi_mnist_epochs`` (with ``--mnist PATH``): the preset trained by the authors' rule
  instead of fixed steps (``--epochs 200 --verifier-epochs 80``: shuffled epochs, early
  stopping after 5 without a lower training loss); its rehearsal caps the epochs at 3 and 2.

``--quick`` runs the checks with ``--quick`` and every kernel at its default seeds with a
tenth of the numpy loop: the CPU rehearsal (tests/benchmarks/test_accelerator.py runs a part).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

#: The check stages: (name, argv after ``python -m``, cap in seconds). With ``--quick`` each
#: runs its own ``--quick`` (the 100x run: 2000 seeds, 50 generations).
CHECKS = [
    ("power_law", ["proofs_checks.power_law"], 240),
    ("power_law_preset", ["proofs_checks.power_law", "--preset", "qiao-gaussian"], 300),
    ("power_law_100x", ["proofs_checks.power_law", "--seeds", "100000"], 240),
    ("knowledge_center", ["proofs_checks.knowledge_center"], 240),
    ("gaussian_refit", ["proofs_checks.gaussian_refit"], 180),
    ("regression_paradigms", ["proofs_checks.regression_paradigms"], 180),
    ("real_mixing", ["proofs_checks.real_mixing"], 180),
    ("non_gaussian", ["proofs_checks.non_gaussian"], 300),
    ("vae_verification", ["proofs_checks.vae_verification"], 240),
    ("proxy_references", ["proofs_checks.proxy_references"], 200),
]
STAGES = ["env", "kernels", *[f"check:{c[0]}" for c in CHECKS], "kernels_cpu", "preset_speed",
          "scale", "vae_yi_mnist", "vae_yi_mnist_conv", "vae_yi_mnist_epochs"]

#: ``--preset yi-mnist`` spelled out (collapse_jax.vae.check.YI_MNIST; the likelihood and the
#: verifier kind are the check's defaults, bernoulli and discriminator), for a data file too
#: small for the preset's verifier set. A copy, not an import: this process imports neither
#: JAX nor the package (on the GPU it ran with neither on its path; the checks run as child
#: processes), and tests/benchmarks/test_accelerator.py parses it against YI_MNIST. The CPU
#: rehearsal (``--quick``) shrinks the costly sizes and keeps the verifier's 8400, so that it
#: meets the refusal on a small file too.
YI_MNIST_FLAGS = ["--latent", "20", "--n-real", "500", "--n-keep", "30000", "--rounds", "20",
                  "--steps", "7000", "--batch", "128", "--lr", "1e-3", "--keep", "0.1",
                  "--n-eval", "6000", "--strong-size", "8400"]
YI_MNIST_QUICK = {"--n-keep": "200", "--rounds": "4", "--steps": "20", "--n-eval": "200",
                  "--n-real": "100"}
#: The ``vae_yi_mnist_conv`` stage's flags on top of the preset: the authors' generator,
#: discriminator network and image size; with ``--quick`` 4x4 images (pooled by 7), which
#: the same network takes.
YI_MNIST_CONV = ["--arch", "conv", "--downsample", "1", "--discriminator", "yi"]
YI_MNIST_CONV_QUICK = ["--arch", "conv", "--downsample", "7", "--discriminator", "yi"]
#: The ``vae_yi_mnist_epochs`` stage's flags on top of the preset: the authors' training rule.
YI_MNIST_EPOCHS = ["--epochs", "200", "--verifier-epochs", "80", "--patience", "5"]
YI_MNIST_EPOCHS_QUICK = ["--epochs", "3", "--verifier-epochs", "2", "--patience", "5"]
#: Each variant stage's flags: (on the accelerator, in the CPU rehearsal).
VARIANTS = {"vae_yi_mnist_conv": (YI_MNIST_CONV, YI_MNIST_CONV_QUICK),
            "vae_yi_mnist_epochs": (YI_MNIST_EPOCHS, YI_MNIST_EPOCHS_QUICK)}


def _with_flag(args: list[str], flag: str, value: str) -> list[str]:
    """``args`` with ``flag`` set to ``value`` (replaced where present, else appended)."""
    out = list(args)
    if flag in out:
        out[out.index(flag) + 1] = value
    else:
        out += [flag, value]
    return out


def yi_mnist_retry(args: list[str], error: str) -> tuple[list[str], str] | None:
    """The next attempt of the ``vae_yi_mnist`` stage after a refusal (exit 2) whose line is
    ``error``: ``(args, the difference it makes)``, or None when the refusal is not one of the
    two this stage answers (any other error ends the stage)."""
    m = re.search(r"--strong-size=(\d+) is invalid: allowed at most the real pool size (\d+)",
                  error)
    if m:
        if "--preset" in args:
            i = args.index("--preset")
            args = args[:i] + args[i + 2:] + YI_MNIST_FLAGS
        return (_with_flag(args, "--strong-size", m.group(2)),
                f"the verifier trains on {m.group(2)} real images, not {m.group(1)}: the "
                "data file's real pool (after the held-out split) holds no more")
    m = re.search(r"use --chunk-size (\d+)", error)
    if m and "--chunk-size" not in args:
        return (_with_flag(args, "--chunk-size", m.group(1)),
                f"seeds in chunks of {m.group(1)} (one chunk of all seeds did not fit the "
                "memory; float32 training: other numbers, the same sizes)")
    return None


def _yi_mnist(py: str, a, limit: float, log, work: Path, stage: str = "vae_yi_mnist") -> dict:
    """The ``vae_yi_mnist`` stage (or one of :data:`VARIANTS`, its flags added): the preset on
    ``a.mnist``, retried as :func:`yi_mnist_retry` says; every attempt is recorded."""
    if not a.mnist:
        return {"skipped": "no --mnist file (the preset runs on local MNIST only)"}
    args = ["proofs_checks.vae_verification", "--data", str(Path(a.mnist).resolve())]
    if stage in VARIANTS:
        args += VARIANTS[stage][1 if a.quick else 0]
    if a.quick:
        args += YI_MNIST_FLAGS
        for flag, value in YI_MNIST_QUICK.items():
            args = _with_flag(args, flag, value)
    else:
        args += ["--preset", "yi-mnist"]
    report = work / f"{stage}.json"
    t0, attempts, differences = time.perf_counter(), [], []
    for _ in range(3):
        row = _child([py, "-m", *args, "--json", str(report)],
                     limit - (time.perf_counter() - t0), log)
        attempts.append({"argv": args, **{k: row.get(k) for k in ("rc", "wall_s", "error")}})
        nxt = yi_mnist_retry(args, row.get("error") or "") if row.get("rc") == 2 else None
        if nxt is None or limit - (time.perf_counter() - t0) < 5:
            break
        args, why = nxt
        differences.append(why)
    row.update(argv=args, attempts=attempts, differences_from_preset=differences,
               wall_s_all_attempts=time.perf_counter() - t0)
    row.update(_check_summary(report))
    return row


def _env() -> dict:
    out = {"python": sys.version.split()[0], "machine": platform.machine(),
           "cpu_count": os.cpu_count()}
    if shutil.which("nvidia-smi"):
        r = subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total,driver_version",
                            "--format=csv,noheader"], capture_output=True, text=True, timeout=30)
        out["nvidia_smi"] = r.stdout.strip()
    code = ("import jax, json; d = jax.devices(); print(json.dumps({'jax': jax.__version__, "
            "'backend': jax.default_backend(), 'devices': [x.device_kind for x in d]}))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    if r.returncode == 0:
        out.update(json.loads(r.stdout.strip().splitlines()[-1]))
    else:
        out["jax_error"] = (r.stderr.strip().splitlines() or ["failed"])[-1]
    return out


def _last_error(text: str) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1][:300] if lines else ""


def _child(argv: list[str], timeout: float, log, env_extra: dict | None = None) -> dict:
    """Run one stage; its output goes to ``log``; returns rc, wall time and the error line."""
    env = dict(os.environ, PYTHONUNBUFFERED="1", COLLAPSE_JAX_WATCHDOG="0", **(env_extra or {}))
    log.write(f"\n$ {' '.join(argv)}  (limit {timeout:.0f} s)\n")
    log.flush()
    t0 = time.perf_counter()
    try:
        r = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True,
                           timeout=max(timeout, 1))
    except subprocess.TimeoutExpired as e:
        parts = [p.decode() if isinstance(p, bytes) else (p or "") for p in (e.stdout, e.stderr)]
        log.write("".join(parts))
        # the progress lines (stderr) say how far it got and what it expected to need
        return {"rc": None, "wall_s": time.perf_counter() - t0, "error": "time limit",
                "stderr_tail": parts[1].strip().splitlines()[-12:]}
    wall = time.perf_counter() - t0
    log.write(r.stdout + r.stderr)
    log.flush()
    row = {"rc": r.returncode, "wall_s": wall,
           "stdout_tail": r.stdout.strip().splitlines()[-12:]}
    if r.returncode not in (0, 1):
        row["error"] = _last_error(r.stderr) or _last_error(r.stdout)
    return row


def _check_summary(path: Path) -> dict:
    """Passed / failed counts, the check's own timing and device, from its JSON report."""
    if not path.exists():
        return {}
    rep = json.loads(path.read_text())
    claims = rep.get("claims") or []
    timing = {k: v for k, v in (rep.get("timing") or {}).items()
              if isinstance(v, (int, float))}
    config = rep.get("config") or {}
    out = {"passed": sum(bool(c.get("passed")) for c in claims),
           "failed": sum(not c.get("passed") for c in claims),
           "failed_ids": [c.get("id") for c in claims if not c.get("passed")],
           "seeds": config.get("seeds"), "timing": timing, "device": rep.get("device")}
    if config.get("differences_from_the_authors"):  # a check that reproduces a paper
        out["differences_from_the_authors"] = config["differences_from_the_authors"]
    return out


def _write(path: Path, doc: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(doc, indent=1, default=str))
    os.replace(tmp, path)


def run(a) -> int:
    out = Path(a.json).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="accel_"))
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    doc = {"started": started, "quick": a.quick, "budget_s": a.budget_s, "stages": {}}
    if a.append and out.exists():
        doc = json.loads(out.read_text())
        doc.setdefault("appended", []).append({"started": started, "budget_s": a.budget_s,
                                               "stages": list(a.stages)})
    t_start = time.perf_counter()
    py = sys.executable
    factor = 1 if a.quick else a.seeds_factor
    numpy_fraction = 0.1 if a.quick else a.numpy_fraction
    log = open(a.log or out.with_suffix(".log"), "a")
    for stage in a.stages:
        left = a.budget_s - (time.perf_counter() - t_start)
        if left < 5:
            doc["stages"][stage] = {"skipped": f"budget of {a.budget_s:.0f} s spent"}
            _write(out, doc)
            continue
        print(f"[{time.perf_counter() - t_start:6.0f} s] {stage} (limit "
              f"{min(left, a.stage_cap):.0f} s)", file=sys.stderr, flush=True)
        if stage == "env":
            row = _env()
        elif stage in ("kernels", "kernels_cpu"):
            tmp = work / f"{stage}.json"
            argv = [py, str(HERE / "kernels.py"), "--json", str(tmp),
                    "--seeds-factor", str(factor),
                    "--numpy-fraction", str(numpy_fraction if stage == "kernels" else 0)]
            if a.kernels:
                argv += ["--kernels", *a.kernels]
            row = _child(argv, min(left, a.stage_cap), log,
                         {"JAX_PLATFORMS": "cpu"} if stage == "kernels_cpu" else None)
            if tmp.exists():
                row.update(json.loads(tmp.read_text()))
        elif stage == "preset_speed":
            argv = [py, str(HERE / "power_law_speed.py"), "--preset"]
            argv += ["--seeds", "16", "--numpy-seeds", "1", "--n", "100"] if a.quick else \
                ["--seeds", str(a.preset_seeds)]
            row = _child(argv, min(left, a.stage_cap), log)
        elif stage == "scale":
            tmp = work / "scale.json"
            argv = [py, str(HERE / "kernels.py"), "--json", str(tmp), "--kernels", "refit",
                    "--numpy-fraction", "0", "--scale", "--scale-kernels", "power_law_f32",
                    "--max-seeds", str(1000 if a.quick else a.max_seeds)]
            row = _child(argv, min(left, a.stage_cap), log)
            if tmp.exists():
                row["scale"] = json.loads(tmp.read_text()).get("scale")
        elif stage == "vae_yi_mnist" or stage in VARIANTS:
            row = _yi_mnist(py, a, min(left, a.stage_cap), log, work, stage)
        else:
            name = stage.split(":", 1)[1]
            args = next(c[1] for c in CHECKS if c[0] == name)
            if a.quick:
                args = args + ["--quick"] if name != "power_law_100x" else \
                    ["proofs_checks.power_law", "--seeds", "2000", "--generations", "50"]
            report = work / f"{name}.json"
            cap = next(c[2] for c in CHECKS if c[0] == name)
            row = _child([py, "-m", *args, "--json", str(report)], min(left, cap, a.stage_cap),
                         log)
            row["argv"] = args
            row.update(_check_summary(report))
        doc["stages"][stage] = row
        row["run_started"] = started
        doc["elapsed_s"] = time.perf_counter() - t_start
        _write(out, doc)
        brief = {k: row.get(k) for k in ("rc", "wall_s", "passed", "failed", "error")
                 if row.get(k) is not None}
        print(f"         {brief}", file=sys.stderr, flush=True)
    log.close()
    shutil.rmtree(work, ignore_errors=True)
    bad = [s for s, r in doc["stages"].items() if r.get("error") or r.get("jax_error")]
    print(f"wrote {out} ({len(doc['stages'])} stages, {len(bad)} with an error: {bad})",
          file=sys.stderr)
    return 1 if bad else 0


def _fmt(x, spec=".3g"):
    return "-" if x is None else format(x, spec)


def table(path: str) -> str:
    """The markdown tables of a JSON written by :func:`run`."""
    doc = json.loads(Path(path).read_text())
    st = doc["stages"]
    env = st.get("env", {})
    lines = [f"Device: {env.get('nvidia_smi') or ', '.join(env.get('devices', []))}; backend "
             f"{env.get('backend')}, jax {env.get('jax')}, {env.get('cpu_count')} CPU cores; "
             f"run of {doc.get('started')}.", ""]
    ker = {r["kernel"]: r for r in st.get("kernels", {}).get("speed", [])}
    cpu = {r["kernel"]: r for r in st.get("kernels_cpu", {}).get("speed", [])}
    if ker:
        lines += ["| kernel | seeds | compile s | run s | x numpy | x roofline | CPU run s | x CPU |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|"]
        for name, r in ker.items():
            c = cpu.get(name, {}).get("run_s")
            lines.append(f"| {name} | {r['seeds']} | {_fmt(r['compile_s'], '.1f')} | "
                         f"{_fmt(r['run_s'])} | {_fmt(r.get('x_numpy'), '.1f')} | "
                         f"{_fmt(r['x_roofline'], '.2f')} | {_fmt(c)} | "
                         f"{_fmt(None if c is None else c / r['run_s'], '.1f')} |")
        lines.append("")
    checks = [(s.split(":", 1)[-1], r) for s, r in st.items()
              if s.startswith("check:") or (s.startswith("vae_yi_mnist") and "skipped" not in r)]
    if checks:
        lines += ["| check run | seeds | wall s | compile s | run s | passed | failed | exit |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|"]
        for name, r in checks:
            if "skipped" in r:
                lines.append(f"| {name} | | | | | | | skipped |")
                continue
            t = r.get("timing", {})
            note = f" ({r['note']})" if r.get("note") else ""
            lines.append(f"| `{' '.join(r.get('argv', [name]))}`{note} | "
                         f"{_fmt(r.get('seeds'), 'd') if isinstance(r.get('seeds'), int) else '-'}"
                         f" | {_fmt(r.get('wall_s'), '.1f')} | {_fmt(t.get('compile_s'), '.1f')} | "
                         f"{_fmt(t.get('run_s'), '.1f')} | {_fmt(r.get('passed'), 'd')} | "
                         f"{_fmt(r.get('failed'), 'd')} | {r.get('rc', '-')}"
                         f"{' (' + r['error'] + ')' if r.get('error') else ''} |")
        lines.append("")
    if st.get("preset_speed", {}).get("stdout_tail"):
        lines += ["```", *st["preset_speed"]["stdout_tail"], "```"]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", default="docs/benchmarks_gpu.json",
                    help="write the rows here (default docs/benchmarks_gpu.json)")
    ap.add_argument("--log", default=None, help="append every stage's output here (default: "
                    "the JSON path with .log)")
    ap.add_argument("--budget-s", type=float, default=480.0,
                    help="stop starting stages after this many seconds (480)")
    ap.add_argument("--stage-cap", type=float, default=300.0,
                    help="no stage runs longer than this (300 s)")
    ap.add_argument("--stages", nargs="+", default=STAGES, choices=STAGES, metavar="STAGE",
                    help="any of " + ", ".join(STAGES) + " (all, in this order)")
    ap.add_argument("--kernels", nargs="+", default=None, metavar="KERNEL",
                    help="kernels of the kernels stages (all of benchmarks/kernels.py)")
    ap.add_argument("--seeds-factor", type=int, default=10,
                    help="kernel seeds as a multiple of each check's default (10)")
    ap.add_argument("--numpy-fraction", type=float, default=0.25,
                    help="fraction of the usual seeds the numpy loop is timed on (0.25)")
    ap.add_argument("--preset-seeds", type=int, default=1000,
                    help="seeds of the preset speed stage (1000)")
    ap.add_argument("--max-seeds", type=int, default=100_000,
                    help="largest seed count of the scale stage (10^5, the kernel's own cap)")
    ap.add_argument("--mnist", metavar="PATH", default=None,
                    help="local MNIST file for the vae_yi_mnist stage (.npz, IDX file or "
                         "folder; skipped without it)")
    ap.add_argument("--quick", action="store_true", help="the CPU rehearsal (see above)")
    ap.add_argument("--append", action="store_true",
                    help="add this run's stages to an existing --json (a second call on a warm "
                         "machine: stages run again replace their rows)")
    ap.add_argument("--table", metavar="JSON", help="print the markdown tables of JSON, run "
                    "nothing")
    a = ap.parse_args(argv)
    if a.table:
        print(table(a.table))
        return 0
    if a.budget_s <= 0 or a.stage_cap <= 0 or a.seeds_factor < 1 or a.preset_seeds < 1:
        ap.error("--budget-s, --stage-cap, --seeds-factor and --preset-seeds must be positive")
    return run(a)


if __name__ == "__main__":
    sys.exit(main())
