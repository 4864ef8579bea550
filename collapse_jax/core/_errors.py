"""The bad-input exception type, in a module without dependencies (no jax), so that the
command-line layer (:mod:`collapse_jax.verdict.cli`) can raise and recognise it without
importing the simulation stack."""

from __future__ import annotations


class InvalidInput(ValueError):
    """Bad input to a public function or a command-line flag (exit code 2 in the checks)."""
