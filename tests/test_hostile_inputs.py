"""Hostile inputs to every check: exit 2, one stderr line, no traceback, nothing compiled.

Issue 11 (sections 3 and 7): a run either finishes with a verdict or stops at once with a
clear reason. Every case below calls the check's ``main(argv)`` in-process and asserts

* exit code 2 (bad input) and exactly one line on stderr, naming the flag, without
  "Traceback";
* that it was refused before anything was compiled: no XLA backend compilation happened
  (a ``jax.monitoring`` listener counts them), the batch drivers and ``jax.jit`` are replaced
  by stubs that fail, and the case takes well under a couple of seconds.

Cases: NaN, inf, negative, zero, huge, wrong type, bad path, bad extension, a folder as the
output path, corrupt ``--data`` files (garbage, truncated, NaN pixels, wrong shapes and
dtypes) and degenerate configurations whose claims could never pass.
"""

from __future__ import annotations

import importlib
import os
import time
import zipfile

import jax
import numpy as np
import pytest
from jax import monitoring

CHECKS = ("power_law", "gaussian_refit", "regression_paradigms", "real_mixing",
          "knowledge_center", "proxy_references", "proxy_digits", "vae_verification")
#: The family check module behind each command (``proofs_checks/<name>.py`` imports its ``main``).
MODULES = {name: importlib.import_module(importlib.import_module(f"proofs_checks.{name}").main
                                         .__module__) for name in CHECKS}
#: Wall-time limit of one refused case (parsing and validation only: milliseconds).
MAX_SECONDS = 3.0

_COMPILES = [0]


def _count_compiles(event: str, duration: float, **kwargs) -> None:
    if event == "/jax/core/compile/backend_compile_duration":
        _COMPILES[0] += 1


monitoring.register_event_duration_secs_listener(_count_compiles)


class CompiledError(RuntimeError):
    """Raised by the stubs: a hostile case reached the computation."""


def _refuse(*args, **kwargs):
    raise CompiledError("a hostile input reached the computation")


# Cases common to every check: (argv, flag named in the line). "{tmp}" is a fresh folder.
COMMON = [
    (["--seeds", "abc"], "--seeds"),
    (["--seeds", "1e12"], "--seeds"),
    (["--seeds", "nan"], "--seeds"),
    (["--seeds", "-5"], "--seeds"),
    (["--seeds", "0"], "--seeds"),
    (["--seeds", str(10**12)], "--seeds"),
    (["--generations", "0"], "--"),
    (["--generations", str(10**9)], "--"),
    (["--key", "-1"], "--key"),
    (["--key", str(10**23)], "--key"),
    (["--key", "1e23"], "--key"),
    (["--json", "/nonexistent/x.json"], "--json"),
    (["--json", "{tmp}"], "--json"),
    (["--plot", "{tmp}/x.xyz"], "--plot"),
    (["--plot", "{tmp}"], "--plot"),
    (["--chunk-size", "0"], "--chunk-size"),
    (["--devices", "0"], "--devices"),
    (["--watchdog", "nan"], "--watchdog"),
]

SPECIFIC = {
    "power_law": [
        (["--alpha", "nan"], "--alpha"),
        (["--alpha", "inf"], "--alpha"),
        (["--alpha", "0"], "--alpha"),
        (["--alpha", "-0.5"], "--alpha"),
        (["--alpha", "1e-9", "--dim", "2"], "--alpha"),
        (["--n", "0"], "--n"),
        (["--n", str(10**12)], "--n"),
        (["--dim", "0"], "--dim"),
        (["--dim", str(10**6)], "--dim"),
        (["--offset", "inf"], "--offset"),
        (["--offset", "1e300"], "--offset"),
        (["--offset", "-1"], "--offset"),
        (["--offset", "1e6", "--precision", "float32"], "--offset"),
        (["--fixed-scale", "0"], "--fixed-scale"),
        (["--fixed-scale", "nan"], "--fixed-scale"),
        (["--fixed-scale", "1e300"], "--fixed-scale"),
        (["--fixed-scale", "1e-300"], "--fixed-scale"),
        (["--silos", "0"], "--silos"),
        (["--silos", str(10**10)], "--silos"),
        (["--bootstrap", str(10**10)], "--bootstrap"),
        (["--bootstrap", "-1"], "--bootstrap"),
        (["--fit-window", "50", "10"], "--fit-window"),
        (["--precision", "float16"], "--precision"),
        (["--precision", "float32", "--sample-precision", "float64"], "--sample-precision"),
    ],
    "gaussian_refit": [
        (["--n", "0"], "--n"),
        (["--n", str(10**9)], "--n"),
        (["--dim", "0"], "--dim"),
        (["--dim", "100"], "--dim"),
        (["--level", "nan"], "--level"),
        (["--level", "inf"], "--level"),
        (["--level", "0"], "--level"),
        (["--level", "1"], "--level"),
        (["--level", "-0.1"], "--level"),
        (["--tail-time", "0"], "--tail-time"),
        (["--tail-time", str(10**9)], "--tail-time"),
        (["--estimator", "median"], "--estimator"),
        (["--truth", "abc"], "--truth"),
    ],
    "regression_paradigms": [
        (["--T", "0"], "--T"),
        (["--T", str(10**12)], "--T"),
        (["--d", "0"], "--d"),
        (["--d", str(10**6)], "--d"),
        (["--noise", "nan"], "--noise"),
        (["--noise", "inf"], "--noise"),
        (["--noise", "0"], "--noise"),
        (["--noise", "1e300"], "--noise"),
        (["--noise", "1e-300"], "--noise"),
        (["--noise0", "-1"], "--noise0"),
        (["--T0", "5"], "--T0"),
        (["--T0", str(10**12)], "--T0"),
        (["--pool-size", str(10**9)], "--pool-size"),
        (["--pool-size", "0"], "--pool-size"),
    ],
    "real_mixing": [
        (["--lam", "1"], "--lam"),  # one lam: claim 4 would compare a run with itself
        (["--lam", "0.5", "2", "--m", "40"], "--lam"),  # lam n = m: claim 7 likewise
        (["--lam", "nan"], "--lam"),
        (["--lam", "-1"], "--lam"),
        (["--lam", "inf"], "--lam"),
        (["--lam", "0"], "--lam"),
        (["--lam", "0.5", "1e6"], "--lam"),
        (["--n", "0"], "--n"),
        (["--n", str(10**9)], "--n"),
        (["--m", "1"], "--m"),
        (["--m", str(10**9)], "--m"),
        (["--dim", "0"], "--dim"),
        (["--dim", "100"], "--dim"),
    ],
    "knowledge_center": [
        (["--n", str(10**9)], "--n"),
        (["--n", "0"], "--n"),
        (["--sigma", "1e-300"], "--sigma"),
        (["--sigma", "nan"], "--sigma"),
        (["--sigma", "0"], "--sigma"),
        (["--sigma", "-1"], "--sigma"),
        (["--sigma", "1e300"], "--sigma"),
        (["--sigma-c", "1e300"], "--sigma-c"),
        (["--sigma-c", "inf"], "--sigma-c"),
        (["--r", "1e6"], "--r"),
        (["--r", "-1"], "--r"),
        (["--r", "inf"], "--r"),
        (["--r", "0", "--sigma-c", "0"], "--r"),
        (["--sigma", "1e5"], "--sigma"),  # window too narrow: no row is ever accepted
        (["--delta", "1e300"], "--delta"),
        (["--delta", "50"], "--delta"),  # starts where the verifier accepts nothing
        (["--delta", "nan"], "--delta"),
        (["--p", "0"], "--p"),
        (["--p", "1000"], "--p"),
        (["--n0", "3"], "--n0"),
        (["--n0", str(10**12)], "--n0"),
        (["--rounds", str(10**9)], "--rounds"),
        (["--rounds", "3"], "--rounds"),
        (["--design", "circle"], "--design"),
    ],
    "proxy_digits": [
        (["--n", "0"], "--n"),
        (["--n", str(10**9)], "--n"),
        (["--alpha", "nan"], "--alpha"),
        (["--alpha", "0.01", "--n", "1000"], "--alpha"),
        (["--parties", "1"], "--parties"),
        (["--parties", "3"], "--classes-per-party"),
        (["--concentration", "0"], "--concentration"),
        (["--concentration", "inf"], "--concentration"),
        (["--epsilon", "1e-300"], "--epsilon"),
        (["--sinkhorn-iterations", "5"], "--sinkhorn-iterations"),
        (["--lr-tune", "nan"], "--lr-tune"),
        (["--n-eval", str(10**7)], "--n-eval"),
        (["--start", "half"], "--start"),
        (["--steps", "0"], "--steps"),
    ],
    "proxy_references": [
        (["--beta", "nan"], "--beta"),
        (["--beta", "0"], "--beta"),
        (["--beta", "1e300"], "--beta"),
        (["--iid-beta", "inf"], "--iid-beta"),
        (["--beta", "5", "--iid-beta", "5"], "--beta"),  # claims 3a-f would contradict
        (["--skew", "0"], "--skew"),
        (["--skew", "1e-300"], "--skew"),
        (["--skew", "nan"], "--skew"),
        (["--alpha", "1e-12"], "--alpha"),
        (["--alpha", "nan"], "--alpha"),
        (["--threshold", "inf"], "--threshold"),
        (["--threshold", "nan"], "--threshold"),
        (["--threshold", "0"], "--threshold"),
        (["--epsilon", "1e-300"], "--epsilon"),
        (["--epsilon", "-1"], "--epsilon"),
        (["--n-eval", str(10**6)], "--n-eval"),
        (["--n", str(10**9)], "--n"),
        (["--n-real", "1"], "--n-real"),
        (["--pool", str(10**9)], "--pool"),
        (["--strategies", "local,bogus"], "--strategies"),
        (["--junk", "1"], "--junk"),
        (["--tau", "nan"], "--tau"),
        (["--knn", "0"], "--knn"),
        (["--ot-epsilon", "inf"], "--ot-epsilon"),
        (["--dim", "1"], "--dim"),
        (["--silos", str(10**6)], "--silos"),
        (["--sinkhorn-iterations", str(10**9)], "--sinkhorn-iterations"),
    ],
    "vae_verification": [
        (["--data", "{garbage}"], "--data"),
        (["--data", "{truncated}"], "--data"),
        (["--data", "{empty}"], "--data"),
        (["--data", "{nan_pixel}"], "--data"),
        (["--data", "{inf_pixel}"], "--data"),
        (["--data", "{wrong_shape}"], "--data"),
        (["--data", "{complex}"], "--data"),
        (["--data", "{strings}"], "--data"),
        (["--data", "{out_of_range}"], "--data"),
        (["--data", "{bad_labels}"], "--data"),
        (["--data", "{wrong_keys}"], "--data"),
        (["--data", "{corrupt_member}"], "--data"),
        (["--data", "{tmp}/missing.npz"], "--data"),
        (["--data", "{tmp}"], "--data"),
        (["--keep", "nan"], "--keep"),
        (["--keep", "0"], "--keep"),
        (["--lr", "1e-300"], "--lr"),
        (["--lr", "inf"], "--lr"),
        (["--noise", "1e-300"], "--noise"),
        (["--noise", "nan"], "--noise"),
        (["--n-real", str(10**9)], "--n-real"),
        (["--n-eval", "15"], "--n-eval"),
        (["--latent", "0"], "--latent"),
        (["--batch", str(10**9)], "--batch"),
        (["--steps", str(10**12)], "--steps"),
        (["--weak-size", "5000"], "--weak-size"),
        (["--bootstrap", str(10**10)], "--bootstrap"),
    ],
}

CASES = [pytest.param(name, argv, flag, id=f"{name}:{' '.join(argv)}")
         for name in CHECKS for argv, flag in COMMON + SPECIFIC[name]]


def _mnist_like(n=40, side=28, dtype=np.uint8):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(n, side, side)).astype(dtype)
    y = np.arange(n) % 10
    return x, y


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Corrupt and malformed ``--data`` files."""
    d = tmp_path_factory.mktemp("hostile")
    x, y = _mnist_like()
    good = d / "good.npz"
    np.savez(good, x_train=x, y_train=y)
    out = {"tmp": str(d / "outdir")}
    os.makedirs(out["tmp"])

    def path(name):
        out[name] = str(d / f"{name}.npz")
        return out[name]

    with open(path("garbage"), "wb") as f:
        f.write(b"this is not a zip file at all\n" * 10)
    raw = good.read_bytes()
    with open(path("truncated"), "wb") as f:
        f.write(raw[: len(raw) // 2])
    open(path("empty"), "wb").close()
    xn = x.astype(np.float32) / 255.0
    xn[3, 5, 7] = np.nan
    np.savez(path("nan_pixel"), x_train=xn, y_train=y)
    xi = x.astype(np.float32)
    xi[0, 0, 0] = np.inf
    np.savez(path("inf_pixel"), x_train=xi, y_train=y)
    np.savez(path("wrong_shape"), x_train=x.reshape(40, 28, 28)[:, :, :20], y_train=y)
    np.savez(path("complex"), x_train=x.astype(np.complex64), y_train=y)
    np.savez(path("strings"), x_train=np.full((40, 28, 28), "a"), y_train=y)
    np.savez(path("out_of_range"), x_train=x.astype(np.int32) * 3, y_train=y)
    np.savez(path("bad_labels"), x_train=x, y_train=y + 5)
    np.savez(path("wrong_keys"), a=x, b=y)
    # a zip whose member is damaged (CRC or inflate error when read)
    np.savez_compressed(path("corrupt_member"), x_train=x, y_train=y)
    with zipfile.ZipFile(out["corrupt_member"]) as z:
        info = z.getinfo("x_train.npy")
    blob = bytearray(open(out["corrupt_member"], "rb").read())
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    for i in range(start + 10, start + 200):
        blob[i] ^= 0x5A
    open(out["corrupt_member"], "wb").write(bytes(blob))
    return out


@pytest.fixture(scope="module", autouse=True)
def _backend():
    jax.devices()  # backend start-up is not part of any case's time


@pytest.fixture
def no_compute(monkeypatch, tmp_path):
    """Every entry into the computation fails; internal-error logs go to ``tmp_path``."""
    from collapse_jax.engine import batch
    from collapse_jax.vae import kernel as retrain

    for fn in ("run", "run_sweep", "run_sweep_shared", "stream"):
        monkeypatch.setattr(batch, fn, _refuse)
    monkeypatch.setattr(retrain, "feature_network", _refuse)
    monkeypatch.setattr(jax, "jit", _refuse)
    monkeypatch.setenv("COLLAPSE_JAX_LOG_DIR", str(tmp_path))


@pytest.mark.parametrize(("name", "argv", "flag"), CASES)
def test_hostile_input_is_refused_before_compiling(name, argv, flag, files, no_compute,
                                                   capsys):
    argv = [a.format(**files) for a in argv]
    compiles = _COMPILES[0]
    t0 = time.perf_counter()
    try:
        code = MODULES[name].main(argv)
    except SystemExit as e:  # argparse: wrong type, unknown choice
        code = e.code
    elapsed = time.perf_counter() - t0
    out, err = capsys.readouterr()
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 2, (code, out, err)
    assert len(lines) == 1, err
    assert "Traceback" not in err and "Traceback" not in out
    assert flag in lines[0], lines[0]
    assert _COMPILES[0] == compiles, "a program was compiled before the input was refused"
    assert elapsed < MAX_SECONDS, f"refusal took {elapsed:.2f}s"


def test_table_has_ten_cases_per_check():
    for name in CHECKS:
        assert len(COMMON) + len(SPECIFIC[name]) >= 10, name


# Configurations the bounds must leave alone: the defaults, --quick and the papers' settings.
SANE = [(name, argv) for name in CHECKS for argv in ([], ["--quick"])] + [
    ("power_law", ["--dim", "10", "--alpha", "0.05", "--n", "300", "--generations", "300",
                   "--metric", "fixed", "--fixed-scale", "0.3", "--truth", "random",
                   "--offset", "3", "--paradigm", "accumulate", "--seeds", "128",
                   "--fit-window", "50", "300"]),
    ("power_law", ["--precision", "float32", "--offset", "3", "--alpha", "0.01"]),
    ("knowledge_center", ["--delta", "0"]),
    ("knowledge_center", ["--r", "1.5", "--sigma-c", "0", "--p", "10"]),
    ("real_mixing", ["--lam", "0", "16"]),
    ("regression_paradigms", ["--d", "100", "--T", "400"]),
    ("vae_verification", ["--likelihood", "gaussian", "--noise", "0", "--keep", "0.5"]),
    ("proxy_digits", ["--start", "party", "--classes-per-party", "2", "--concentration", "0.5"]),
]


@pytest.mark.parametrize(("name", "argv"), SANE, ids=[f"{n}:{' '.join(a)}" for n, a in SANE])
def test_sane_configurations_pass_validation(name, argv):
    from collapse_jax.verdict import ClaimPlan

    mod = MODULES[name]
    args = mod.build_parser().parse_args(argv)
    args.plan = ClaimPlan()  # what run_check hands every check
    mod._validate(args)
    assert args.plan.declared
