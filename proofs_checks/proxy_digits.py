"""``python -m proofs_checks.proxy_digits``:
Qiao et al.'s Table 1 at laptop scale: the six selection methods on real digits over ten
parties.

The check lives in :mod:`collapse_jax.proxy.digits_check`; ``--help`` lists its flags
(from a stored text, without importing JAX: :mod:`proofs_checks._help`).
"""

from proofs_checks._help import check_module, run

__getattr__ = check_module("collapse_jax.proxy.digits_check")  # main, build_parser, ... on use

if __name__ == "__main__":
    run("proxy_digits", "collapse_jax.proxy.digits_check")
