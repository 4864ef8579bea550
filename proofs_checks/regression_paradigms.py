"""``python -m proofs_checks.regression_paradigms``:
Fixed-design regression under replace / accumulate (Dohmatob, Gerstgrasser).

The check lives in :mod:`collapse_jax.classic.check_regression`; ``--help`` lists its flags
(from a stored text, without importing JAX: :mod:`proofs_checks._help`).
"""

from proofs_checks._help import check_module, run

__getattr__ = check_module("collapse_jax.classic.check_regression")  # main, build_parser, ... on use

if __name__ == "__main__":
    run("regression_paradigms", "collapse_jax.classic.check_regression")
