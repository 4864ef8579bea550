"""``python -m proofs_checks.knowledge_center``:
Verified retraining converges to the verifier's knowledge center (Yi et al. 2025).

The check lives in :mod:`collapse_jax.knowledge_center.check`; ``--help`` lists its flags.
"""

from collapse_jax.knowledge_center.check import main

if __name__ == "__main__":
    raise SystemExit(main())
