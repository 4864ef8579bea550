"""``python -m proofs_checks.real_mixing``:
Real data mixed into every generation keeps the refit bounded (Bertrand, Gerstgrasser).

The check lives in :mod:`collapse_jax.classic.check_real_mixing`; ``--help`` lists its flags.
"""

from collapse_jax.classic.check_real_mixing import main

if __name__ == "__main__":
    raise SystemExit(main())
