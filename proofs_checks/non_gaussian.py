"""``python -m proofs_checks.non_gaussian``:
Selection collapse beyond the Gaussian (Qiao et al. 2026): the power law and its exponent for
the symmetric multivariate Laplace.

The check lives in :mod:`collapse_jax.power_law.non_gaussian`; ``--help`` lists its flags
(from a stored text, without importing JAX: :mod:`proofs_checks._help`).
"""

from proofs_checks._help import maybe_print_help


def main(argv=None) -> int:
    from collapse_jax.power_law.non_gaussian import main as run

    return run(argv)


def build_parser():
    from collapse_jax.power_law.non_gaussian import build_parser as build

    return build()


if __name__ == "__main__":
    maybe_print_help("non_gaussian")  # the stored text: no JAX import (proofs_checks/_help.py)
    raise SystemExit(main())
