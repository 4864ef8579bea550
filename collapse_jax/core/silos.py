"""Ground truth and siloed references.

A seed draws one ground truth ``N(mu*, Sigma*)`` shared by all silos. Silo ``k`` sees a
biased slice of it, which the theory summarises by its reference point
``u*_k = mu* + offset * (a random sign times sqrt(Sigma*_ii) on a random half of the
coordinates)``: the offset is measured in units of the truth's standard deviation, and
``offset = 0`` is the centred (unbiased) silo. Silo streams come from
``jax.random.fold_in(key, silo)``.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from collapse_jax.core import _random
from collapse_jax.core._types import Key, Matrix, Vector
from collapse_jax.core._validate import InvalidInput


class Truth(NamedTuple):
    """The global data distribution ``N(mean, cov)`` of one seed."""

    mean: Vector
    cov: Matrix


def draw_truth(key: Key, dim: int, kind: str, dtype) -> Truth:
    """``standard``: N(0, I). ``random``: ``mu* ~ N(0, I)``, ``Sigma* = A A^T + 0.1 I`` with
    ``A`` standard normal ``(d, d)``."""
    if kind == "standard":
        return Truth(jnp.zeros(dim, dtype), jnp.eye(dim, dtype=dtype))
    if kind == "random":
        k_m, k_a = jax.random.split(key)
        a = _random.normal(k_a, (dim, dim), dtype)
        return Truth(jax.random.normal(k_m, (dim,), dtype), a @ a.T + 0.1 * jnp.eye(dim, dtype=dtype))
    raise InvalidInput(f"draw_truth: kind={kind!r} is unknown; allowed one of standard, random")


def biased_reference(key: Key, truth: Truth, offset, rule: str = "scaled") -> Vector:
    """Reference ``u*`` of one silo.

    ``scaled``: ``mu*`` shifted by ``offset`` standard deviations, with a random sign, on a
    random ``ceil(d / 2)`` of the coordinates. ``gaussian`` (Qiao et al.'s script):
    ``mu* + offset z`` on a random ``floor(d / 2)`` of the coordinates, ``z ~ N(0, 1)``, in the
    data's units (not scaled by the truth's standard deviations).
    """
    d = truth.mean.shape[0]
    if rule == "gaussian":
        k_perm, k_z = jax.random.split(key)
        chosen = jax.random.permutation(k_perm, d) < d // 2
        z = jax.random.normal(k_z, (d,), truth.mean.dtype)
        return truth.mean + (offset * z * chosen).astype(truth.mean.dtype)
    if rule != "scaled":
        raise InvalidInput(f"biased_reference: rule={rule!r} is unknown; allowed one of "
                           "scaled, gaussian")
    k_perm, k_sign = jax.random.split(key)
    chosen = jax.random.permutation(k_perm, d) < (d + 1) // 2
    sign = jnp.where(jax.random.bernoulli(k_sign, 0.5, (d,)), 1.0, -1.0)
    shift = offset * sign * jnp.sqrt(jnp.diag(truth.cov)) * chosen
    return truth.mean + shift.astype(truth.mean.dtype)
