"""``python -m proofs_checks.non_gaussian``:
Selection collapse beyond the Gaussian (Qiao et al. 2026): the power law and its exponent for
the symmetric multivariate Laplace.

The check lives in :mod:`collapse_jax.power_law.non_gaussian`; ``--help`` lists its flags.
"""

from collapse_jax.power_law.non_gaussian import main

if __name__ == "__main__":
    raise SystemExit(main())
