"""``python -m proofs_checks.gaussian_refit``:
Gaussian refit on its own samples: the classic collapse laws (Shumailov, Bertrand).

The check lives in :mod:`collapse_jax.classic.check_gaussian_refit`; ``--help`` lists its flags.
"""

from collapse_jax.classic.check_gaussian_refit import main

if __name__ == "__main__":
    raise SystemExit(main())
