"""The tutorial docs/writing_a_check.md: its code block is docs/examples/martingale_check.py
(at most 60 lines), the example passes, its negative control fails, bad input exits 2, and
the public harness it uses (``collapse_jax.verdict``) is cheap to import."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOC = os.path.join(ROOT, "docs", "writing_a_check.md")
EXAMPLE = os.path.join(ROOT, "docs", "examples", "martingale_check.py")


def _python_blocks(markdown: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```$", markdown, flags=re.S | re.M)


def _run(*args, timeout=300):
    env = {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}
    script = os.path.relpath(EXAMPLE, ROOT)  # as the tutorial runs it (the prog in messages)
    return subprocess.run([sys.executable, script, *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT, env=env)


def test_the_tutorial_block_is_the_example_file_and_fits_in_60_lines():
    with open(DOC) as f:
        blocks = _python_blocks(f.read())
    with open(EXAMPLE) as f:
        code = f.read()
    assert len(blocks) == 1, "the tutorial has exactly one python block: the example file"
    assert blocks[0] == code, "docs/writing_a_check.md and docs/examples/martingale_check.py differ"
    assert len(code.splitlines()) <= 60


def test_the_example_passes_and_writes_its_report(tmp_path):
    out = tmp_path / "x.json"
    r = _run("--seeds", "2000", "--generations", "10", "--json", str(out))
    assert r.returncode == 0, r.stdout + r.stderr
    report = json.loads(out.read_text())
    claims = report["claims"]
    assert [c["id"] for c in claims] == ["u", "m"]
    assert all(c["passed"] for c in claims), claims
    assert report["check"] == "martingale_check" and "batch" not in report["config"]
    assert report["config"]["seeds"] == 2000 and report["config"]["generations"] == 10
    assert set(report["curves"]) == {"unbiased", "mle"}
    assert r.stdout.startswith("martingale_check  collapse_jax ")
    assert "2 passed, 0 failed" in r.stdout


def test_the_negative_control_fails(tmp_path):
    # --offset 0.05 moves both predictions by twice the width cap (0.25 / n, n = 10).
    out = tmp_path / "neg.json"
    r = _run("--seeds", "1000", "--generations", "10", "--offset", "0.05", "--json", str(out))
    assert r.returncode == 1, r.stdout + r.stderr
    claims = json.loads(out.read_text())["claims"]
    assert not any(c["passed"] for c in claims)
    assert {c["reason"] for c in claims} == {"prediction outside CI"}
    assert "0 passed, 2 failed" in r.stdout


def test_a_bad_value_exits_2_with_one_line(tmp_path):
    r = _run("--seeds", "1", "--json", str(tmp_path / "never.json"), timeout=120)
    assert r.returncode == 2, r.stdout + r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        "python docs/examples/martingale_check.py: error: --seeds=1 is invalid: allowed >= ")
    assert r.stdout == "" and not (tmp_path / "never.json").exists()


def test_verdict_imports_neither_jax_nor_matplotlib_nor_proofs_checks():
    code = ("import sys, collapse_jax.verdict as v; "
            "assert callable(v.run_check) and callable(v.base_parser); "
            "bad = sorted({m.split('.')[0] for m in sys.modules} "
            "& {'jax', 'jaxlib', 'matplotlib', 'proofs_checks'}); "
            "assert not bad, bad")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                       timeout=120)
    assert r.returncode == 0, r.stderr


def test_public_harness_errors_are_value_errors():
    from collapse_jax import verdict
    from collapse_jax.core._validate import InvalidInput

    assert issubclass(verdict.CheckError, InvalidInput)
    assert issubclass(InvalidInput, ValueError)
