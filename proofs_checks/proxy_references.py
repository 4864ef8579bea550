"""``python -m proofs_checks.proxy_references``:
Collaborative proxy references against siloed selection (Qiao et al. 2026).

The check lives in :mod:`collapse_jax.proxy.check`; ``--help`` lists its flags
(from a stored text, without importing JAX: :mod:`proofs_checks._help`).
"""

from proofs_checks._help import maybe_print_help


def main(argv=None) -> int:
    from collapse_jax.proxy.check import main as run

    return run(argv)


def build_parser():
    from collapse_jax.proxy.check import build_parser as build

    return build()


if __name__ == "__main__":
    maybe_print_help("proxy_references")  # the stored text: no JAX import (proofs_checks/_help.py)
    raise SystemExit(main())
