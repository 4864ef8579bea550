"""The jaxtyping annotations are checked at run time in the test suite.

``pyproject.toml`` runs pytest with ``--jaxtyping-packages=<modules>,beartype.beartype``: the
jaxtyping import hook decorates every function of the listed modules with
``jaxtyped(typechecker=beartype)`` when they are imported, so a call with a wrongly typed or
shaped argument fails at the call. These tests prove the hook is active (a plain import would
run the wrong calls below to a number).
"""

import jax.numpy as jnp
import numpy as np
import pytest
from beartype.roar import BeartypeException
from jaxtyping import TypeCheckError

from collapse_jax.classic import fixed_design
from collapse_jax.classic import kernel as classic_kernel
from collapse_jax.classic import theory as tc
from collapse_jax.core import accumulation, gaussian, linalg, pool, selection
from collapse_jax.knowledge_center import kernel as kc_kernel
from collapse_jax.knowledge_center import theory as vt
from collapse_jax.power_law import kernel as pl_kernel
from collapse_jax.power_law import theory as pl
from collapse_jax.proxy import kernel as proxy_kernel
from collapse_jax.proxy import theory as pt
from collapse_jax.vae import kernel as vae_kernel

CHECK_ERRORS = (TypeCheckError, BeartypeException)

#: One public function of each instrumented module.
INSTRUMENTED = (pl.psi_closed_form, tc.refit_log_drift, vt.rho, pt.log_offset_product,
                accumulation.accumulate_variance_limit, gaussian.moments, selection.top_n,
                linalg.cholesky, pool.pool_for, pl_kernel.selection_kernel,
                classic_kernel.refit_kernel, fixed_design.ols_kernel, kc_kernel.verifier_kernel,
                proxy_kernel.proxy_kernel, vae_kernel.retrain_kernel)


@pytest.mark.parametrize("fn", INSTRUMENTED, ids=lambda f: f"{f.__module__}.{f.__name__}")
def test_the_hook_wraps_every_instrumented_module(fn):
    # jaxtyped(typechecker=...) wraps the function; an undecorated one has no __wrapped__.
    assert hasattr(fn, "__wrapped__"), fn


def test_a_wrongly_typed_argument_is_rejected():
    # A float dimension runs through scipy to a number; the annotation (an integer) rejects it.
    with pytest.raises(CHECK_ERRORS):
        pl.psi_closed_form(0.5, 2.0)
    with pytest.raises(CHECK_ERRORS):
        tc.refit_log_drift(10, "mle", dim=2.0)


def test_a_wrongly_shaped_argument_is_rejected():
    # Unchecked, a non-square matrix gives a silent (clamped-index) factor.
    with pytest.raises(CHECK_ERRORS):
        linalg.cholesky(jnp.ones((2, 3)))
    # Inconsistent dimensions across arguments: T generations of psi, T + 1 of t.
    with pytest.raises(CHECK_ERRORS):
        pl.dissipation_gap(np.zeros((3, 10, 2, 2)), np.arange(11), (2, 9))
    with pytest.raises(CHECK_ERRORS):
        vt.propagate(np.zeros(5), np.ones(4) / 4, 1.0, 100, 1)


def test_correct_calls_pass():
    assert pl.psi_closed_form(0.5, 2) == pytest.approx(np.log(2.0), abs=1e-12)
    assert pl.psi_closed_form(np.array([0.25, 1.0]), np.int64(1)).shape == (2,)
    assert tc.refit_log_drift(10, "mle") == pytest.approx(-0.22057, abs=1e-5)
    assert tc.refit_tail_mass(10, [0, 3], [2.0, 3.0], "unbiased").shape == (2, 2)
    assert float(vt.rho(0.7)) == pytest.approx(0.1529, abs=1e-4)
    assert accumulation.accumulate_trace_ratio(10, 0) == pytest.approx(0.9)
    assert pt.exclusion_mass_ratio(100, 10, np.arange(3), "accumulate").shape == (3,)
    lo = linalg.cholesky(jnp.array([[4.0, 2.0], [2.0, 3.0]]))
    np.testing.assert_allclose(lo @ lo.T, [[4.0, 2.0], [2.0, 3.0]], atol=1e-12)


def test_a_kernel_rejects_a_config_of_the_wrong_type():
    """The public kernels are checked too: a refit config handed to the selection kernel is
    refused at the call, before anything is traced."""
    import jax

    cfg = pl_kernel.selection_config(dim=1, n=10, alpha=0.5, generations=3)
    params = pl_kernel.selection_params(cfg, alpha=0.5, offset=1.0)
    wrong = classic_kernel.refit_config(n=10, generations=3)
    with pytest.raises(CHECK_ERRORS):
        pl_kernel.selection_kernel(jax.random.key(0), params, wrong)
    pl_kernel.selection_kernel(jax.random.key(0), params, cfg)  # the right one passes
