import jax
import jax.numpy as jnp
import numpy as np
import pytest

from collapse_jax.core import gaussian as g


def _spd(key, d):
    a = jax.random.normal(key, (d, d))
    return a @ a.T + 0.5 * jnp.eye(d)


def test_merge_moments_equals_moments_of_union():
    k1, k2 = jax.random.split(jax.random.key(0))
    x = jax.random.normal(k1, (7, 3)) * 3 + 5
    y = jax.random.normal(k2, (11, 3)) * 1e-4 + 5
    merged = g.merge_moments(g.moments(x), g.moments(y))
    direct = g.moments(jnp.concatenate([x, y]))
    for a, b in zip(merged, direct):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_weighted_moments_ignore_zero_weight_rows():
    x = jnp.arange(12.0).reshape(6, 2)
    w = jnp.array([1, 1, 1, 0, 0, 0.0])
    for a, b in zip(g.moments(x, w), g.moments(x[:3])):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_w2_one_dimension_closed_form():
    m1, s1, m2, s2 = jnp.array([0.3]), jnp.array([[4.0]]), jnp.array([-1.0]), jnp.array([[0.25]])
    np.testing.assert_allclose(g.w2_squared(m1, s1, m2, s2), 1.3**2 + (2.0 - 0.5) ** 2, rtol=1e-12)


def test_w2_commuting_covariances():
    s1, s2 = jnp.diag(jnp.array([1.0, 4.0])), jnp.diag(jnp.array([9.0, 1.0]))
    m = jnp.zeros(2)
    np.testing.assert_allclose(g.w2_squared(m, s1, m, s2), (1 - 3) ** 2 + (2 - 1) ** 2, rtol=1e-12)


@pytest.mark.slow
def test_mccann_geodesic_is_constant_speed():
    k = jax.random.split(jax.random.key(1), 4)
    m0, m1 = jax.random.normal(k[0], (3,)), jax.random.normal(k[1], (3,))
    s0, s1 = _spd(k[2], 3), _spd(k[3], 3)
    w_full = jnp.sqrt(g.w2_squared(m0, s0, m1, s1))
    for tau in (0.2, 0.5, 0.9):
        mt, st = g.mccann_geodesic(m0, s0, m1, s1, tau)
        np.testing.assert_allclose(jnp.sqrt(g.w2_squared(m0, s0, mt, st)), tau * w_full, rtol=1e-8)
        np.testing.assert_allclose(jnp.sqrt(g.w2_squared(mt, st, m1, s1)), (1 - tau) * w_full,
                                   rtol=1e-8)


def test_barycenter_one_dimension_and_fixed_point():
    means = jnp.array([[0.0], [2.0], [5.0]])
    sig = jnp.array([0.5, 1.0, 3.0])
    lam = jnp.array([0.2, 0.3, 0.5])
    m, s = g.w2_barycenter(means, (sig**2)[:, None, None], lam)
    np.testing.assert_allclose(m, lam @ means, rtol=1e-12)
    np.testing.assert_allclose(jnp.sqrt(s[0, 0]), lam @ sig, rtol=1e-10)
    ks = jax.random.split(jax.random.key(2), 3)
    covs = jnp.stack([_spd(k, 3) for k in ks])
    _, s = g.w2_barycenter(jnp.zeros((3, 3)), covs, lam, iterations=200)
    r = g.sqrtm_psd(s)
    rhs = sum(lam[i] * g.sqrtm_psd(r @ covs[i] @ r) for i in range(3))
    np.testing.assert_allclose(s, rhs, rtol=1e-8, atol=1e-10)
