"""``python -m proofs_checks.knowledge_center``:
Verified retraining converges to the verifier's knowledge center (Yi et al. 2025).

The check lives in :mod:`collapse_jax.knowledge_center.check`; ``--help`` lists its flags
(from a stored text, without importing JAX: :mod:`proofs_checks._help`).
"""

from proofs_checks._help import maybe_print_help


def main(argv=None) -> int:
    from collapse_jax.knowledge_center.check import main as run

    return run(argv)


def build_parser():
    from collapse_jax.knowledge_center.check import build_parser as build

    return build()


if __name__ == "__main__":
    maybe_print_help("knowledge_center")  # the stored text: no JAX import (proofs_checks/_help.py)
    raise SystemExit(main())
