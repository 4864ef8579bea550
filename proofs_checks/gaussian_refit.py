"""``python -m proofs_checks.gaussian_refit``:
Gaussian refit on its own samples: the classic collapse laws (Shumailov, Bertrand).

The check lives in :mod:`collapse_jax.classic.check_gaussian_refit`; ``--help`` lists its flags
(from a stored text, without importing JAX: :mod:`proofs_checks._help`).
"""

from proofs_checks._help import check_module, run

__getattr__ = check_module("collapse_jax.classic.check_gaussian_refit")  # main, build_parser, ... on use

if __name__ == "__main__":
    run("gaussian_refit", "collapse_jax.classic.check_gaussian_refit")
