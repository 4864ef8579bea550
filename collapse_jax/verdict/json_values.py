"""Plain JSON values: NaN and infinities become ``null``."""

from __future__ import annotations

import math

import numpy as np


def _num(v):
    """``float(v)``, or ``None`` when it is NaN or infinite."""
    v = float(v)
    return v if math.isfinite(v) else None


def to_jsonable(obj):
    """Nested dicts/lists/arrays to plain JSON values (NaN and inf as null)."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return _num(obj)
    return obj
