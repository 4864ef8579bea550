"""``python -m proofs_checks.proxy_references``:
Collaborative proxy references against siloed selection (Qiao et al. 2026).

The check lives in :mod:`collapse_jax.proxy.check`; ``--help`` lists its flags.
"""

from collapse_jax.proxy.check import main

if __name__ == "__main__":
    raise SystemExit(main())
