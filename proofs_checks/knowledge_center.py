"""``python -m proofs_checks.knowledge_center``:
Verified retraining converges to the verifier's knowledge center (Yi et al. 2025).

The check lives in :mod:`collapse_jax.knowledge_center.check`; ``--help`` lists its flags
(from a stored text, without importing JAX: :mod:`proofs_checks._help`).
"""

from proofs_checks._help import check_module, run

__getattr__ = check_module("collapse_jax.knowledge_center.check")  # main, build_parser, ... on use

if __name__ == "__main__":
    run("knowledge_center", "collapse_jax.knowledge_center.check")
