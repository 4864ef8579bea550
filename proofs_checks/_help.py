"""``--help`` in a fraction of a second.

Building a check's parser means importing the check, hence JAX and SciPy: 1.5-2.5 s on 2 CPU
cores before a line of help appears. Each command's help text is therefore stored in
:mod:`proofs_checks._help_texts`, and ``python -m proofs_checks.NAME --help`` prints it without
importing the check. The stored texts are the parsers' own ``format_help()`` at a fixed width of
:data:`COLUMNS` characters; ``tests/verdict/test_fast_help.py`` fails as soon as one differs
from its live parser, and ``python -m proofs_checks._help --write`` regenerates them.

Only a command line made of ``-h`` / ``--help`` alone takes the stored text; any other
argument goes through the check's own parser, which then prints the same help (or its error).
"""

from __future__ import annotations

import os
import sys

#: the width at which the stored texts are formatted
COLUMNS = 100
#: (command, module whose ``build_parser()`` builds its parser)
COMMANDS = {
    "gaussian_refit": "collapse_jax.classic.check_gaussian_refit",
    "knowledge_center": "collapse_jax.knowledge_center.check",
    "non_gaussian": "collapse_jax.power_law.non_gaussian",
    "power_law": "collapse_jax.power_law.check",
    "proxy_digits": "collapse_jax.proxy.digits_check",
    "proxy_references": "collapse_jax.proxy.check",
    "real_mixing": "collapse_jax.classic.check_real_mixing",
    "regression_paradigms": "collapse_jax.classic.check_regression",
    "sweep": "proofs_checks.sweep",
    "vae_verification": "collapse_jax.vae.check",
}


def maybe_print_help(name: str, argv: list[str] | None = None) -> None:
    """Print ``name``'s stored help and exit 0 when ``argv`` (default ``sys.argv[1:]``) is
    only ``-h`` / ``--help``; otherwise return and let the check parse its arguments."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv or any(a not in ("-h", "--help") for a in argv):
        return
    from proofs_checks._help_texts import TEXTS

    text = TEXTS.get(name)
    if text is None:
        return
    sys.stdout.write(text)
    sys.stdout.flush()
    raise SystemExit(0)


def check_module(target: str):
    """A module ``__getattr__`` for a command's shim: ``main``, ``build_parser`` and every
    other name are the check module ``target``'s own objects, imported on first use (so that
    ``--help`` needs no import of the check)."""
    import importlib

    def attr(name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(importlib.import_module(target), name)

    return attr


def run(name: str, target: str) -> None:
    """``python -m proofs_checks.NAME``: the stored help, or the check's ``main``."""
    import importlib

    maybe_print_help(name)
    raise SystemExit(importlib.import_module(target).main())


def live_help(name: str) -> str:
    """``name``'s help from its parser, formatted at :data:`COLUMNS` characters."""
    import importlib

    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(COLUMNS)
    try:
        return importlib.import_module(COMMANDS[name]).build_parser().format_help()
    finally:
        if old is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = old


def render() -> str:
    """The source of :mod:`proofs_checks._help_texts` for the current parsers."""
    lines = ['"""Stored ``--help`` texts of the commands (generated: ``python -m '
             'proofs_checks._help --write``;', 'never edit by hand)."""', "", "TEXTS = {"]
    for name in COMMANDS:
        lines.append(f"    {name!r}: {live_help(name)!r},")
    lines += ["}", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    path = os.path.join(os.path.dirname(__file__), "_help_texts.py")
    if argv != ["--write"]:
        print("usage: python -m proofs_checks._help --write   (regenerates "
              f"{os.path.relpath(path)})", file=sys.stderr)
        return 2
    from collapse_jax.verdict.files import atomic_write_text

    atomic_write_text(path, render())
    print(f"wrote {path} ({len(COMMANDS)} commands)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
