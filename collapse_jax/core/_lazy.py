"""Modules imported on first use.

SciPy's ``stats`` and ``optimize`` (0.6-1.3 s) and ott-jax (1-3 s) are needed only once a
check computes, and a check prints its start line before that, within 1 s of starting
(``docs/reporting.md``). ``_st = lazy("scipy.stats")`` then ``_st.norm.ppf(p)`` imports
``scipy.stats`` at that first attribute access, once; later accesses are plain attributes."""

from __future__ import annotations

import importlib
import types


class _Lazy(types.ModuleType):
    def __init__(self, name: str):
        super().__init__(name)
        self.__dict__["_target"] = name

    def __getattr__(self, attr: str):
        mod = importlib.import_module(self.__dict__["_target"])
        value = getattr(mod, attr)
        self.__dict__[attr] = value  # later lookups skip __getattr__
        return value


def lazy(name: str) -> types.ModuleType:
    """A stand-in for ``importlib.import_module(name)`` that imports on first attribute use."""
    return _Lazy(name)
