"""The figure modules hold no global state: importing them and drawing a figure neither
chooses nor changes matplotlib's backend, nor touches pyplot (figures display in a notebook
and save headless)."""

import os
import subprocess
import sys

SCRIPT = """
import sys
import matplotlib
import numpy as np
from collapse_jax.verdict import figures
from collapse_jax.power_law import figures as plots
from collapse_jax.classic import figures as plots_classic
from collapse_jax.knowledge_center import figures as plots_knowledge_center
from collapse_jax.proxy import figures as plots_proxy
from collapse_jax.vae import figures as plots_vae
t = np.arange(6)
fig = plots_classic.mixing_figure(t, {"lam=1": {"var": np.ones((3, 6)), "err": np.ones((3, 6))}},
                                  {"lam=1": {"var": np.ones(6)}})
fig.savefig(sys.argv[1])
assert matplotlib.get_backend().lower() == "pdf", matplotlib.get_backend()
assert "matplotlib.pyplot" not in sys.modules
print("clean")
"""


def test_plot_modules_leave_the_backend_and_pyplot_alone(tmp_path):
    env = dict(os.environ, MPLBACKEND="pdf")
    out = tmp_path / "f.png"
    r = subprocess.run([sys.executable, "-c", SCRIPT, str(out)], capture_output=True,
                       text=True, env=env, timeout=300)
    assert r.returncode == 0 and "clean" in r.stdout, r.stderr[-2000:]
    assert out.stat().st_size > 1000


def _band_axes(fig):
    """Axes holding a non-empty shaded band (``fill_between``)."""
    from matplotlib.collections import PolyCollection

    return [ax for ax in fig.axes
            if any(isinstance(c, PolyCollection) and any(len(p.vertices) for p in c.get_paths())
                   for c in ax.collections)]


def _says_what_its_bands_are(fig):
    axes = _band_axes(fig)
    assert axes
    for ax in axes:
        legend = ax.get_legend()
        texts = [t.get_text() for t in legend.get_texts()] if legend else []
        assert any(t.startswith("shaded:") or "95% CI" in t for t in texts), (
            ax.get_title(), texts)


def test_every_band_is_named_in_its_legend():
    """A shaded band in the power-law, knowledge-centre and VAE figures says what it is (10-90%
    of seeds, or mean +- 2 SE), in the legend of its own panel or of the panel beside it."""
    import numpy as np

    from collapse_jax.knowledge_center import figures as kc
    from collapse_jax.power_law import figures as pl
    from collapse_jax.vae import figures as vae

    rng = np.random.default_rng(0)
    t = 12
    ratios = {name: np.exp(-rng.uniform(0.1, 0.3, (5, 1)) * np.arange(t + 1))
              for name in ("accumulate", "accumulate+select", "replace", "replace+select")}
    fig = pl.power_law_figure(ratios, window=(2, t), fitted_slope=-0.9, predicted_slope=-0.95,
                              psi=0.95, replace_factor=0.5)
    _says_what_its_bands_are(fig)

    curves = rng.uniform(0.5, 1.5, (6, t + 1))
    summary = {"mean": curves.mean(0), "se": curves.std(0) / 2, "sample": curves[:3]}
    fig = kc.knowledge_center_figure(
        delta_runs={0.0: curves, 0.5: summary}, delta_theory={0.0: curves.mean(0)},
        r_runs={0.2: {"mean": curves.mean(0), "se": curves.std(0) / 2}},
        r_theory={0.2: curves.mean(0)}, stationary={0.2: 1.0}, bound=curves.mean(0),
        no_verifier={"mean": curves.mean(0), "se": curves.std(0)}, no_verifier_walk=curves,
        no_verifier_slope=0.01)
    _says_what_its_bands_are(fig)
    texts = {t_.get_text() for ax in fig.axes if ax.get_legend()
             for t_ in ax.get_legend().get_texts()}
    assert {"shaded: 10-90% of seeds", "shaded: 10-90% of 3 seeds",
            "shaded: seed mean +- 2 SE"} <= texts
    assert {"Delta^2 (the limit, dotted)", "exact stationary level (dotted)"} <= texts

    side = 4
    metrics = {m: rng.uniform(0, 1, (4, 4)) for m in ("fd_real", "pixel_var", "coverage")}
    grid = rng.uniform(0, 1, (4, 2 * 1, side * side))
    fig = vae.verification_figure({"strong": metrics, "none": metrics}, {"strong": grid},
                                  side=side, classes=2)
    band_axes = _band_axes(fig)
    named = [ax for ax in band_axes if ax.get_legend()]
    assert named and all(
        any(t_.get_text().startswith("shaded:") for t_ in ax.get_legend().get_texts())
        for ax in named)
