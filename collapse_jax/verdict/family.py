"""Coverage of a family of claims decided together, and the plan that fixes the family."""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def simultaneous_level(n_claims: int, family: float = 0.95) -> float:
    """Per-claim CI level that gives ``family`` coverage over all claims at once
    (Bonferroni): with per-claim 95% intervals a check of 9 exact claims would fail about one
    run in three by chance alone."""
    return 1.0 - (1.0 - family) / max(n_claims, 1)


class ClaimPlan:
    """The claims a run will decide, declared before anything is computed.

    The harness hands every check an empty plan as ``args.plan``. The check declares the ids of
    the claims its configuration decides, once, before it validates ``--seeds`` (the seeds
    floor depends on the level) and before it computes::

        level = a.plan.declare(["1a", "1b", "2"])   # 1 - 0.05 / 3 per claim (Bonferroni)

    The family size, hence the per-claim level, is the number of declared ids: no check keeps
    a count of its own. After the run the harness compares the claims the check returned with
    the plan (the same ids, each once) and stops with an internal error (exit 3) naming the
    difference, so a declared claim cannot go missing and an undeclared one cannot widen the
    family unnoticed.
    """

    def __init__(self):
        self._ids: tuple[str, ...] | None = None
        self.family = 0.95

    def declare(self, ids: Iterable[str], family: float = 0.95) -> float:
        """Declare the claim ids (unique); return the per-claim level ``1 - (1 - family) / len(ids)``."""
        ids = tuple(str(i) for i in ids)
        if not ids:
            raise ValueError("ClaimPlan.declare: ids is empty; a check decides at least one claim")
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"ClaimPlan.declare: ids repeat {', '.join(dup)}")
        if not 0.0 < family < 1.0:
            raise ValueError(f"ClaimPlan.declare: family={family!r}; allowed (0, 1)")
        if self._ids is not None and self._ids != ids:
            raise ValueError("ClaimPlan.declare: the plan is already declared with other ids")
        self._ids, self.family = ids, family
        return self.level

    @property
    def declared(self) -> bool:
        return self._ids is not None

    @property
    def ids(self) -> tuple[str, ...]:
        if self._ids is None:
            raise ValueError("ClaimPlan: no claims declared yet (call declare first)")
        return self._ids

    @property
    def size(self) -> int:
        return len(self.ids)

    @property
    def level(self) -> float:
        """Per-claim level (Bonferroni over the declared family)."""
        return simultaneous_level(self.size, self.family)

    def note(self) -> str:
        """The table's line on the family: ``CIs: simultaneous 95% over the k claims (each at
        level L, Bonferroni)``; a check appends how its intervals were made."""
        return (f"CIs: simultaneous {self.family:.0%} over the {self.size} claims (each at level "
                f"{self.level:.4f}, Bonferroni)")

    def verify(self, decided: Sequence[str]) -> None:
        """Raise ``RuntimeError`` unless ``decided`` are the declared ids, each once (in any
        order: the table prints them as decided)."""
        decided = tuple(decided)
        if sorted(decided) == sorted(self.ids):
            return
        missing = [i for i in self.ids if i not in decided]
        extra = [i for i in decided if i not in self.ids]
        twice = sorted({i for i in decided if decided.count(i) > 1})
        what = "; ".join(part for part in (
            f"declared but not decided: {', '.join(missing)}" if missing else "",
            f"decided but not declared: {', '.join(extra)}" if extra else "",
            f"decided twice: {', '.join(twice)}" if twice else "") if part)
        raise RuntimeError(f"the claims decided differ from the plan ({what}); the family "
                           f"size {self.size} and the per-claim level would be wrong")
