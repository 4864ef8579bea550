"""``python -m proofs_checks.real_mixing``:
Real data mixed into every generation keeps the refit bounded (Bertrand, Gerstgrasser).

The check lives in :mod:`collapse_jax.classic.check_real_mixing`; ``--help`` lists its flags
(from a stored text, without importing JAX: :mod:`proofs_checks._help`).
"""

from proofs_checks._help import maybe_print_help


def main(argv=None) -> int:
    from collapse_jax.classic.check_real_mixing import main as run

    return run(argv)


def build_parser():
    from collapse_jax.classic.check_real_mixing import build_parser as build

    return build()


if __name__ == "__main__":
    maybe_print_help("real_mixing")  # the stored text: no JAX import (proofs_checks/_help.py)
    raise SystemExit(main())
