"""Privacy is a property of the API: silos answer only through published messages."""

import copy
import pickle

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from collapse_jax import mixture, proxies, silo_data, transport

ST = transport.sinkhorn_settings(2.0, 100)


@pytest.fixture(scope="module")
def world():
    truth = mixture.truth_mixture(2, 6, skew=0.7)

    @jax.jit
    def make():
        real, labels = mixture.sample(jax.random.key(0), truth, 120)
        silo_of = silo_data.dirichlet_split(jax.random.key(1), labels, 6, 4, 0.3)
        members = silo_data.membership(silo_of, 4, real.dtype)
        return real, members, mixture.sample(jax.random.key(2), truth, 80)[0]

    return make()


def _bank(world):
    real, members, _ = world
    return silo_data.SiloBank(real, members, ST)


def test_bank_exposes_no_data(world):
    real, _, _ = world
    bank = _bank(world)
    ch = silo_data.Channel(bank)
    for obj in (bank, ch):
        with pytest.raises(TypeError):
            vars(obj)  # slots only: no __dict__ to read
        with pytest.raises(TypeError):
            pickle.dumps(obj)
        assert not any(ch_ in repr(obj) for ch_ in "[]")  # no arrays in the repr
        for name in dir(obj):
            if name.startswith("__") or name.startswith(f"_{type(obj).__name__}__"):
                continue
            val = getattr(obj, name)
            if isinstance(val, jax.Array | np.ndarray):
                assert val.size == 0 or not np.isin(np.asarray(real), np.asarray(val)).any()
    with pytest.raises(TypeError):
        copy.deepcopy(bank)
    with pytest.raises(TypeError):  # not a pytree: it cannot be passed into jit
        jax.jit(lambda b: b)(bank)


def test_every_answer_is_a_published_message(world):
    _, _, cand = world
    bank = _bank(world)

    @jax.jit
    def ask(c):
        ch = silo_data.Channel(bank)
        msgs = [ch.sizes(), ch.scores("ot", c, 0), ch.scores("kmeans", c, 1),
                ch.scores("center-match", c, 2), ch.scores("cov-match", c, 3),
                ch.geodesic(c, 0.5)]
        assert all(a is b for a, b in zip(ch.transcript, msgs))
        return msgs

    msgs = ask(cand)
    kinds = (silo_data.PublishedSizes, silo_data.PublishedScores, silo_data.PublishedClouds)
    assert all(isinstance(m, kinds) for m in msgs)
    assert msgs[1].values.shape == (cand.shape[0],)
    assert msgs[5].points.shape == (4,) + cand.shape


def test_published_clouds_contain_no_private_row(world):
    real, members, cand = world
    bank = _bank(world)
    clouds = jax.jit(lambda c: silo_data.Channel(bank).geodesic(c, 1.0))(cand)  # Monge image
    d2 = jnp.sum((clouds.points[:, :, None, :] - real[None, None]) ** 2, axis=-1)
    assert float(jnp.min(d2)) > 1e-8


def test_selection_is_a_function_of_the_transcript(world):
    """Replaying the recorded messages with no silo behind them reproduces every
    collaborative selection exactly."""
    _, _, cand = world
    bank = _bank(world)

    def select(ch, c):
        one = proxies.scheme_interpolation(ch, c, 20, 0.5, ST)
        two = proxies.scheme_barycenter(ch, c, 20, 3, 16, ST, unroll=True)
        return one.indices, two.indices, two.frechet

    @jax.jit
    def live(c):
        ch = silo_data.Channel(bank)
        return select(ch, c), ch.transcript

    @jax.jit
    def replayed(transcript, c):
        replay = silo_data.ReplayChannel(transcript, silos=4)
        out = select(replay, c)
        assert len(replay.transcript) == len(transcript)
        with pytest.raises(IndexError):  # nothing left to answer from
            replay.sizes()
        return out

    (one, two, fr), transcript = live(cand)
    one_r, two_r, fr_r = replayed(transcript, cand)
    assert np.array_equal(one, one_r) and np.array_equal(two, two_r)
    np.testing.assert_array_equal(fr, fr_r)


def test_scan_and_unrolled_protocol_agree(world):
    _, _, cand = world
    bank = _bank(world)
    scan = jax.jit(lambda c: proxies.barycenter_protocol(
        silo_data.Channel(bank, record=False), c, 3))(cand[:16])
    unrolled = jax.jit(lambda c: proxies.barycenter_protocol(
        silo_data.Channel(bank, record=False), c, 3, unroll=True))(cand[:16])
    for a, b in zip(scan, unrolled):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


def test_dirichlet_split(z):
    labels = jnp.repeat(jnp.arange(4), 2000)
    split = jax.jit(lambda beta: silo_data.dirichlet_split(jax.random.key(3), labels, 4, 5, beta))
    iid = split(1e4)
    frac = np.bincount(np.asarray(iid), minlength=5) / labels.shape[0]
    assert np.all(np.abs(frac - 0.2) <= z * np.sqrt(0.2 * 0.8 / labels.shape[0]) + 0.01)
    skew = split(0.05)
    top = [np.max(np.bincount(np.asarray(skew[labels == m]), minlength=5)) / 2000
           for m in range(4)]
    assert np.mean(top) > 0.8  # beta -> 0: each mode lands (mostly) in one silo


def test_log_gamma_variates_moments(z):
    draw = jax.jit(lambda a: silo_data.log_gamma_variates(jax.random.key(4), a, (40000,)))
    for a in (0.1, 2.0):
        g = np.exp(np.asarray(draw(a), dtype=float))
        assert abs(g.mean() - a) <= z * np.sqrt(a / g.size)
        assert abs(g.var() - a) <= z * g.var() * np.sqrt(2.0 / g.size) * 3


def test_bad_rule_raises(world):
    _, _, cand = world
    with pytest.raises(ValueError, match="rule='nearest'"):
        _bank(world).scores("nearest", cand, 0)
