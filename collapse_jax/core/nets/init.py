"""Fresh weights for an equinox model from ONE random draw (cheap to compile under ``jit``).

``eqx.nn.Linear`` draws ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))`` for its weight and bias with
one call per array (PyTorch's default for ``nn.Linear``, ``nn.Conv2d`` and
``nn.ConvTranspose2d`` alike, with ``fan_in`` the input features, ``in_channels / groups x
kernel area`` and ``out_channels / groups x kernel area`` respectively); inside a scanned,
vmapped training loop those calls dominate compile time. :func:`reinit` draws one uniform
vector for the whole model and slices it, giving the same distribution with one random call.
``like`` may be a real model or the output of ``eqx.filter_eval_shape`` (shapes only), so no
weights are computed just to be replaced.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from collapse_jax.core._types import Key
from collapse_jax.core._validate import InvalidInput


def _is_linear(x) -> bool:
    """A layer :func:`reinit` knows the fan-in of (linear, convolution, transposed
    convolution)."""
    return isinstance(x, (eqx.nn.Linear, eqx.nn.Conv, eqx.nn.ConvTranspose))


def _fan_in(layer) -> int:
    """PyTorch's fan-in of a layer's default initialisation (module doc)."""
    if isinstance(layer, eqx.nn.Linear):
        return layer.in_features if layer.in_features != "scalar" else 1
    area = int(np.prod(layer.kernel_size))
    channels = layer.out_channels if isinstance(layer, eqx.nn.ConvTranspose) else layer.in_channels
    return channels // layer.groups * area


def reinit(like, key: Key):
    """A model shaped like ``like`` with fresh ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))`` weights.

    Every array leaf must belong to an ``eqx.nn.Linear``, ``eqx.nn.Conv`` or
    ``eqx.nn.ConvTranspose`` layer (the modules of this package).
    """
    def limits(lin):
        return jax.tree.map(lambda _: 1.0 / np.sqrt(_fan_in(lin)), lin)

    lims = jax.tree.map(limits, like, is_leaf=_is_linear)
    leaves, treedef = jax.tree.flatten(like)
    lim_leaves = jax.tree.leaves(lims)
    if len(lim_leaves) != len(leaves) or any(not _is_linear(x) for x in
                                             jax.tree.leaves(like, is_leaf=_is_linear)):
        raise InvalidInput("reinit: like holds arrays outside linear and convolution layers; "
                           "allowed models built from eqx.nn.Linear, Conv and ConvTranspose")
    sizes = [int(np.prod(leaf.shape)) for leaf in leaves]
    dtype = leaves[0].dtype
    u = jax.random.uniform(key, (sum(sizes),), dtype, -1.0, 1.0)
    out, start = [], 0
    for leaf, lim, size in zip(leaves, lim_leaves, sizes):
        out.append((u[start:start + size] * jnp.asarray(lim, dtype)).reshape(leaf.shape))
        start += size
    return jax.tree.unflatten(treedef, out)
