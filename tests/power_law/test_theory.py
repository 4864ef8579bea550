import math

import numpy as np
import pytest

from collapse_jax.core import accumulation, stats
from collapse_jax.power_law import theory

# theory.md section 1.3 table of psi(alpha, d).
TABLE = {(1, 0.05): 0.9987, (1, 0.5): 0.8573, (1, 0.9): 0.3770, (2, 0.25): 0.8630,
         (5, 0.25): 0.6535, (10, 0.75): 0.2036, (20, 0.1): 0.4755}


@pytest.mark.parametrize(("dim", "alpha"), list(TABLE))
def test_psi_table(dim, alpha):
    assert theory.psi_closed_form(alpha, dim) == pytest.approx(TABLE[(dim, alpha)], abs=6e-5)


def test_psi_special_values():
    assert theory.psi_closed_form(0.5, 2) == pytest.approx(math.log(2), abs=1e-12)
    assert theory.psi_closed_form(1.0, 3) == 0.0
    from scipy.stats import norm

    a = 0.3
    c = norm.ppf((1 + a) / 2)
    assert theory.psi_closed_form(a, 1) == pytest.approx(2 * c * norm.pdf(c) / a, rel=1e-10)


def test_psi_monotone_in_alpha_and_dim():
    alphas = np.linspace(0.05, 0.95, 19)
    for d in (1, 3, 8):
        assert np.all(np.diff(theory.psi_closed_form(alphas, d)) < 0)
    assert np.all(np.diff([theory.psi_closed_form(0.3, d) for d in range(1, 10)]) < 0)


def test_accumulate_limit_and_product():
    for n, v in ((5, 0.702), (10, 0.8434), (20, 0.9198), (100, 0.9836)):
        assert accumulation.accumulate_variance_limit(n) == pytest.approx(v, abs=6e-4)
        assert accumulation.accumulate_trace_ratio(n, 200000) == pytest.approx(
            accumulation.accumulate_variance_limit(n), rel=1e-4)
    assert accumulation.accumulate_trace_ratio(10, 0) == pytest.approx(0.9)
    assert accumulation.accumulate_trace_ratio(10, 0, "unbiased") == 1.0


def test_window_slope_tends_to_minus_psi_and_inverts():
    psi = 0.8
    assert theory.predicted_window_slope(psi, (10_000, 20_000)) == pytest.approx(-psi, abs=1e-3)
    s = theory.predicted_window_slope(psi, (20, 120))
    assert s > -psi  # finite-t slope is shallower
    assert theory.psi_from_slope(s, (20, 120)) == pytest.approx(psi, abs=1e-9)


def test_richardson_removes_one_over_n():
    ns = [100, 200, 400]
    vals = [1.5 + 7.0 / n for n in ns]
    assert stats.richardson(vals, ns) == pytest.approx(1.5, abs=1e-12)


def test_exact_replace_factor_tends_to_the_closed_form():
    """The finite-n factor exceeds b (n - 1) / n by O(1/n) and tends to it."""
    gaps = [theory.replace_select_factor_exact(0.25, n) - theory.replace_select_factor(0.25, 1, n)
            for n in (200, 400, 800)]
    assert all(g > 0 for g in gaps)
    assert gaps[0] / gaps[1] == pytest.approx(2.0, rel=0.1)
    assert gaps[1] / gaps[2] == pytest.approx(2.0, rel=0.1)
    big = theory.replace_select_factor_exact(0.25, 10**5)
    assert big == pytest.approx(theory.replace_select_factor(0.25, 1, 10**5), rel=1e-4)
    assert theory.replace_select_factor_exact(0.25, 400, nodes=128) == pytest.approx(
        theory.replace_select_factor_exact(0.25, 400), rel=1e-5)
