"""Coverage of a family of claims decided together."""

from __future__ import annotations


def simultaneous_level(n_claims: int, family: float = 0.95) -> float:
    """Per-claim CI level that gives ``family`` coverage over all claims at once
    (Bonferroni): with per-claim 95% intervals a check of 9 exact claims would fail about one
    run in three by chance alone."""
    return 1.0 - (1.0 - family) / max(n_claims, 1)
