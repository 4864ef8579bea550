"""Shared test settings.

Monte Carlo comparisons use ``|estimate - exact| <= Z * SE`` with ``Z = 4``: a two-sided
false-alarm rate of 6.3e-5 per comparison for a normal estimate, so the ~30 such comparisons
of the suite give a spurious failure about once in 500 runs. Keys are fixed per test, so a
run is deterministic.

The persistent compilation cache is off for the suite (``COLLAPSE_JAX_COMPILE_CACHE=off``,
inherited by the checks the tests start as child processes); the tests of the cache pass
``--compile-cache DIR`` explicitly. One CI run segfaulted inside XLA's CPU compile
(``_compile_and_write_cache``) in a pytest process where in-process check runs had turned the
cache on for every later compile; it did not recur in isolation, and a suite must not depend
on it (docs/reporting.md).
"""

import os

import jax
import pytest

os.environ.setdefault("COLLAPSE_JAX_COMPILE_CACHE", "off")
# The suite's own stderr stays as it was: no start lines, stage lines or heartbeat threads in
# the in-process check runs (tests/verdict/test_live.py turns them on explicitly). Two CI runs
# of the suite died with a segmentation fault in XLA's CPU compile of the VAE models
# (tests/vae/test_models.py) after the in-process check runs had printed through them; the
# cause is not established (docs/reporting.md).
os.environ.setdefault("COLLAPSE_JAX_PROGRESS", "0")

jax.config.update("jax_enable_x64", True)

Z = 4.0


@pytest.fixture
def z():
    return Z
