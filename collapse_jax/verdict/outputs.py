"""Output paths of a check: checked before anything is computed, written atomically."""

from __future__ import annotations

import os

from collapse_jax.verdict.errors import CheckError
from collapse_jax.verdict.files import chmod_default, suppress_os_error, temporary_sibling

#: Extensions ``--plot`` accepts (formats matplotlib writes without extra packages).
PLOT_EXTENSIONS = ("png", "pdf", "svg", "eps", "ps", "jpg", "jpeg")


def check_output_path(flag: str, path, extensions: tuple[str, ...] | None = None) -> str:
    """Raise :class:`CheckError` unless ``path`` can be written: a non-empty name whose folder
    exists and is writable, that is not itself a folder, with one of ``extensions`` (without
    the dot; ``None`` accepts any)."""
    if path is None:
        return path
    path = str(path)
    if not path.strip():
        raise CheckError(f"{flag}={path!r} is invalid: allowed a file name")
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise CheckError(f"{flag}={path!r} is invalid: it is a folder; allowed a file name")
    if not os.path.isdir(folder):
        raise CheckError(f"{flag}={path!r} is invalid: folder {folder!r} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise CheckError(f"{flag}={path!r} is invalid: folder {folder!r} is not writable")
    if os.path.exists(path) and not os.access(path, os.W_OK):
        raise CheckError(f"{flag}={path!r} is invalid: the file exists and is not writable")
    if extensions is not None:
        ext = os.path.splitext(path)[1].lower().lstrip(".")
        if ext not in extensions:
            raise CheckError(f"{flag}={path!r} is invalid: allowed extensions "
                             f"{', '.join('.' + e for e in extensions)}")
    return path


def save_figure(fig, path: str, **kwargs) -> None:
    """``fig.savefig`` to ``path`` atomically (format from the extension)."""
    tmp = temporary_sibling(path)
    fmt = os.path.splitext(path)[1].lstrip(".").lower() or None
    try:
        chmod_default(tmp)
        fig.savefig(tmp, format=fmt, **kwargs)
        os.replace(tmp, path)
    except BaseException:
        with suppress_os_error():
            os.unlink(tmp)
        raise
