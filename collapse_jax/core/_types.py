"""jaxtyping aliases shared by the modules.

Device-side (JAX) aliases: :data:`Scalar`, :data:`Vector`, :data:`Matrix`, :data:`Points`,
:data:`Weights`. Host-side aliases for the closed forms (numpy/scipy, called with Python
numbers, NumPy scalars and arrays, and JAX arrays): :data:`RealScalar`, :data:`IntScalar`,
:data:`RealArray`, :data:`RealInput`, :data:`Window`.

The test suite checks these annotations at run time (the jaxtyping pytest hook with beartype,
``[tool.pytest.ini_options]`` in ``pyproject.toml``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from jaxtyping import Array, ArrayLike, Bool, Float, Int, PRNGKeyArray, Real

Key = PRNGKeyArray
Scalar = Float[Array, ""]
Vector = Float[Array, " d"]
Matrix = Float[Array, "d d"]
Points = Float[Array, "m d"]
Weights = Float[Array, " m"]
#: Inputs that may be JAX or NumPy arrays (host callers pass NumPy): same shapes as above.
VectorLike = Float[ArrayLike, " d"]
MatrixLike = Float[ArrayLike, "d d"]
PointsLike = Float[ArrayLike, "m d"]
WeightsLike = Real[ArrayLike, " m"]

#: A real number on the host: Python ``int``/``float``, NumPy scalar or 0-d array.
RealScalar = Real[ArrayLike, ""]
#: An integer on the host: Python ``int``, NumPy integer or 0-d integer array.
IntScalar = Int[ArrayLike, ""]
#: A real scalar or array of any shape (NumPy or JAX), as ``np.asarray`` reads it.
RealArray = Real[ArrayLike, "..."]
#: :data:`RealArray` or a (nested) sequence of numbers such as ``[1, 2, 3]``.
RealInput = Real[ArrayLike, "..."] | Sequence
#: A float result on the host: Python ``float``, NumPy float scalar or array of any shape.
FloatArray = Float[ArrayLike, "..."]
#: A float scalar result on the host: Python ``float``, NumPy float scalar or 0-d array.
FloatScalar = Float[ArrayLike, ""]
#: A ``(first, last)`` window of generations.
Window = Sequence[RealScalar] | Real[ArrayLike, " 2"]

#: A kernel's silo index: a Python int, or a traced int32 scalar under ``vmap`` over silos.
Silo = int | Int[ArrayLike, ""]
#: A kernel's per-generation metrics: arrays with a leading ``(generations + 1,)`` axis, by name.
Metrics = dict[str, Any]

__all__ = [
    "Array", "ArrayLike", "Bool", "Float", "FloatArray", "FloatScalar", "Int", "IntScalar", "Key",
    "Matrix", "MatrixLike", "Metrics", "Points", "PointsLike", "Real", "RealArray", "RealInput",
    "RealScalar", "Scalar", "Silo", "Vector", "VectorLike", "Weights", "WeightsLike", "Window",
]
