"""Rebuild and execute the notebooks.

``python notebooks/execute.py [NAME ...] [--out DIR | --in-place] [--timeout S]``

Each ``notebooks/NAME.py`` (jupytext percent format) is the source. By default the executed
notebook is written to ``build/notebooks/NAME.ipynb`` (``--out`` chooses the folder), so a
re-run never rewrites the committed ``notebooks/NAME.ipynb``; ``--in-place`` writes it beside
the source, as a maintainer does before committing. Every write is atomic (a temporary file
in the same folder, then a rename): an interrupted run leaves the previous notebook intact.
Needs the ``notebooks`` extra (``pip install -e ".[notebooks]"``). Exit codes: 0 every
notebook executed; 1 a cell raised (the error names the notebook and the cell); 2 bad input.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEFAULT_OUT = ROOT / "build" / "notebooks"


def sources() -> list[str]:
    return sorted(p.stem for p in HERE.glob("[0-9]*.py"))


def execute(src: Path, out_dir: Path, timeout: int = 900) -> Path:
    """Execute ``src`` in a fresh kernel started in the project root; write the notebook
    ``out_dir / (src.stem + '.ipynb')`` atomically and return its path."""
    import jupytext
    import nbclient

    from collapse_jax.verdict.files import atomic_write_text

    nb = jupytext.read(src)
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])
    nbclient.NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(ROOT)}}).execute()
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / f"{src.stem}.ipynb"
    atomic_write_text(str(out), jupytext.writes(nb, fmt="ipynb"))
    return out


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python notebooks/execute.py",
        description="Execute the notebooks from their jupytext sources (notebooks/NAME.py).")
    p.add_argument("names", nargs="*", metavar="NAME",
                   help=f"notebooks to run (default all: {', '.join(sources())}); "
                        "NAME, NAME.py or NAME.ipynb")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--out", metavar="DIR", default=None,
                       help="folder of the executed notebooks (default build/notebooks)")
    where.add_argument("--in-place", action="store_true",
                       help="write notebooks/NAME.ipynb beside the source (the committed "
                            "files; for maintainers)")
    p.add_argument("--timeout", type=int, default=900,
                   help="seconds a cell may run before the run fails (default 900)")
    return p


def main(argv=None) -> int:
    p = build_parser()
    a = p.parse_args(argv)
    prog = p.prog
    names = [Path(n).stem for n in a.names] or sources()
    unknown = [n for n in names if not (HERE / f"{n}.py").is_file()]
    if unknown:
        print(f"{prog}: error: no notebook source {unknown[0]!r}: allowed "
              f"{', '.join(sources())}", file=sys.stderr)
        return 2
    if a.timeout <= 0:
        print(f"{prog}: error: --timeout={a.timeout} is invalid: allowed > 0", file=sys.stderr)
        return 2
    out_dir = HERE if a.in_place else Path(a.out) if a.out else DEFAULT_OUT
    if out_dir.exists() and not out_dir.is_dir():
        print(f"{prog}: error: --out={str(out_dir)!r} is invalid: it is a file, not a folder",
              file=sys.stderr)
        return 2
    try:
        import jupytext  # noqa: F401
        import nbclient  # noqa: F401
    except ImportError as e:
        print(f"{prog}: error: {e.name} is missing: pip install -e \".[notebooks]\"",
              file=sys.stderr)
        return 2
    for name in names:
        t0 = time.perf_counter()
        try:
            out = execute(HERE / f"{name}.py", out_dir, a.timeout)
        except Exception as e:  # noqa: BLE001 - one line naming the notebook, then exit 1
            first = str(e).strip().splitlines()
            print(f"{prog}: {name} failed: {type(e).__name__}: "
                  f"{first[-1] if first else ''}", file=sys.stderr)
            return 1
        print(f"executed {name} in {time.perf_counter() - t0:.0f} s -> {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
