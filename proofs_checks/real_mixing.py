"""``python -m proofs_checks.real_mixing``:
Real data mixed into every generation keeps the refit bounded (Bertrand, Gerstgrasser).

The check lives in :mod:`collapse_jax.classic.check_real_mixing`; ``--help`` lists its flags
(from a stored text, without importing JAX: :mod:`proofs_checks._help`).
"""

from proofs_checks._help import check_module, run

__getattr__ = check_module("collapse_jax.classic.check_real_mixing")  # main, build_parser, ... on use

if __name__ == "__main__":
    run("real_mixing", "collapse_jax.classic.check_real_mixing")
