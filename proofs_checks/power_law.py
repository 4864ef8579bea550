"""``python -m proofs_checks.power_law``:
Siloed top-alpha selection collapses variance as a power law (Qiao et al. 2026).

The check lives in :mod:`collapse_jax.power_law.check`; ``--help`` lists its flags.
"""

from collapse_jax.power_law.check import main

if __name__ == "__main__":
    raise SystemExit(main())
