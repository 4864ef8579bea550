"""The monitor's figure: diversity with bands, fitted law, theory line, detection point."""

from __future__ import annotations

import numpy as np

from collapse_jax.monitor.law import law_curve, power_shape


def make_figure(result: dict):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = result["generations"]
    t = np.array([r["generation"] for r in rows])
    y = np.array([r["log_total_variance"] for r in rows])
    se = np.array([r["log_total_variance_se"] for r in rows])
    has_knn = "precision" in rows[0]
    fig, axes = plt.subplots(1, 3 if has_knn else 2, figsize=(15 if has_knn else 10, 4.2))
    ax = axes[0]
    ax.fill_between(t, np.exp(y - 2 * se), np.exp(y + 2 * se), color="C0", alpha=0.25,
                    label="±2 SE (bootstrap)")
    ax.plot(t, np.exp(y), "o-", color="C0", ms=3, label="total variance")
    fits = {"law": result["law"], "fits": result["model_selection"]["fits"]}
    tt = np.arange(t.max() + 1)
    ax.plot(tt, np.exp(law_curve(fits, tt)), "--", color="C1",
            label=f"fitted law: {result['law']}" + _rate(result))
    th = result.get("theory")
    if th:
        a = fits["fits"]["power"]["intercept"]
        ax.plot(tt, np.exp(a + power_shape(tt, th["psi"])), ":", color="C3",
                label=f"theory accumulate+select, psi({th['alpha']:g}, {th['dim']})="
                      f"{th['psi']:.3f}")
    det = result["detected_at"]
    for a_ in axes[:2]:
        if det is not None:
            a_.axvline(det, color="C3", lw=1.2, label=f"collapse detected at {det}")
    ax.set_yscale("log")
    ax.set_xlabel("generation")
    ax.set_ylabel("total variance (trace of covariance)")
    ax.set_title("diversity per generation")
    ax.legend(fontsize=7)
    ax = axes[1]
    d = result["detection"]
    first = d.get("first_generation_tested", 1)
    ax.plot(t[first:first + len(d["cusum"])], d["cusum"], "o-", ms=3, color="C2",
            label=f"CUSUM of drops ({d.get('null', 'iid')} null)")
    if d["threshold"] is not None:
        ax.axhline(d["threshold"], color="k", ls="--",
                   label=f"threshold (false alarm {d['false_alarm']:g})")
    ax.set_xlabel("generation")
    ax.set_ylabel("CUSUM statistic")
    ax.set_title("early warning")
    ax.legend(fontsize=7)
    if has_knn:
        ax = axes[2]
        for i, k in enumerate(("precision", "recall", "coverage")):
            v = np.array([r[k] for r in rows])
            s = np.array([r[k + "_se"] for r in rows])
            ax.errorbar(t, v, yerr=2 * s, fmt="o-", ms=3, color=f"C{i + 4}", label=k)
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("generation")
        ax.set_title("fidelity and coverage vs reference (k-NN)")
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def _rate(result) -> str:
    e = result["exponent"]
    if not e:
        return ""
    name = "psi" if e["kind"] == "power" else "factor"
    lo, hi = ("?" if v is None else f"{v:.3f}" for v in e["ci"])
    return f", {name}={e['estimate']:.3f} [{lo}, {hi}]"
