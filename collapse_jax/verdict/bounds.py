"""Bounds of command-line values that follow from the mathematics and from what float64 (or
int32 indexing) can represent, so that an absurd value is refused before anything is traced.

Each helper returns a ``(flag, value, ok, allowed)`` row for :func:`._common.check_flags`;
``ok`` is false for NaN and infinities as well (``argparse``'s ``float`` accepts ``'nan'``,
``'inf'`` and ``'1e400'``). Memory is not bounded here: :mod:`collapse_jax.engine.batch` estimates
the bytes a run needs before compiling.

Where the numbers come from:

* :data:`INDEX_MAX` ``= 2**31 - 1``: every count that numbers PRNG streams or indexes an
  array. ``jax.random.fold_in`` folds seed ``i`` (and silo ``s``) into the key as one 32-bit
  word, so seeds past ``2**32`` would repeat streams; ``lax.top_k``, gathers and sorts index
  with int32, so a candidate set or an array axis larger than this cannot be ranked.
* :func:`scale_range`: a length scale (noise ``sigma``, bias, entropic ``epsilon``, metric
  scale) enters squared and as the divisor of another squared scale (``delta^2 / sigma^2``,
  ``d^2 / c``, ``C / epsilon``): a product of three such factors stays a normal number of the
  precision when each scale lies within ``10^(+-e)``, ``e`` a third of the decimal exponent
  range of the precision's normal numbers (float64: ``e = 102``, float32: ``e = 12``).
  Outside it a variance underflows to 0 or a ratio overflows to inf before a claim is read.
"""

from __future__ import annotations

import math

#: Largest count that numbers PRNG streams (32-bit ``fold_in`` data) or indexes an array
#: (int32 in ``lax.top_k``, gathers and sorts).
INDEX_MAX = 2**31 - 1


def scale_range(precision: str = "float64") -> tuple[float, float]:
    """``(10^-e, 10^e)``: a third of the decimal exponent range of the normal numbers of
    ``precision`` each way (float64: ``1e-102 .. 1e102``; float32: ``1e-12 .. 1e12``)."""
    import numpy as np

    fi = np.finfo(precision)
    e = int(min(-math.log10(float(fi.tiny)), math.log10(float(fi.max))) // 3)
    return 10.0**-e, 10.0**e


#: Smallest and largest length scale whose squares and ratios stay normal float64 numbers.
SCALE_MIN, SCALE_MAX = scale_range("float64")


def finite(value) -> bool:
    """True for a finite number (``None`` and non-numbers are not finite)."""
    try:
        return math.isfinite(value)
    except TypeError:
        return False


def count(flag: str, value, hi: int = INDEX_MAX, why: str = "int32 index") -> tuple:
    """Upper bound of a count (the lower bound is the check's own row)."""
    return (flag, value, value is None or value <= hi, f"<= {hi} ({why})")


def seeds(value) -> tuple:
    """``--seeds`` at most ``2**31 - 1``: seed ``i`` is folded into the key as a 32-bit word."""
    return count("--seeds", value, INDEX_MAX, "seed i is folded into the PRNG key as a 32-bit "
                 "word: 2**31 - 1")


def scale(flag: str, value, *, zero: bool = False, precision: str = "float64") -> tuple:
    """A length scale in :func:`scale_range` (``0`` allowed too when ``zero``): its squares
    and ratios stay normal numbers of ``precision``."""
    lo, hi = scale_range(precision)
    ok = finite(value) and (lo <= value <= hi or (zero and value == 0))
    allowed = (f"0 or [{lo:g}, {hi:g}]" if zero else f"[{lo:g}, {hi:g}]")
    return (flag, value, ok, allowed + f" (squares and ratios of scales stay normal {precision} "
            "numbers)")


def interval(flag: str, value, lo: float, hi: float, *, lo_open: bool = False,
             hi_open: bool = False, why: str = "") -> tuple:
    """A finite number in the interval ``lo .. hi`` (open ends as given)."""
    ok = finite(value)
    if ok:
        ok = (value > lo if lo_open else value >= lo) and (value < hi if hi_open else value <= hi)
    text = f"{'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"
    return (flag, value, ok, text + (f" ({why})" if why else ""))
