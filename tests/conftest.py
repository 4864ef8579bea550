"""Shared test settings.

Monte Carlo comparisons use ``|estimate - exact| <= Z * SE`` with ``Z = 4``: a two-sided
false-alarm rate of 6.3e-5 per comparison for a normal estimate, so the ~30 such comparisons
of the suite give a spurious failure about once in 500 runs. Keys are fixed per test, so a
run is deterministic.
"""

import jax
import pytest

jax.config.update("jax_enable_x64", True)

Z = 4.0


@pytest.fixture
def z():
    return Z
