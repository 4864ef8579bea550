"""``python -m proofs_checks.vae_verification``:
Verified retraining of a small neural generator (Yi et al. 2025).

The check lives in :mod:`collapse_jax.vae.check`; ``--help`` lists its flags
(from a stored text, without importing JAX: :mod:`proofs_checks._help`).
"""

from proofs_checks._help import check_module, run

__getattr__ = check_module("collapse_jax.vae.check")  # main, build_parser, ... on use

if __name__ == "__main__":
    run("vae_verification", "collapse_jax.vae.check")
