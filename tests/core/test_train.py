"""Training schedules of ``core.nets.train.fit``: fixed steps, and epochs with Yi et al.'s early
stopping (``MNIST/src/train_helper.py``: shuffled epochs of batch 128, the last batch partial,
stop after ``patience`` epochs without a lower mean training loss)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from collapse_jax.core._validate import InvalidInput
from collapse_jax.core.nets.train import epoch_order, fit, patience_step, train_config, weighted_mean


def _authors_epochs(losses, patience):
    """Their loop, transcribed: how many epochs run on this sequence of epoch losses."""
    best, trigger = float("inf"), 0
    for e, avg in enumerate(losses):
        if avg < best:
            best, trigger = avg, 0
        else:
            trigger += 1
            if trigger >= patience:
                return e + 1
    return len(losses)


def _squared(w, key, x, y, weights=None):
    del key
    return weighted_mean((x @ w - y) ** 2, weights)


def _data(key, capacity=40, dim=3, count=23):
    kx, kn = jax.random.split(key)
    x = jax.random.normal(kx, (capacity, dim), jnp.float32)
    y = x @ jnp.arange(1.0, dim + 1, dtype=jnp.float32) + 0.1 * jax.random.normal(
        kn, (capacity,), jnp.float32)
    # Dead rows (beyond count) carry a huge target: any use of them shows in the loss.
    return x, jnp.where(jnp.arange(capacity) < count, y, 1e3), count


def test_epoch_order_puts_every_live_row_first_once_in_uniform_order():
    count, capacity, keys = 5, 9, 4000
    orders = np.asarray(jax.vmap(lambda k: epoch_order(k, count, capacity))(
        jax.random.split(jax.random.key(0), keys)))
    for o in orders[:50]:
        assert sorted(o[:count]) == list(range(count))
        assert sorted(o[count:]) == list(range(count, capacity))
    # Uniform order: the row in first place, chi-square against 1/count each
    # (4 degrees of freedom; 18.47 is the 0.999 quantile).
    freq = np.bincount(orders[:, 0], minlength=count)
    chi2 = np.sum((freq - keys / count) ** 2 / (keys / count))
    assert chi2 < 18.47, freq
    # Negative control: a fixed order fails the same test.
    fixed = np.bincount(np.zeros(keys, int), minlength=count)
    assert np.sum((fixed - keys / count) ** 2 / (keys / count)) > 18.47


@pytest.mark.parametrize("patience", [1, 2, 5])
def test_patience_step_is_the_authors_rule(patience):
    rng = np.random.default_rng(patience)
    for _ in range(40):
        losses = np.cumsum(rng.normal(-0.1, 1.0, 30)).astype(np.float32)
        best, waited, trained = np.float32(np.inf), 0, len(losses)
        for e, v in enumerate(losses):
            best, waited, stop = patience_step(best, waited, v, patience)
            if stop:
                trained = e + 1
                break
        assert trained == _authors_epochs(losses, patience)
    assert _authors_epochs([3.0, 2.0, 2.0, 2.5, 1.0], 2) == 4  # equal is no improvement


def test_epochs_use_each_live_row_once_and_weight_the_partial_batch():
    """At a negligible learning rate every epoch's loss is the mean over the live rows at the
    initial model: 23 rows in batches of 4 (the last of 3 rows), dead rows never used."""
    x, y, count = _data(jax.random.key(1))
    w0 = jnp.zeros(3, jnp.float32)
    cfg = train_config(batch=4, lr=1e-12, epochs=3, patience=10)
    _, losses = jax.jit(lambda k: fit(k, w0, _squared, x, y, count, cfg))(jax.random.key(2))
    exact = float(jnp.mean(y[:count] ** 2))
    assert np.allclose(np.asarray(losses), exact, rtol=1e-5), (losses, exact)
    # Negative control: the unweighted mean of the padded last batch is another number.
    padded = jnp.concatenate([y[:count], jnp.zeros(1)])
    assert abs(float(jnp.mean(padded ** 2)) - exact) > 1e-3 * exact


def test_epochs_learn_stop_by_the_rule_and_vmap_over_counts():
    x, y, _ = _data(jax.random.key(3))
    w0 = jnp.zeros(3, jnp.float32)
    cfg = train_config(batch=8, lr=0.1, epochs=60, patience=3)

    def run(k, count):
        return fit(k, w0, _squared, x, y, count, cfg)

    counts = jnp.array([23, 40, 9], jnp.int32)
    keys = jax.random.split(jax.random.key(4), 3)
    ws, losses = jax.jit(jax.vmap(run))(keys, counts)
    for i in range(3):
        w1, l1 = jax.jit(run)(keys[i], counts[i])
        np.testing.assert_allclose(np.asarray(ws[i]), np.asarray(w1), rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(np.isfinite(losses[i]), np.isfinite(l1))
        seq = np.asarray(losses[i])
        trained = int(np.isfinite(seq).sum())
        assert np.all(np.isfinite(seq[:trained])) and np.all(np.isnan(seq[trained:]))
        assert trained == _authors_epochs(seq[:trained], 3)
        if i != 1:  # the rows of count 40 include the others' dead ones (target 1e3)
            assert seq[trained - 1] < 0.1 * seq[0]  # it learned
    # Count 40 trains on the dead rows of the others too: its loss is theirs.
    assert float(losses[1][0]) > 100 * float(losses[0][0])
    # One seed stopped early, by patience, before the 60 epochs.
    assert int(np.isfinite(np.asarray(losses)).sum(1).min()) < 60


def test_fixed_steps_are_unchanged_by_the_new_fields():
    x, y, count = _data(jax.random.key(5))
    w0 = jnp.zeros(3, jnp.float32)
    a = fit(jax.random.key(6), w0, _squared, x, y, count, train_config(steps=30, batch=8))
    b = fit(jax.random.key(6), w0, lambda m, k, xb, yb: jnp.mean((xb @ m - yb) ** 2), x, y,
            count, train_config(steps=30, batch=8, epochs=0, patience=9))
    np.testing.assert_array_equal(np.asarray(a[1]), np.asarray(b[1]))
    assert a[1].shape == (30,)


@pytest.mark.parametrize(("kw", "name"), [({"epochs": -1}, "epochs"),
                                          ({"patience": 0}, "patience")])
def test_bad_schedule_is_refused(kw, name):
    with pytest.raises(InvalidInput, match=f"train_config.*{name}"):
        train_config(**kw)
