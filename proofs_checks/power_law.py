"""``python -m proofs_checks.power_law``:
Siloed top-alpha selection collapses variance as a power law (Qiao et al. 2026).

The check lives in :mod:`collapse_jax.power_law.check`; ``--help`` lists its flags
(from a stored text, without importing JAX: :mod:`proofs_checks._help`).
"""

from proofs_checks._help import maybe_print_help


def main(argv=None) -> int:
    from collapse_jax.power_law.check import main as run

    return run(argv)


def build_parser():
    from collapse_jax.power_law.check import build_parser as build

    return build()


if __name__ == "__main__":
    maybe_print_help("power_law")  # the stored text: no JAX import (proofs_checks/_help.py)
    raise SystemExit(main())
