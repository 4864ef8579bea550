"""The digits tier (Qiao et al.'s Table 1 at laptop scale): the ExDir split, per-party silo
data, the kernel at a tiny size, and the claims' negative controls."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from collapse_jax.core import transport
from collapse_jax.core._validate import InvalidInput
from collapse_jax.proxy import digits as dg
from collapse_jax.proxy import digits_check as chk
from collapse_jax.proxy import silo_data

LABELS = jnp.asarray(np.repeat(np.arange(10), [30, 25, 31, 28, 33, 27, 29, 30, 26, 32]))


def test_exdir_one_class_per_party_covers_every_class():
    party, perm = dg.exdir_split(jax.random.key(3), LABELS, 10, 10, 1, 0.1, 0.0)
    party, perm, y = np.asarray(party), np.asarray(perm), np.asarray(LABELS)
    assert sorted(perm.tolist()) == list(range(10))
    for k in range(10):  # party k holds exactly the whole class perm[k]
        np.testing.assert_array_equal(np.sort(np.flatnonzero(party == k)),
                                      np.flatnonzero(y == perm[k]))


def test_exdir_two_classes_per_party_and_iid_deal():
    party, perm = dg.exdir_split(jax.random.key(5), LABELS, 10, 10, 2, 0.5, 0.0)
    party, perm, y = np.asarray(party), np.asarray(perm), np.asarray(LABELS)
    for k in range(10):
        held = {int(perm[(2 * k) % 10]), int(perm[(2 * k + 1) % 10])}
        assert set(np.unique(y[party == k]).tolist()) <= held
    # IID: equal shares, every party sees several classes
    party, _ = dg.exdir_split(jax.random.key(5), LABELS, 10, 10, 1, 0.1, 1.0)
    sizes = np.bincount(np.asarray(party), minlength=10)
    assert sizes.max() - sizes.min() <= 1 and sizes.sum() == LABELS.shape[0]
    assert all(len(np.unique(y[np.asarray(party) == k])) >= 5 for k in range(10))
    rows = dg.party_rows_bound(y, 10, 10, 1)
    assert rows == max(33, -(-y.size // 10))


def test_per_party_bank_answers_as_the_shared_rows_bank():
    """SiloBank with (K, P, d) per-party rows gives the scores and clouds of the (n, d)
    bank with 0/1 memberships (it only skips the other parties' rows)."""
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.normal(size=(LABELS.shape[0], 3)), jnp.float32)
    party, _ = dg.exdir_split(jax.random.key(1), LABELS, 10, 4, 3, 0.3, 0.0)
    rows = int(np.bincount(np.asarray(party)).max())
    px, pw = dg.party_data(x, party, 4, rows)
    members = jax.nn.one_hot(party, 4, dtype=jnp.float32).T
    st = transport.sinkhorn_settings(0.5, 100, 1e-3, 1.5)  # the self term is bank-free
    shared = silo_data.SiloBank(x, members, st)
    per = silo_data.SiloBank(px, pw, st)
    cand = jnp.asarray(rng.normal(size=(40, 3)), jnp.float32)
    rules = ("ot", "center-match", "cov-match-greedy")

    @jax.jit  # one program for every answer (the banks are closed over, never traced)
    def answers(c):
        return [[bank.scores(rule, c, 2, keep=10).values for rule in rules]
                + [bank.geodesic(c, 0.5).points] for bank in (shared, per)]

    a, b = answers(cand)
    for x, y in zip(a, b):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=2e-4, atol=2e-4)
    assert per.sizes().counts.tolist() == shared.sizes().counts.tolist()
    assert "SiloBank(silos=4, dim=3)" == repr(per)


def test_config_and_params_refuse_bad_values():
    with pytest.raises(InvalidInput, match="digits_config: n="):
        dg.digits_config(n=2)
    with pytest.raises(InvalidInput, match="classes_per_party"):
        dg.digits_config(parties=3)
    with pytest.raises(InvalidInput, match="strategies"):
        dg.digits_config(strategies=("random", "bogus"))
    with pytest.raises(InvalidInput, match="duplicates"):
        dg.digits_config(strategies=("random", "random"))
    with pytest.raises(InvalidInput, match="iid"):
        dg.digits_params(iid=0.5)
    with pytest.raises(InvalidInput, match="digits_params"):
        dg.digits_params(concentration=0.0)


@pytest.fixture(scope="module")
def tiny_run():
    from collapse_jax.core.nets.classifier import feature_network
    from collapse_jax.core.nets.data import load_digits, stratified_split
    from collapse_jax.engine import batch

    split = stratified_split(load_digits(), 0)
    fnet = feature_network(jax.random.key(1), split, steps=200)
    cfg = dg.digits_config(n=16, generations=2, steps0=60, steps=10, n_eval=60,
                           sinkhorn_iterations=60, rounds=2,
                           strategies=("random", "local", "party-scores", "barycenter"))
    cfg, data = dg.digits_data(split, fnet, cfg)
    fin, out = batch.run(dg.digits_kernel_shared, jax.random.key(0),
                         (dg.digits_params(), data), cfg, seeds=2)
    return cfg, jax.tree.map(np.asarray, fin), jax.tree.map(np.asarray, out)


@pytest.mark.slow
def test_kernel_shapes_shared_start_and_common_candidates(tiny_run):
    cfg, fin, out = tiny_run
    S, T = len(cfg.strategies), cfg.generations
    for name in dg.METRIC_NAMES:
        assert out[name].shape == (2, 1, T + 1, S), name
        assert np.all(np.isfinite(out[name])), name
    # generation 0 is one model shared by every strategy
    np.testing.assert_array_equal(out["fd"][:, 0, 0, :], out["fd"][:, 0, 0, :1].repeat(S, 1))
    assert np.all((out["owner_share"] >= 0) & (out["owner_share"] <= 1))
    assert fin["party_sizes"].shape == (2, 1, 10)
    assert np.all(fin["party_sizes"].sum(-1) == 1258)  # every training digit has a party
    # the strategies diverge after generation 1 (they keep different candidates)
    assert np.any(out["fd"][:, 0, T, 0] != out["fd"][:, 0, T, 2])


def _runs(seeds=12, T=4, shift=None, seed=0, noise=1.0):
    """Stand-in runs: every strategy's metrics are one noise curve plus ``shift[strategy]``
    plus its own noise (scaled by ``noise``)."""
    rng = np.random.default_rng(seed)
    out = {}
    for split_name, strategies in (("exdir", dg.STRATEGIES), ("iid", chk.IID_STRATEGIES)):
        base = {met: rng.normal(size=(seeds, T + 1, 1)) * 0.3 + 10 for met in dg.METRIC_NAMES}
        base["owner_share"] = base["owner_share"] * 0 + 0.1
        base["recall"] = base["recall"] * 0 + 0.5
        metrics = {}
        for met in dg.METRIC_NAMES:
            cols = []
            for st in strategies:
                own = rng.normal(size=(seeds, T + 1, 1)) * (0.05 if met == "fd" else 0.005)
                cols.append(base[met] + noise * own + (shift or {}).get((split_name, st, met), 0.0))
            metrics[met] = np.concatenate(cols, axis=-1)
        out[split_name] = {"strategies": strategies, "metrics": metrics}
    return out


PAPER = {("exdir", "center-match", "fd"): 3.0, ("exdir", "cov-match-greedy", "fd"): 3.0,
         ("exdir", "party-scores", "fd"): -3.0, ("exdir", "barycenter", "fd"): -2.0,
         ("exdir", "local", "fd"): 2.0, ("exdir", "party-scores", "recall"): 0.05,
         ("exdir", "local", "owner_share"): 0.3, ("iid", "center-match", "fd"): -2.0,
         ("iid", "cov-match-greedy", "fd"): -2.0}


def test_claims_pass_on_runs_that_behave_as_the_paper_says():
    assert set(chk.IID_STRATEGIES) <= set(dg.STRATEGIES)  # the IID run reuses the config
    claims = chk.decide(_runs(shift=PAPER), 4, 0.995)
    assert [c.id for c in claims] == list(chk.CLAIMS)
    assert all(c.passed for c in claims), [(c.id, c.reason) for c in claims if not c.passed]


@pytest.mark.parametrize(("cid", "key", "value"), [
    ("D1a", ("exdir", "center-match", "fd"), 0.0),
    ("D1b", ("exdir", "cov-match-greedy", "fd"), -1.0),
    ("D2a", ("exdir", "party-scores", "fd"), 0.0),
    ("D2b", ("exdir", "barycenter", "fd"), 1.0),
    ("D2e", ("exdir", "party-scores", "recall"), 0.0),
    ("D3", ("exdir", "barycenter", "fd"), -6.0),
    ("D4a", ("exdir", "local", "owner_share"), 0.0),
    ("D5a", ("iid", "center-match", "fd"), 1.0),
    ("D5b", ("iid", "cov-match-greedy", "fd"), 0.0),
])
def test_each_claim_fails_when_its_strategy_does_not_behave(cid, key, value):
    """Negative controls: move one strategy back to (or past) its comparison and exactly
    that claim fails."""
    shift = dict(PAPER)
    shift[key] = value
    claims = {c.id: c for c in chk.decide(_runs(shift=shift), 4, 0.995)}
    assert not claims[cid].passed, (cid, claims[cid].reason)
    # decided: the CI rules out an effect of the claim's size (or lies above D3's bound)
    assert claims[cid].decided, (cid, claims[cid].reason)


def test_noisy_runs_are_undecided_not_passed():
    claims = chk.decide(_runs(seeds=3, shift={k: v * 0.01 for k, v in PAPER.items()},
                              noise=40.0), 4, 0.995)
    signs = [c for c in claims if c.relation in ("above", "below")]
    assert not any(c.passed for c in signs)
    assert not any(c.decided for c in signs), [(c.id, c.reason) for c in signs if c.decided]
    assert all(c.reason.startswith("undecided") for c in signs)
    # with the run's 3 seeds (as the check's body sets them) each says how many would decide it
    from collapse_jax.verdict import with_seeds
    for c in with_seeds(signs, 3):
        assert c.seeds_to_decide > 3 and f"about {c.seeds_to_decide} seeds" in c.reason, c


def test_per_party_bank_keeps_its_rows_private():
    """The per-party bank holds its (K, P, d) rows where the privacy detector of the silo
    tests finds them, in the name-mangled slot only, and refuses pickling and copies."""
    import copy
    import pickle

    from tests.proxy.test_silo_data import _paths_to_private_values

    rng = np.random.default_rng(1)
    x = jnp.asarray(rng.normal(size=(LABELS.shape[0], 3)), jnp.float32)
    party, _ = dg.exdir_split(jax.random.key(2), LABELS, 10, 10, 1, 0.1, 0.0)
    px, pw = dg.party_data(x, party, 10, dg.party_rows_bound(np.asarray(LABELS), 10, 10, 1))
    bank = silo_data.SiloBank(px, pw, transport.sinkhorn_settings(0.5, 50))
    ch = silo_data.Channel(bank)
    ch.scores("center-match", jnp.asarray(rng.normal(size=(5, 3)), jnp.float32), 0)
    assert _paths_to_private_values(ch, px) == ["_Channel__bank._SiloBank__points"]
    for bad in (pickle.dumps, copy.deepcopy, copy.copy):
        with pytest.raises(TypeError):
            bad(bank)
    assert not any(c in repr(bank) for c in "[]")


def test_figure_gives_each_rule_one_colour_in_every_panel():
    runs = _runs(seeds=3, T=4)
    fig = chk._figure(runs, 4, 0.1)
    colours = [{ln.get_label(): ln.get_color() for ln in ax.get_lines()} for ax in fig.axes]
    for label in ("Random", "Local (party 0, OT)", "CovMatch"):
        assert colours[0][label] == colours[2][label], label


def test_the_ot_item_leaves_the_differences_at_the_authors_epsilon_and_loop():
    """By default every selection solve runs geomloss' loop at the authors' epsilon in this
    tier's units (0.0025 for |x - y|^2 / 2 on [-1, 1] pixels is 0.00125 for |x - y|^2 on
    [0, 1] pixels), so the OT item is not listed; another epsilon or the fixed schedule
    lists it with the flags that remove it; the fixed schedule also lists Scheme II's map
    (the barycentric projection, not geomloss' gradient step)."""
    assert chk.AUTHORS_PIXEL_EPSILON == pytest.approx(0.0025 / 2)
    p = chk.build_parser()
    sizes = ["--n", "64", "--steps0", "1500", "--steps", "1000"]  # the defaults _validate sets
    default = chk.differences(p.parse_args(sizes))
    fixed = chk.differences(p.parse_args([*sizes, "--schedule", "fixed", "--epsilon", "0.1"]))
    other = chk.differences(p.parse_args([*sizes, "--epsilon", "0.01"]))
    assert not any(d.startswith("OT:") for d in default)
    assert [d for d in fixed if d.startswith("OT:")] == [
        d for d in fixed if "annealed from 10" in d and "--schedule geomloss" in d]
    assert len(other) == len(default) + 1 and len(fixed) == len(default) + 2
    assert not any(d.startswith("Scheme II's map") for d in default + other)
    assert any(d.startswith("Scheme II's map") for d in fixed)
