"""``python -m proofs_checks.regression_paradigms``:
Fixed-design regression under replace / accumulate (Dohmatob, Gerstgrasser).

The check lives in :mod:`collapse_jax.classic.check_regression`; ``--help`` lists its flags.
"""

from collapse_jax.classic.check_regression import main

if __name__ == "__main__":
    raise SystemExit(main())
