"""The verdict table every check prints."""

from __future__ import annotations

import math

from collapse_jax.verdict.claim import RELATION_SYMBOLS, Claim


def format_table(title: str, claims: list[Claim], timing: dict, ci_note: str = "") -> str:
    """The verdict table printed by every check."""
    head = (f"{'id':<4} {'predicted':>11} {'measured':>11} {'CI':>25} {'half-w/max':>17}  "
            "verdict")
    lines = [title] + ([ci_note] if ci_note else []) + ["=" * len(head), head, "-" * len(head)]
    for c in claims:
        rel = RELATION_SYMBOLS[c.relation]
        half = 0.5 * (c.ci[1] - c.ci[0])
        lines.append(
            f"{c.id:<4} {rel + _fmt(c.predicted):>11} {_fmt(c.measured):>11} "
            f"{'[' + _fmt(c.ci[0]) + ', ' + _fmt(c.ci[1]) + ']':>25} "
            f"{_fmt(half, 2) + _limit(c):>17}  "
            f"{'PASS' if c.passed else 'FAIL'}")
        lines.append(f"     {c.statement}")
        if not c.passed:
            lines.append(f"     -> {c.reason}")
        if c.note:
            lines.append(f"     note: {c.note}")
    lines.append("-" * len(head))
    n_pass = sum(c.passed for c in claims)
    n_open = sum(not c.decided for c in claims)
    counts = [c.seeds_to_decide for c in claims if not c.decided]
    # every undecided claim estimates its seed count: the largest would decide them all
    need = (f"; about {max(counts)} seeds would decide them all"
            if counts and all(v is not None for v in counts) else "")
    lines.append(f"{n_pass} passed, {len(claims) - n_pass} failed"
                 f"{f' ({n_open} of them undecided{need})' if n_open else ''}   "
                 f"(compile {timing.get('compile_s', 0):.1f}s, run {timing.get('run_s', 0):.1f}s, "
                 f"{timing.get('seed_generations_per_s', 0):.3g} seed-generations/s)")
    return "\n".join(lines)


def _limit(c: Claim) -> str:
    """The column's second half: the width cap, or ``eff`` and the smallest effect worth
    detecting for a claim decided by :attr:`Claim.min_effect`."""
    if c.min_effect is not None:
        return " eff " + _fmt(c.min_effect, 2)
    return "/" + _fmt(c.max_half_width, 2)


def _fmt(v, digits: int = 4) -> str:
    v = float(v)
    if not math.isfinite(v):
        return "nan"
    if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e5):
        return f"{v:.{digits - 1}e}"
    return f"{v:.{digits}f}"
