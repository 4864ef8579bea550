"""Argument validation that runs in Python, before anything is traced.

Every helper raises :class:`InvalidInput` (a ``ValueError``) with one line that names the
calling function, the argument, the offending value and the allowed range, so a command-line
front end can print it unchanged and exit 2. Every other exception is an internal error
(exit 3): the type, not the wording of a message, tells bad input from a bug.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import jax

# Defined without dependencies so that collapse_jax.verdict can use it without importing jax.
from collapse_jax.core._errors import InvalidInput as InvalidInput


def check_int(fn: str, name: str, value, lo: int | None = None, hi: int | None = None) -> int:
    """Return ``value`` as an int or raise a ValueError naming ``fn`` and ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int,)) and not (
        hasattr(value, "__index__")
    ):
        raise InvalidInput(f"{fn}: {name}={value!r} must be an integer")
    value = int(value)
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise InvalidInput(f"{fn}: {name}={value} is out of range; allowed {_range(lo, hi)}")
    return value


def check_float(
    fn: str,
    name: str,
    value,
    lo: float | None = None,
    hi: float | None = None,
    *,
    lo_open: bool = False,
    hi_open: bool = False,
) -> float:
    """Return ``value`` as a finite float inside the given (half-)open range."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"{fn}: {name}={value!r} must be a number") from None
    bad = not math.isfinite(value)
    if lo is not None:
        bad |= value <= lo if lo_open else value < lo
    if hi is not None:
        bad |= value >= hi if hi_open else value > hi
    if bad:
        lb = "(" if lo_open else "["
        rb = ")" if hi_open else "]"
        lo_s = "-inf" if lo is None else f"{lo:g}"
        hi_s = "inf" if hi is None else f"{hi:g}"
        raise InvalidInput(f"{fn}: {name}={value!r} is out of range; allowed {lb}{lo_s}, {hi_s}{rb}")
    return value


def check_choice(fn: str, name: str, value, choices: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``choices``."""
    choices = tuple(choices)
    if value not in choices:
        raise InvalidInput(f"{fn}: {name}={value!r} is unknown; allowed one of {', '.join(choices)}")
    return value


def check_precision(fn: str, precision: str) -> str:
    """Check the precision name and that float64 is actually available."""
    check_choice(fn, "precision", precision, ("float64", "float32"))
    if precision == "float64" and not jax.config.jax_enable_x64:
        raise InvalidInput(
            f"{fn}: precision='float64' needs 64-bit JAX; call "
            "jax.config.update('jax_enable_x64', True) before using collapse_jax "
            "(or pass precision='float32')"
        )
    return precision


def sweep_shape(fn: str, arrays: dict) -> tuple[int, ...]:
    """The common shape of parameter arrays: ``()`` (scalars) or ``(P,)`` (a sweep of ``P``
    points); anything else raises ``ValueError`` naming ``fn``."""
    import numpy as np

    try:
        shape = np.broadcast_shapes(*(np.shape(a) for a in arrays.values()))
    except ValueError:
        raise InvalidInput(f"{fn}: parameter shapes {({k: np.shape(a) for k, a in arrays.items()})}"
                         " do not broadcast") from None
    if len(shape) > 1:
        raise InvalidInput(f"{fn}: parameters must be scalars or 1-D sweeps, got shape {shape}")
    return shape


def _range(lo, hi) -> str:
    if lo is not None and hi is not None:
        return f"[{lo}, {hi}]"
    if lo is not None:
        return f">= {lo}"
    return f"<= {hi}"
