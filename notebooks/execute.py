"""Rebuild and execute the notebooks: ``python notebooks/execute.py [NAME.py ...]``.

Each ``notebooks/NAME.py`` (jupytext percent format) is the source; this writes the executed
``notebooks/NAME.ipynb`` beside it. Needs the ``notebooks`` extra.
"""

import os
import sys
from pathlib import Path

import jupytext
import nbclient

HERE = Path(__file__).resolve().parent


def execute(src: Path) -> Path:
    nb = jupytext.read(src)
    root = str(HERE.parent)
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [root] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])
    nbclient.NotebookClient(nb, timeout=900, kernel_name="python3",
                            resources={"metadata": {"path": root}}).execute()
    out = src.with_suffix(".ipynb")
    jupytext.write(nb, out)
    return out


if __name__ == "__main__":
    names = sys.argv[1:] or sorted(p.name for p in HERE.glob("[0-9]*.py"))
    for name in names:
        print("executed", execute(HERE / Path(name).name))
