"""core.pool: the one data-pool abstraction (replace, accumulate, accumulate-subsample,
buffer) that every kernel calls through ``init`` / ``update`` / ``read``."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from collapse_jax.core import pool as pools
from collapse_jax.core._validate import InvalidInput
from collapse_jax.core.gaussian import moments

from ..conftest import Z


def _batches(seed=0, sizes=(6, 4, 5), d=3):
    rng = np.random.default_rng(seed)
    return [jnp.asarray(rng.normal(size=(m, d)) * (1 + i) + i) for i, m in enumerate(sizes)]


def _run(pool, batches, weights=None, key=None):
    weights = weights or [None] * len(batches)
    keys = [None] * len(batches) if key is None else list(jax.random.split(key, len(batches)))
    state = pool.init(pools.Rows(batches[0], weights[0]), keys[0])
    for x, w, k in zip(batches[1:], weights[1:], keys[1:]):
        state = pool.update(state, pools.Rows(x, w), k)
    return state


# ---- bottom-k -----------------------------------------------------------------------------

def test_bottom_k_keeps_the_smallest_priorities_of_everything_seen():
    rng = np.random.default_rng(0)
    k, d = 5, 3
    pool = pools.SubsamplePool(jnp.zeros((k, d)), jnp.full((k,), jnp.inf))
    xs, ps = [], []
    for _ in range(4):
        x = rng.normal(size=(7, d))
        p = rng.uniform(size=7)
        p[0] = np.inf  # a row never to keep (zero weight)
        pool = pools.bottom_k(pool, jnp.asarray(x), jnp.asarray(p))
        xs.append(x)
        ps.append(p)
    x_all, p_all = np.concatenate(xs), np.concatenate(ps)
    best = np.argsort(p_all)[:k]
    np.testing.assert_array_equal(np.sort(np.asarray(pool.priority)), np.sort(p_all[best]))
    order = np.argsort(np.asarray(pool.priority))
    np.testing.assert_array_equal(np.asarray(pool.points)[order], x_all[best])


def test_bottom_k_fills_empty_slots_before_dropping_rows():
    pool = pools.SubsamplePool(jnp.zeros((4, 1)), jnp.full((4,), jnp.inf))
    pool = pools.bottom_k(pool, jnp.arange(3.0)[:, None], jnp.array([0.9, 0.5, 0.7]))
    assert int(np.sum(np.isfinite(np.asarray(pool.priority)))) == 3
    assert sorted(np.asarray(pool.points)[np.isfinite(np.asarray(pool.priority)), 0]) == [0, 1, 2]


def test_the_paradigm_names():
    assert pools.PARADIGMS == ("replace", "accumulate", "accumulate-subsample")


# ---- replace / accumulate -----------------------------------------------------------------

def test_replace_keeps_only_the_newest_batch():
    batches = _batches()
    m = pools.pool_for("replace").read(_run(pools.pool_for("replace"), batches))
    want = moments(batches[-1])
    for a, b in zip(m, want):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_accumulate_is_the_moments_of_the_concatenation():
    batches = _batches()
    w = [jnp.asarray(np.r_[np.ones(m - 2), 0.0, 0.0]) for m in (6, 4, 5)]
    p = pools.pool_for("accumulate")
    got = p.read(_run(p, batches, w))
    want = moments(jnp.concatenate(batches), jnp.concatenate(w))
    assert float(got.count) == float(want.count) == 9.0
    np.testing.assert_allclose(np.asarray(got.mean), np.asarray(want.mean), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(got.scatter), np.asarray(want.scatter), rtol=1e-11,
                               atol=1e-12)


def test_given_batch_moments_are_used_as_they_are():
    x = _batches()[0]
    given = moments(2.0 * x)  # deliberately not the rows' moments
    m = pools.pool_for("replace").init(pools.Rows(x, moments=given))
    np.testing.assert_array_equal(np.asarray(m.mean), np.asarray(given.mean))


def test_accumulate_of_sums_from_empty_equals_init():
    p = pools.accumulate(lambda a, b: a + b, lambda r: r.points.sum(axis=0))
    batches = _batches()
    s = p.empty(pools.Rows(batches[0]))
    np.testing.assert_array_equal(np.asarray(s), 0.0)
    for x in batches:
        s = p.update(s, pools.Rows(x))
    np.testing.assert_allclose(np.asarray(s), np.asarray(jnp.concatenate(batches).sum(0)),
                               rtol=1e-13)


# ---- accumulate-subsample -----------------------------------------------------------------

def test_subsample_holds_every_row_until_full_and_never_a_zero_weight_row():
    x = jnp.arange(12.0)[:, None]
    w = jnp.asarray(np.r_[np.ones(5), 0.0, np.ones(6)])
    p = pools.pool_for("accumulate-subsample", size=20)
    s = p.init(pools.Rows(x[:6], w[:6]), jax.random.key(1))
    s = p.update(s, pools.Rows(x[6:], w[6:]), jax.random.key(2))
    rows = pools._live_rows(s)
    kept = sorted(np.asarray(rows.points)[np.asarray(rows.weights) > 0, 0])
    assert kept == [0, 1, 2, 3, 4, 6, 7, 8, 9, 10, 11]
    m = p.read(s)
    want = moments(x, w)
    np.testing.assert_allclose(np.asarray(m.mean), np.asarray(want.mean), rtol=1e-12)


def test_subsample_is_a_uniform_subset_of_the_history():
    """Rows 0..N-1 arrive in batches of b; a pool of k must be a uniform k-subset, so the
    number of first-batch rows kept is hypergeometric and the mean kept label has the
    without-replacement variance; both are checked within Z standard errors over R seeds."""
    N, b, k, R = 40, 8, 10, 4000
    p = pools.pool_for("accumulate-subsample", size=k)
    x = jnp.arange(float(N))[:, None]

    def one(key):
        keys = jax.random.split(key, N // b)
        s = p.init(pools.Rows(x[:b]), keys[0])
        for i in range(1, N // b):
            s = p.update(s, pools.Rows(x[i * b:(i + 1) * b]), keys[i])
        return s.points[:, 0]

    kept = np.asarray(jax.jit(jax.vmap(one))(jax.random.split(jax.random.key(3), R)))
    assert all(len(set(r)) == k for r in kept[:50])
    first = (kept < b).sum(axis=1)
    frac = b / N
    var_first = k * frac * (1 - frac) * (N - k) / (N - 1)
    assert abs(first.mean() - k * frac) <= Z * np.sqrt(var_first / R)
    var_mean = (N**2 - 1) / 12 / k * (N - k) / (N - 1)
    assert abs(kept.mean(axis=1).mean() - (N - 1) / 2) <= Z * np.sqrt(var_mean / R)


# ---- buffer -------------------------------------------------------------------------------

def test_buffer_appends_or_replaces_and_the_flag_vmaps():
    xs = [jnp.full((3, 2), float(i + 1)) for i in range(3)]
    ys = [jnp.full((3,), i + 1, jnp.int32) for i in range(3)]

    def run(flag):
        p = pools.buffer(10, accumulate=flag)
        s = p.init(pools.Rows((xs[0], ys[0])))
        for x, y in zip(xs[1:], ys[1:]):
            s = p.update(s, pools.Rows((x, y)))
        return p.read(s)

    acc, rep = run(True), run(False)
    assert int(acc.count) == 9 and int(rep.count) == 3
    np.testing.assert_array_equal(np.asarray(acc.rows[1][:9]), np.repeat([1, 2, 3], 3))
    np.testing.assert_array_equal(np.asarray(rep.rows[0][:3]), 3.0)
    both = jax.vmap(run)(jnp.asarray([1.0, 0.0]))
    np.testing.assert_array_equal(np.asarray(both.count), [9, 3])
    np.testing.assert_array_equal(np.asarray(both.rows[0][0]), np.asarray(acc.rows[0]))
    np.testing.assert_array_equal(np.asarray(both.rows[0][1][:3]), 3.0)
    # A full buffer keeps its last rows: the write starts at capacity - m.
    p = pools.buffer(5)
    s = p.update(p.init(pools.Rows(xs[0])), pools.Rows(xs[1]))
    assert int(s.count) == 5
    np.testing.assert_array_equal(np.asarray(s.rows[:, 0]), [1, 1, 2, 2, 2])
    assert int(p.empty(pools.Rows(xs[0])).count) == 0


def test_buffer_counts_only_the_live_prefix_of_a_weighted_batch():
    """A batch of static size 4 whose first 2 rows are live advances the count by 2 and the
    next append overwrites its dead tail (a kept set smaller than its static buffer)."""
    p = pools.buffer(12)
    s = p.init(pools.Rows(jnp.zeros((2, 1))))
    live2 = jnp.asarray([1.0, 1.0, 0.0, 0.0])
    s = p.update(s, pools.Rows(jnp.asarray([[1.0], [2.0], [-1.0], [-1.0]]), live2))
    assert int(s.count) == 4
    s = p.update(s, pools.Rows(jnp.asarray([[3.0], [4.0], [5.0], [-1.0]]),
                               jnp.asarray([1.0, 1.0, 1.0, 0.0])))
    assert int(s.count) == 7
    np.testing.assert_array_equal(np.asarray(s.rows[:7, 0]), [0, 0, 1, 2, 3, 4, 5])
    rep = pools.buffer(12, accumulate=False)
    r = rep.update(rep.init(pools.Rows(jnp.zeros((6, 1)))),
                   pools.Rows(jnp.asarray([[1.0], [2.0], [-1.0], [-1.0]]), live2))
    assert int(r.count) == 2
    np.testing.assert_array_equal(np.asarray(r.rows[:2, 0]), [1, 2])


# ---- pool_for, jit --------------------------------------------------------------------------

def test_unknown_paradigm_raises_invalid_input_naming_everything():
    with pytest.raises(InvalidInput, match=r"my_kernel: paradigm='mix' is unknown; allowed one "
                                           r"of replace, accumulate, accumulate-subsample"):
        pools.pool_for("mix", size=4, fn="my_kernel")
    with pytest.raises(InvalidInput, match=r"pool_for: paradigm='accumulate-subsample' is "
                                           r"unknown; allowed one of replace"):
        pools.pool_for("accumulate-subsample", pools={"replace": pools.replace})
    with pytest.raises(InvalidInput, match=r"pool_for: size=None"):
        pools.pool_for("accumulate-subsample")


@pytest.mark.parametrize("name", pools.PARADIGMS)
def test_jit_equals_eager(name):
    p = pools.pool_for(name, size=7)
    batches = _batches(1)
    w = [jnp.ones(b.shape[0]) for b in batches]

    def run(key):
        return p.read(_run(p, batches, w, key))

    key = jax.random.key(5)
    eager, jitted = run(key), jax.jit(run)(key)
    for a, b in zip(jax.tree.leaves(eager), jax.tree.leaves(jitted)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-12, atol=1e-12)


# ---- reservoir (Algorithm R) ----------------------------------------------------------------

def test_reservoir_holds_every_row_until_full_and_never_a_dropped_row():
    x = jnp.arange(12.0)[:, None]
    w = jnp.asarray(np.r_[np.ones(5), 0.0, np.ones(6)])
    prio = jnp.asarray(np.r_[np.full(9, 0.5), np.inf, 0.5, 0.5])  # row 9: never to keep
    p = pools.reservoir(20)
    s = p.init(pools.Rows(x[:6], w[:6], prio[:6]))
    s = p.update(s, pools.Rows(x[6:], w[6:], prio[6:]))
    rows = p.read(s)
    kept = sorted(np.asarray(rows.points)[np.asarray(rows.weights) > 0, 0])
    assert kept == [0, 1, 2, 3, 4, 6, 7, 8, 10, 11]
    assert int(s.seen) == 10 and int(np.asarray(rows.weights).sum()) == 10


def _path_counts(pool, sizes, reps, seed, warp=None):
    """How often each sequence of kept sets occurs over ``reps`` runs of ``pool`` fed rows
    ``0, 1, ...`` in batches of ``sizes`` (priorities ``U(0, 1)``, or ``warp`` of them)."""
    import collections

    n = sum(sizes)
    x = jnp.arange(float(n))[:, None]

    def one(key):
        u = jax.random.uniform(key, (n,))
        u = u if warp is None else warp(u)
        out, start = [], 0
        s = pool.empty(pools.Rows(x[:1]))
        for b in sizes:
            s = pool.update(s, pools.Rows(x[start:start + b], priority=u[start:start + b]))
            r = pool.read(s)
            out.append(jnp.where(r.weights > 0, r.points[:, 0], -1.0))
            start += b
        return jnp.stack(out)

    paths = np.asarray(jax.jit(jax.vmap(one))(jax.random.split(jax.random.key(seed), reps)))
    return collections.Counter(tuple(tuple(sorted(step)) for step in path) for path in paths)


def _chi2_same_law(a, b):
    """Two-sample chi-square statistic of two path histograms, and its 1 - 1e-4 quantile."""
    from scipy import stats as sps

    cats = [c for c in set(a) | set(b) if a[c] + b[c] > 0]
    stat = sum((a[c] - b[c]) ** 2 / (a[c] + b[c]) for c in cats)
    return stat, sps.chi2.ppf(1 - 1e-4, len(cats) - 1)


@pytest.mark.parametrize("sizes", [(2, 1, 1, 2), (3, 3, 2)])
def test_reservoir_has_the_path_law_of_the_bottom_k_pool(sizes):
    """The whole sequence of kept sets (k = 2) has one law under both pools: a two-sample
    chi-square over 20000 runs each stays below its 1 - 1e-4 quantile; the negative
    control (priorities sqrt(u): an arrival enters with probability (k / (g + 1))^2) fails."""
    k, reps = 2, 20000
    res = _path_counts(pools.reservoir(k), sizes, reps, 1)
    bk = _path_counts(pools.accumulate_subsample(k), sizes, reps, 2)
    stat, crit = _chi2_same_law(res, bk)
    assert stat < crit, (stat, crit)
    wrong = _path_counts(pools.reservoir(k), sizes, reps, 3, warp=jnp.sqrt)
    stat_w, crit_w = _chi2_same_law(wrong, bk)
    assert stat_w > crit_w, (stat_w, crit_w)
