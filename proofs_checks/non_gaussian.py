"""``python -m proofs_checks.non_gaussian``:
Selection collapse beyond the Gaussian (Qiao et al. 2026): the power law and its exponent for
the symmetric multivariate Laplace.

The check lives in :mod:`collapse_jax.power_law.non_gaussian`; ``--help`` lists its flags
(from a stored text, without importing JAX: :mod:`proofs_checks._help`).
"""

from proofs_checks._help import check_module, run

__getattr__ = check_module("collapse_jax.power_law.non_gaussian")  # main, build_parser, ... on use

if __name__ == "__main__":
    run("non_gaussian", "collapse_jax.power_law.non_gaussian")
