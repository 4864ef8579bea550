"""Collapse monitor: detect model collapse in a pipeline's own recursive-generation data.

``python -m collapse_jax.monitor PATH`` reads the samples of each generation, measures
diversity, fidelity and coverage with bootstrap standard errors, classifies the decay law of
the log total variance (bounded, power, geometric), sets its rate beside the theory
(``psi(alpha, d)`` of accumulate + top-alpha selection) and raises an early warning with a
calibrated false-alarm rate. See ``docs/monitor.md``.
"""

from collapse_jax.monitor.analysis import analyse
from collapse_jax.monitor.loaders import load_generations, load_reference

__all__ = ["analyse", "load_generations", "load_reference"]
