"""pandas, imported only by the readers that return DataFrames."""

from __future__ import annotations


def require_pandas():
    """The ``pandas`` module, or ImportError saying how to install it."""
    try:
        import pandas
    except ImportError as e:
        raise ImportError("collapse_jax.verdict readers return pandas DataFrames; install "
                          "pandas>=2,<3 (pip install 'pandas>=2,<3', or the 'test' extra: "
                          "pip install -e '.[test]')") from e
    return pandas
