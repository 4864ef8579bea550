"""Atomic file output: a temporary file in the same folder, then ``os.replace``."""

from __future__ import annotations

import os
import tempfile


def temporary_sibling(path: str) -> str:
    """A new empty temporary file next to ``path`` (same folder, same extension)."""
    folder, name = os.path.split(os.path.abspath(path))
    stem, ext = os.path.splitext(name)
    fd, tmp = tempfile.mkstemp(prefix=f".{stem}.", suffix=f".tmp{ext}", dir=folder)
    os.close(fd)
    return tmp


def chmod_default(path: str) -> None:
    """The mode ``open(path, 'w')`` would give (``mkstemp`` makes files private)."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


class suppress_os_error:
    """Context manager that swallows ``OSError`` (cleanup of a temporary file)."""

    def __enter__(self):
        return self

    def __exit__(self, typ, value, tb):
        return typ is not None and issubclass(typ, OSError)


def atomic_write_text(path: str, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder and
    ``os.replace``: a reader never sees a partial file, an error leaves the old one."""
    tmp = temporary_sibling(path)
    try:
        chmod_default(tmp)
        with open(tmp, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with suppress_os_error():
            os.unlink(tmp)
        raise
