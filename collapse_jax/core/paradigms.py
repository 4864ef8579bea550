"""The paradigm names, kept importable here: the pools live in :mod:`collapse_jax.core.pool`.

``PARADIGMS`` is ``("replace", "accumulate", "accumulate-subsample")``; build the pool of one
with :func:`collapse_jax.core.pool.pool_for`.
"""

from collapse_jax.core.pool import PARADIGMS, SubsamplePool, bottom_k

__all__ = ["PARADIGMS", "SubsamplePool", "bottom_k"]
