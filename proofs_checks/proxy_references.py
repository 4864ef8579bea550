"""``python -m proofs_checks.proxy_references``:
Collaborative proxy references against siloed selection (Qiao et al. 2026).

The check lives in :mod:`collapse_jax.proxy.check`; ``--help`` lists its flags
(from a stored text, without importing JAX: :mod:`proofs_checks._help`).
"""

from proofs_checks._help import check_module, run

__getattr__ = check_module("collapse_jax.proxy.check")  # main, build_parser, ... on use

if __name__ == "__main__":
    run("proxy_references", "collapse_jax.proxy.check")
