"""``python -m proofs_checks.regression_paradigms``:
Fixed-design regression under replace / accumulate (Dohmatob, Gerstgrasser).

The check lives in :mod:`collapse_jax.classic.check_regression`; ``--help`` lists its flags
(from a stored text, without importing JAX: :mod:`proofs_checks._help`).
"""

from proofs_checks._help import maybe_print_help


def main(argv=None) -> int:
    from collapse_jax.classic.check_regression import main as run

    return run(argv)


def build_parser():
    from collapse_jax.classic.check_regression import build_parser as build

    return build()


if __name__ == "__main__":
    maybe_print_help("regression_paradigms")  # the stored text: no JAX import (proofs_checks/_help.py)
    raise SystemExit(main())
