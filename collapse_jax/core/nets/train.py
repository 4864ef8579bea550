"""Minibatch training as one pure loop over optimiser steps (optax), for one seed.

Because the whole run is a pure function of ``(key, model, data)``, ``jax.jit(jax.vmap(fit))``
trains many seeds (or sweep points) at once, purejaxrl-style.

The data set is a fixed-size buffer ``x[:capacity]`` of which the first ``count`` rows are live
(``count`` may be traced), so buffers that grow round by round keep one static shape. Two
schedules:

* **fixed steps** (``epochs=0``, the default): ONE ``lax.scan`` of ``steps`` steps, each of
  ``batch`` row indices drawn uniformly from ``0 .. count - 1`` (with replacement);
* **epochs with early stopping** (``epochs > 0``), the rule of Yi et al.'s ``train_model``
  (``MNIST/src/train_helper.py``): every epoch visits the live rows once in a fresh random
  order, in ``ceil(count / batch)`` batches of which the last may be partial (PyTorch's
  ``DataLoader(shuffle=True)``, ``drop_last=False``); after each epoch its mean per-example
  loss is compared with the best so far, and training stops once ``patience`` epochs in a
  row have not improved on it (or after ``epochs``); the model is the last one, not the
  best. A ``lax.while_loop`` over epochs around one over the epoch's batches: under ``vmap``
  each seed stops at its own epoch (a finished seed's state is held while the others go on).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from collapse_jax.core import _random
from collapse_jax.core._types import Array, Key
from collapse_jax.core._validate import check_float, check_int


class TrainConfig(NamedTuple):
    """Static training settings (hashable)."""

    steps: int
    batch: int
    lr: float
    weight_decay: float
    epochs: int = 0
    patience: int = 5


def train_config(*, steps: int = 1000, batch: int = 64, lr: float = 1e-3,
                 weight_decay: float = 0.0, epochs: int = 0, patience: int = 5
                 ) -> TrainConfig:
    """Validated :class:`TrainConfig` (Adam, or AdamW when ``weight_decay > 0``).

    ``epochs=0``: ``steps`` minibatch steps drawn with replacement. ``epochs > 0``: at most
    ``epochs`` passes over the data, stopped early after ``patience`` epochs without a lower
    epoch loss (``steps`` is then unused; module docstring)."""
    fn = "train_config"
    return TrainConfig(check_int(fn, "steps", steps, 1, 10**7),
                       check_int(fn, "batch", batch, 1, 10**6),
                       check_float(fn, "lr", lr, 0.0, 1.0, lo_open=True),
                       check_float(fn, "weight_decay", weight_decay, 0.0, 1.0),
                       check_int(fn, "epochs", epochs, 0, 10**5),
                       check_int(fn, "patience", patience, 1, 10**5))


def weighted_mean(loss: Array, weights: Array | None = None) -> Array:
    """``mean(loss)``, or ``sum(weights * loss) / len(loss)`` with weights: the batch
    reduction of every loss :func:`fit` trains on (the weights mask a partial last batch)."""
    if weights is None:
        return jnp.mean(loss)
    return jnp.sum(weights.astype(loss.dtype) * loss) / loss.shape[0]


def optimizer(cfg: TrainConfig) -> optax.GradientTransformation:
    """The optax transformation of ``cfg``."""
    if cfg.weight_decay > 0:
        return optax.adamw(cfg.lr, weight_decay=cfg.weight_decay)
    return optax.adam(cfg.lr)


def fit(key: Key, model, loss: Callable, x: Array, y: Array, count, cfg: TrainConfig):
    """Train ``model`` on ``(x[:count], y[:count])`` (module docstring: steps or epochs).

    ``loss(model, key, xb, yb)`` returns a scalar (e.g. :func:`~collapse_jax.core.nets.cvae.neg_elbo`);
    with ``cfg.epochs > 0`` it is called as ``loss(model, key, xb, yb, weights)`` and returns
    ``sum(weights * per-example loss) / batch`` (the weights mask a partial last batch).
    Returns ``(model, losses)``: with fixed steps the ``(steps,)`` minibatch losses; with
    epochs the ``(epochs,)`` mean per-example loss of each epoch, NaN after the last one
    trained (so ``sum(isfinite(losses))`` is the number of epochs trained).
    """
    if cfg.epochs > 0:
        return _fit_epochs(key, model, loss, x, y, count, cfg)
    opt = optimizer(cfg)
    state = opt.init(model)
    grad_fn = jax.value_and_grad(loss)
    count = jnp.asarray(count)

    k_idx, k_loss = jax.random.split(key)
    # All minibatch indices at once: row i of step s is floor(u * count).
    u = _random.uniform(k_idx, (cfg.steps, cfg.batch), jnp.float32)
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


def passes(losses: Array, cfg: TrainConfig, count) -> Array:
    """Passes over the data a :func:`fit` made: with epochs, the epochs trained (the finite
    entries of its ``losses``); with fixed steps, ``steps * batch / count``."""
    if cfg.epochs > 0:
        return jnp.sum(jnp.isfinite(losses)).astype(jnp.float32)
    return (cfg.steps * cfg.batch / jnp.maximum(jnp.asarray(count), 1)).astype(jnp.float32)


def last_loss(losses: Array, cfg: TrainConfig) -> Array:
    """The training loss a :func:`fit` ended at: the last epoch's mean, or the mean of the
    last tenth of the fixed steps' minibatch losses."""
    if cfg.epochs > 0:
        return losses[jnp.maximum(jnp.sum(jnp.isfinite(losses)) - 1, 0)]
    return jnp.mean(losses[-max(1, cfg.steps // 10):])


def epoch_order(key: Key, count, capacity: int) -> Array:
    """A uniformly random order of the live rows ``0 .. count - 1`` of a buffer of
    ``capacity``, followed by the dead rows: ``(capacity,)`` int32 (one argsort of uniform
    keys, the dead rows' keys set above every live one)."""
    u = jax.random.uniform(key, (capacity,), jnp.float32)
    u = jnp.where(jnp.arange(capacity) < count, u, 2.0)
    return jnp.argsort(u).astype(jnp.int32)


def patience_step(best, waited, epoch_loss, patience: int):
    """One epoch of Yi et al.'s early stopping: a strictly lower loss resets the wait and
    becomes the best; otherwise the wait grows by one. Returns ``(best, waited, stop)`` with
    ``stop = waited >= patience``."""
    better = epoch_loss < best
    best = jnp.where(better, epoch_loss, best)
    waited = jnp.where(better, 0, waited + 1)
    return best, waited, waited >= patience


def _fit_epochs(key: Key, model, loss: Callable, x: Array, y: Array, count, cfg: TrainConfig):
    opt = optimizer(cfg)
    grad_fn = jax.value_and_grad(loss)
    capacity, b = x.shape[0], cfg.batch
    count = jnp.asarray(count).astype(jnp.int32)
    n_batches = (count + b - 1) // b
    lanes = jnp.arange(b, dtype=jnp.int32)

    def epoch(carry):
        model, state, e, best, waited, stop, losses = carry
        k_order, k_loss = jax.random.split(jax.random.fold_in(key, e))
        # Padded so that the last (partial) batch's slice stays inside the buffer.
        order = jnp.concatenate([epoch_order(k_order, count, capacity),
                                 jnp.zeros((b,), jnp.int32)])

        def batch_step(inner):
            model, state, j, total = inner
            pos = j * b + lanes
            idx = jax.lax.dynamic_slice(order, (j * b,), (b,))
            w = (pos < count).astype(jnp.float32)
            value, grads = grad_fn(model, jax.random.fold_in(k_loss, j), x[idx], y[idx], w)
            updates, state = opt.update(grads, state, model)
            return (optax.apply_updates(model, updates), state, j + 1,
                    total + value.astype(jnp.float32) * b)

        model, state, _, total = jax.lax.while_loop(
            lambda inner: inner[2] < n_batches, batch_step,
            (model, state, jnp.int32(0), jnp.float32(0)))
        mean = total / jnp.maximum(count, 1)
        best, waited, stop = patience_step(best, waited, mean, cfg.patience)
        return model, state, e + 1, best, waited, stop, losses.at[e].set(mean)

    init = (model, opt.init(model), jnp.int32(0), jnp.float32(jnp.inf), jnp.int32(0),
            jnp.bool_(False), jnp.full((cfg.epochs,), jnp.nan, jnp.float32))
    model, *_, losses = jax.lax.while_loop(
        lambda c: (c[2] < cfg.epochs) & ~c[5], epoch, init)
    return model, losses
