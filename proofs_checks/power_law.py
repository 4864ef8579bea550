"""``python -m proofs_checks.power_law``:
Siloed top-alpha selection collapses variance as a power law (Qiao et al. 2026).

The check lives in :mod:`collapse_jax.power_law.check`; ``--help`` lists its flags
(from a stored text, without importing JAX: :mod:`proofs_checks._help`).
"""

from proofs_checks._help import check_module, run

__getattr__ = check_module("collapse_jax.power_law.check")  # main, build_parser, ... on use

if __name__ == "__main__":
    run("power_law", "collapse_jax.power_law.check")
