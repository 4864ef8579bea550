"""jaxtyping aliases shared by the modules."""

from __future__ import annotations

from jaxtyping import Array, Bool, Float, Int, PRNGKeyArray

Key = PRNGKeyArray
Scalar = Float[Array, ""]
Vector = Float[Array, " d"]
Matrix = Float[Array, "d d"]
Points = Float[Array, "m d"]
Weights = Float[Array, " m"]

__all__ = ["Array", "Bool", "Float", "Int", "Key", "Matrix", "Points", "Scalar", "Vector", "Weights"]
