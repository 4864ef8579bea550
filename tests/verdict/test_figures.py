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
