"""The whole analysis of a pipeline's generations: metrics, decay law, theory, detection."""

from __future__ import annotations

import functools
import platform
import time
from importlib import metadata

import numpy as np

from collapse_jax.core._validate import check_float, check_int
from collapse_jax.monitor.detect import NULLS, detect
from collapse_jax.monitor.law import fit_law
from collapse_jax.monitor.loaders import Generations
from collapse_jax.monitor.metrics import (
    SHELL_EXPECTED,
    SHELL_SIGMAS,
    MetricConfig,
    build_reference,
    generation_metrics,
)

FN = "collapse_jax.monitor.analyse"


class ArrayGenerations(Generations):
    """In-memory generations (a list of ``(samples, features)`` arrays), checked like files."""

    def __init__(self, arrays):
        from collapse_jax.monitor.loaders import _finish

        items = {i: (f"generation {i}", lambda a=a: np.asarray(a)) for i, a in enumerate(arrays)}
        if len(items) < 2:
            from collapse_jax.core._errors import InvalidInput
            raise InvalidInput(f"{FN}: got {len(items)} generation(s); allowed at least 2")
        g = _finish("generations", "arrays", items)
        super().__init__(g.path, g.layout, g.numbers, g.loaders, g.shapes)


@functools.lru_cache(maxsize=1)
def _cached_versions() -> tuple:
    out = {"python": platform.python_version()}
    for pkg in ("numpy", "scipy", "jax", "matplotlib", "collapse_jax"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    return tuple(out.items())


def _versions() -> dict:
    """Package versions for the result (read once per process: the metadata lookup costs
    about 40 ms, a tenth of a small pipeline's analysis)."""
    return dict(_cached_versions())


def analyse(generations, reference=None, *, alpha=None, dim=None, false_alarm: float = 0.01,
            key: int = 0, resamples: int = 100, knn_k: int = 5, knn_subsample: int = 1000,
            rff_features: int = 128, law_level: float = 0.01, kernel_metrics: bool = True,
            reference_label: str | None = None, null: str = "accumulate") -> dict:
    """Analyse recursive generations; returns the JSON-ready result (see docs/monitor.md).

    ``generations``: a :class:`Generations` (from :func:`load_generations`) or a list of
    ``(samples, features)`` arrays, generation 0 first. ``reference``: an array of real
    samples, or ``None`` to compare with generation 0.
    """
    if alpha is not None:
        alpha = check_float(FN, "alpha", alpha, 0.0, 1.0, lo_open=True, hi_open=True)
    if dim is not None:
        dim = check_int(FN, "dim", dim, 1)
    false_alarm = check_float(FN, "false_alarm", false_alarm, 0.0, 0.5, lo_open=True, hi_open=True)
    if null not in NULLS:
        raise ValueError(f"{FN}: null={null!r} is invalid; allowed {', '.join(NULLS)}")
    key = check_int(FN, "key", key, 0, 2**63 - 1)
    resamples = check_int(FN, "resamples", resamples, 20, 100000)
    knn_k = check_int(FN, "knn_k", knn_k, 1, 100)
    knn_subsample = check_int(FN, "knn_subsample", knn_subsample, 10, 100000)
    rff_features = check_int(FN, "rff_features", rff_features, 8, 4096)
    law_level = check_float(FN, "law_level", law_level, 0.0, 0.5, lo_open=True, hi_open=True)
    if not isinstance(generations, Generations):
        generations = ArrayGenerations(generations)
    if dim is not None and dim > generations.features:
        from collapse_jax.core._errors import InvalidInput
        raise InvalidInput(f"{FN}: dim={dim} exceeds the feature count {generations.features}")
    cfg = MetricConfig(resamples=resamples, knn_k=knn_k, knn_subsample=knn_subsample,
                       rff_features=rff_features, kernel_metrics=bool(kernel_metrics))
    started = time.perf_counter()
    ref_rng = np.random.default_rng([key, 1])
    if reference is None:
        ref = build_reference(generations.load(0), cfg, ref_rng)
        ref_desc = "generation 0"
    else:
        ref = build_reference(reference, cfg, ref_rng)
        ref_desc = reference_label or "given reference samples"
    rows = []
    for i, k in enumerate(generations.numbers):
        x = generations.load(i)
        row = generation_metrics(x, ref, cfg, np.random.default_rng([key, 2, k]))
        rows.append({"generation": int(k), **row})
        del x
    y = np.array([r["log_total_variance"] for r in rows])
    se = np.array([r["log_total_variance_se"] for r in rows])
    law = fit_law(y, se, level=law_level)
    dof = np.array([r["log_total_variance_se_dof"] for r in rows])
    det = detect(y, se, false_alarm, key, null=null, se_dof=dof,
                 samples=[r["samples"] for r in rows])
    law["evidence"]["law_before_detection_guard"] = law["law"]
    if law["law"] != "bounded" and det["detected_at"] is None:
        # a trend significant against independent errors but not against the sequential
        # test's null: model-level drift (e.g. an accumulating pipeline's running mean)
        law["notes"].append(f"{law['law']} fitted better than bounded, but the sequential test "
                            "did not detect collapse; reported as bounded")
        law["law"], law["exponent"] = "bounded", None
    d_used = dim if dim is not None else max(1, int(round(ref.d_eff)))
    theory = None
    if alpha is not None:
        from collapse_jax.power_law.theory import psi_closed_form, replace_select_factor

        psi = float(psi_closed_form(alpha, d_used))
        n_med = float(np.median([r["samples"] for r in rows]))
        rho = float(replace_select_factor(alpha, d_used, n_med))
        theory = {
            "alpha": alpha, "dim": d_used,
            "psi": psi,
            "psi_at_feature_count": float(psi_closed_form(alpha, generations.features)),
            "replace_factor": rho,
            "source": "psi(alpha, d) of accumulate + top-alpha selection (theory.md 1.3, "
                      "Qiao et al. 2026); replace + top-alpha factor b (n-1)/n",
        }
        ci = law["fits"]["power"]["ci"]
        if law["law"] == "power":
            lo, hi = (-np.inf if ci[0] is None else ci[0]), (np.inf if ci[1] is None else ci[1])
            theory["consistent"] = bool(lo <= psi <= hi)
            theory["ratio_measured_to_theory"] = law["fits"]["power"]["psi"] / psi if psi else None
        elif law["law"] == "geometric":
            lo, hi = law["fits"]["geometric"]["ci"]
            theory["consistent"] = bool(lo <= rho <= hi)
        else:
            theory["consistent"] = None
    return {
        "law": law["law"],
        "exponent": law["exponent"],
        "detected_at": det["detected_at"],
        "collapse_detected": det["detected_at"] is not None,
        "generations": rows,
        "model_selection": {k: law[k] for k in ("fits", "evidence", "notes")},
        "detection": det,
        "theory": theory,
        "effective_dimension": {
            "estimate": ref.d_eff, "used": d_used,
            "source": "given (--dim)" if dim is not None else
                      "bias-corrected participation ratio (tr S)^2 / tr(S^2) of the reference "
                      "covariance, rounded",
        },
        "reference": {"source": ref_desc, "samples": ref.n, "features": ref.features,
                      "shrinkage": ref.shrinkage, "kernel_bandwidth": ref.bandwidth,
                      "shell_sigmas": list(SHELL_SIGMAS),
                      "shell_expected_mass": list(SHELL_EXPECTED)},
        "configuration": {
            "input": generations.path, "layout": generations.layout, "alpha": alpha,
            "dim": dim, "false_alarm": false_alarm, "null": null, "key": key,
            "resamples": resamples,
            "resampling": "bootstrap over random groups of samples (one sample per group when "
                          "a generation has at most max_groups samples)",
            "max_groups": cfg.max_groups, "knn_k": knn_k, "knn_subsample": knn_subsample,
            "rff_features": rff_features if kernel_metrics else None,
            "vendi": "feature-space form with random Fourier features of a Gaussian kernel",
            "kernel_metrics": bool(kernel_metrics), "law_level": law_level,
            "diversity": "log total variance (trace of the unbiased covariance)",
        },
        "versions": _versions(),
        "elapsed_s": time.perf_counter() - started,
    }
