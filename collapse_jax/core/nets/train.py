"""Minibatch training as ONE ``lax.scan`` over optimiser steps (optax), for one seed.

Because the whole run is a scanned pure function of ``(key, model, data)``,
``jax.jit(jax.vmap(fit))`` trains many seeds (or sweep points) at once, purejaxrl-style.

The data set is a fixed-size buffer ``x[:capacity]`` of which the first ``count`` rows are live
(``count`` may be traced): every step draws ``batch`` row indices uniformly from
``0 .. count - 1`` (sampling with replacement), so buffers that grow round by round keep one
static shape.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from collapse_jax.core._types import Array, Key
from collapse_jax.core._validate import check_float, check_int


class TrainConfig(NamedTuple):
    """Static training settings (hashable)."""

    steps: int
    batch: int
    lr: float
    weight_decay: float


def train_config(*, steps: int = 1000, batch: int = 64, lr: float = 1e-3,
                 weight_decay: float = 0.0) -> TrainConfig:
    """Validated :class:`TrainConfig` (Adam, or AdamW when ``weight_decay > 0``)."""
    fn = "train_config"
    return TrainConfig(check_int(fn, "steps", steps, 1, 10**7),
                       check_int(fn, "batch", batch, 1, 10**6),
                       check_float(fn, "lr", lr, 0.0, 1.0, lo_open=True),
                       check_float(fn, "weight_decay", weight_decay, 0.0, 1.0))


def optimizer(cfg: TrainConfig) -> optax.GradientTransformation:
    """The optax transformation of ``cfg``."""
    if cfg.weight_decay > 0:
        return optax.adamw(cfg.lr, weight_decay=cfg.weight_decay)
    return optax.adam(cfg.lr)


def fit(key: Key, model, loss: Callable, x: Array, y: Array, count, cfg: TrainConfig):
    """Train ``model`` on ``(x[:count], y[:count])`` for ``cfg.steps`` minibatch steps.

    ``loss(model, key, xb, yb)`` returns a scalar (e.g. :func:`~collapse_jax.core.nets.cvae.neg_elbo`).
    Returns ``(model, losses)`` with ``losses`` the ``(steps,)`` minibatch losses.
    """
    opt = optimizer(cfg)
    state = opt.init(model)
    grad_fn = jax.value_and_grad(loss)
    count = jnp.asarray(count)

    k_idx, k_loss = jax.random.split(key)
    # All minibatch indices at once: row i of step s is floor(u * count).
    u = jax.random.uniform(k_idx, (cfg.steps, cfg.batch), jnp.float32)
    idx_all = jnp.minimum((u * count).astype(jnp.int32), count.astype(jnp.int32) - 1)

    def step(carry, xs):
        model, state = carry
        idx, k = xs
        value, grads = grad_fn(model, k, x[idx], y[idx])
        updates, state = opt.update(grads, state, model)
        model = optax.apply_updates(model, updates)
        return (model, state), value

    (model, _), losses = jax.lax.scan(step, (model, state),
                                      (idx_all, jax.random.split(k_loss, cfg.steps)))
    return model, losses
