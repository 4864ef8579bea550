"""One selection step against a perfect reference (collapse_jax.proxy.one_step): the raw
entropic potential keeps a fraction of a cluster's spread, the debiased one keeps more, random
selection keeps it all; tolerances from the standard errors over seeds."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from collapse_jax.core import transport
from collapse_jax.engine import batch
from collapse_jax.proxy import one_step


@pytest.fixture(scope="module")
def runs():
    with batch.float64():
        cfg = one_step.one_step_config(candidates=100, kept=25, reference=100)
        out = {}
        for debias in (False, True):
            st = transport.sinkhorn_settings(0.25, 200, debias=debias)
            keys = jax.random.split(jax.random.key(1), 48)
            r, rr, ok = jax.jit(jax.vmap(lambda k, st=st: one_step.kept_spread(k, cfg, st)))(
                keys)
            out[debias] = (np.asarray(r), np.asarray(rr), np.asarray(ok))
        return cfg, out


def test_random_selection_keeps_the_spread(runs):
    cfg, out = runs
    rr = out[False][1]
    n, big_n = cfg.kept, cfg.candidates
    expected = (n - 1) / n / ((big_n - 1) / big_n)  # ratio of the expected MLE variances
    se = rr.std(ddof=1) / np.sqrt(len(rr))
    assert abs(rr.mean() - expected) < 4 * se + 0.02  # 0.02: the ratio's own O(1/n) bias


def test_raw_potential_loses_spread_and_debiasing_recovers_most(runs):
    _, out = runs
    raw, rnd, ok_r = out[False]
    deb, _, ok_d = out[True]
    assert ok_r.all() and ok_d.all()
    se_raw = raw.std(ddof=1) / np.sqrt(len(raw))
    assert raw.mean() + 4 * se_raw < rnd.mean() - 0.3  # raw keeps far less than random
    diff = deb - raw  # paired: the same candidates and reference
    assert diff.mean() > 4 * diff.std(ddof=1) / np.sqrt(len(diff))
    assert deb.mean() > 2 * raw.mean()


def test_config_is_validated():
    from collapse_jax.core._errors import InvalidInput
    with pytest.raises(InvalidInput, match="kept"):
        one_step.one_step_config(candidates=10, kept=10)
