"""Collapse monitor: detect model collapse in a pipeline's own recursive-generation data.

``python -m collapse_jax.monitor PATH`` reads the samples of each generation, measures
diversity, fidelity and coverage with bootstrap standard errors, classifies the decay law of
the log total variance (bounded, power, geometric), sets its rate beside the theory
(``psi(alpha, d)`` of accumulate + top-alpha selection) and raises an early warning with a
calibrated false-alarm rate. See ``docs/monitor.md``.
"""

__all__ = ["analyse", "load_generations", "load_reference"]


def __getattr__(name: str):
    """The public functions, imported on first use: ``python -m collapse_jax.monitor --help``
    then imports neither NumPy's linear algebra nor SciPy."""
    if name == "analyse":
        from collapse_jax.monitor.analysis import analyse

        return analyse
    if name in ("load_generations", "load_reference"):
        from collapse_jax.monitor import loaders

        return getattr(loaders, name)
    raise AttributeError(f"module 'collapse_jax.monitor' has no attribute {name!r}")
