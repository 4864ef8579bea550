"""``python -m collapse_jax.monitor PATH [...]`` (see :mod:`collapse_jax.monitor.cli`)."""

import sys

from collapse_jax.monitor.cli import main

if __name__ == "__main__":
    sys.exit(main())
