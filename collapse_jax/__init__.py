"""collapse_jax: vectorised JAX simulations that check the theory of model collapse.

The public face, imported lazily (``import collapse_jax`` imports neither jax nor matplotlib):

* ``run``, ``run_sweep``, ``stream``: run a kernel over seeds (and a parameter grid) under one
  ``jit`` (:mod:`collapse_jax.engine.batch`, also available as ``collapse_jax.batch``);
* ``verdict``: claims, the table, the JSON report, tidy curves and the command-line harness;
* ``registry``: the kernels by name (:mod:`collapse_jax.engine.registry`);
* ``stats``: the interval procedures (:mod:`collapse_jax.core.stats`).

The theorem families live in ``power_law``, ``classic``, ``knowledge_center``, ``proxy`` and
``vae``, each with a ``kernel``, a ``theory``, ``figures`` and a ``check``; the shared pieces
in ``core`` and ``engine``.
"""

import importlib

__version__ = "0.1.0"

_MODULES = {"batch": "collapse_jax.engine.batch", "registry": "collapse_jax.engine.registry",
            "stats": "collapse_jax.core.stats", "verdict": "collapse_jax.verdict"}
_FUNCTIONS = {"run": "collapse_jax.engine.batch", "run_sweep": "collapse_jax.engine.batch",
              "stream": "collapse_jax.engine.batch"}

__all__ = ["__version__", *_MODULES, *_FUNCTIONS]


def __getattr__(name):
    if name in _MODULES:
        return importlib.import_module(_MODULES[name])
    if name in _FUNCTIONS:
        return getattr(importlib.import_module(_FUNCTIONS[name]), name)
    raise AttributeError(f"module 'collapse_jax' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_MODULES, *_FUNCTIONS])
