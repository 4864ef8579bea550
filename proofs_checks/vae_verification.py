"""``python -m proofs_checks.vae_verification``:
Verified retraining of a small neural generator (Yi et al. 2025).

The check lives in :mod:`collapse_jax.vae.check`; ``--help`` lists its flags.
"""

from collapse_jax.vae.check import main

if __name__ == "__main__":
    raise SystemExit(main())
