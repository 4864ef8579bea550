"""One checkable statement and its verdict."""

from __future__ import annotations

import dataclasses
import math
import numbers
from typing import Literal

from collapse_jax.verdict.json_values import _num

#: Relations a :class:`Claim` may test between its CI and ``predicted``.
RELATIONS = ("equal", "below", "above", "at_most")
#: The symbol the verdict table prints before ``predicted`` for each relation (``at_most``
#: prints ``<`` like ``below``: the table shows the bound's side, the JSON the exact relation).
RELATION_SYMBOLS = {"equal": "", "below": "<", "above": ">", "at_most": "<"}


@dataclasses.dataclass
class Claim:
    """One checkable statement and its verdict.

    ``relation='equal'``: passes when ``predicted`` lies inside ``ci``. ``'below'`` /
    ``'above'``: passes when the whole CI lies below / above ``predicted``. ``'at_most'``: a
    bound that may be attained, passes unless the whole CI lies above ``predicted`` (a
    simulation can refute a tight bound but cannot show strict inequality). In every case the
    CI half-width must not exceed ``max_half_width``, otherwise the run could not discriminate
    and the claim fails with that reason.

    ``min_effect`` (``'below'`` / ``'above'`` only) replaces the width rule by the smallest
    effect worth detecting: the claim passes when the whole CI lies on the claimed side of
    ``predicted`` (a sign established at the claim's level, whatever the width), fails as
    *refuted* when the CI rules out an effect of ``min_effect`` in the claimed direction
    (``predicted - min_effect`` below its lower end for ``'below'``), and fails as
    *undecided* otherwise (the CI holds both no effect and an effect of that size: add seeds).
    ``decided`` is False exactly for the undecided claims (and for a CI too wide under the
    width rule, or a non-finite estimate).

    ``seeds`` (optional): the number of seeds the CI was computed from. An undecided claim
    then carries ``seeds_to_decide``, the seed count at which its CI would decide it if the
    measured value and the spread over seeds stayed as they are (each end's distance from the
    measured value shrinking as ``1 / sqrt(seeds)``): the smaller of the counts that would
    pass it and that would refute it, at least ``seeds + 1``. An estimate from one run, not a
    promise: the measured value moves with the seeds, most where it sits near the bound or
    near the smallest effect.
    """

    id: str
    statement: str
    predicted: float
    measured: float
    ci: tuple[float, float]
    max_half_width: float
    relation: Literal["equal", "below", "above", "at_most"] = "equal"
    note: str = ""
    min_effect: float | None = None
    seeds: int | None = None
    passed: bool = dataclasses.field(init=False)
    reason: str = dataclasses.field(init=False)
    decided: bool = dataclasses.field(init=False)
    seeds_to_decide: int | None = dataclasses.field(init=False, default=None)

    def __post_init__(self):
        if self.relation not in RELATIONS:
            raise ValueError(f"Claim {self.id}: relation={self.relation!r} is unknown; allowed "
                             f"one of {', '.join(RELATIONS)}")
        if self.seeds is not None and not (isinstance(self.seeds, numbers.Integral)
                                           and not isinstance(self.seeds, bool)
                                           and self.seeds >= 2):
            raise ValueError(f"Claim {self.id}: seeds={self.seeds!r} is invalid: allowed an "
                             "integer >= 2 (the seeds the CI was computed from) or None")
        if self.min_effect is not None and self.relation not in ("below", "above"):
            raise ValueError(f"Claim {self.id}: min_effect={self.min_effect!r} is invalid with "
                             f"relation={self.relation!r}: allowed only with 'below' or 'above'")
        lo, hi = (float(v) for v in self.ci)
        half = 0.5 * (hi - lo)
        self.decided = True
        finite = all(math.isfinite(v) for v in (lo, hi, float(self.measured),
                                                float(self.predicted)))
        if not finite:
            self.passed, self.reason = False, "non-finite estimate (see metrics)"
            self.decided = False
        elif lo > hi:
            self.passed, self.reason = False, f"invalid CI: lower end {lo:.6g} > upper {hi:.6g}"
            self.decided = False
        elif self.min_effect is not None and not (
                math.isfinite(float(self.min_effect)) and float(self.min_effect) > 0):
            self.passed, self.decided = False, False  # e.g. a NaN scale it was derived from
            self.reason = f"invalid min_effect {self.min_effect!r}"
        elif self.min_effect is not None:
            self._decide_effect(lo, hi, float(self.min_effect))
        elif not float(self.max_half_width) >= 0:  # NaN or negative: no width rule to apply
            self.passed, self.decided = False, False
            self.reason = f"invalid width cap {self.max_half_width!r}"
        elif half > self.max_half_width:
            self.passed, self.decided = False, False
            self.reason = (f"CI too wide to discriminate: half-width {half:.3g} > "
                           f"{self.max_half_width:.3g}; add seeds")
        elif self.relation == "equal":
            self.passed = lo <= self.predicted <= hi
            self.reason = "prediction inside CI" if self.passed else "prediction outside CI"
        elif self.relation == "below":
            self.passed = hi < self.predicted
            self.reason = "CI below bound" if self.passed else "CI not below bound"
        elif self.relation == "at_most":
            self.passed = lo <= self.predicted
            self.reason = ("CI not above the bound" if self.passed
                           else "CI wholly above the bound: violated")
        else:
            self.passed = lo > self.predicted
            self.reason = "CI above bound" if self.passed else "CI not above bound"
        if not self.decided and self.seeds is not None and finite and lo <= hi:
            self.seeds_to_decide = self._seeds_to_decide(lo, hi)
            if self.seeds_to_decide is not None:
                self.reason += (f" (about {self.seeds_to_decide} seeds would decide it at "
                                f"this spread, against {self.seeds} here)")

    def _seeds_to_decide(self, lo: float, hi: float) -> int | None:
        """``seeds_to_decide`` (class docstring) of an undecided claim."""
        n = int(self.seeds)
        if self.min_effect is None:  # the width rule: the half-width falls as 1/sqrt(seeds)
            cap = float(self.max_half_width)
            if not cap > 0:
                return None
            return max(n + 1, math.ceil(n * (0.5 * (hi - lo) / cap) ** 2))  # at the cap: decided
        sign = -1.0 if self.relation == "below" else 1.0
        effect = float(self.min_effect)
        gain = sign * (float(self.measured) - self.predicted)
        ends = sorted((sign * (lo - self.predicted), sign * (hi - self.predicted)))
        below, above = gain - ends[0], ends[1] - gain  # distances from the measured gain
        counts = []
        if gain > 0 and below > 0:  # pass: the lower end moves above the bound
            counts.append(n * (below / gain) ** 2)
        if gain < effect and above > 0:  # refute: the upper end moves below the effect
            counts.append(n * (above / (effect - gain)) ** 2)
        if not counts or not all(math.isfinite(c) for c in counts):
            return None
        return max(n + 1, math.floor(min(counts)) + 1)

    def _decide_effect(self, lo: float, hi: float, effect: float) -> None:
        """The ``min_effect`` rule (class docstring), on the CI read as gains in the claimed
        direction (positive: the claim holds)."""
        sign = -1.0 if self.relation == "below" else 1.0
        gain_lo, gain_hi = sorted((sign * (lo - self.predicted), sign * (hi - self.predicted)))
        edge = self.predicted + sign * effect
        self.passed = gain_lo > 0
        if self.passed:
            self.reason = "CI wholly on the claimed side of the bound"
        elif gain_hi < 0:
            self.reason = "refuted: the CI lies wholly on the other side of the bound"
        elif gain_hi < effect:
            self.reason = (f"refuted: the CI rules out an effect of {effect:.3g} in the claimed "
                           f"direction (beyond {edge:.4g})")
        else:
            self.decided = False
            self.reason = (f"undecided: the CI holds both the bound and an effect of "
                           f"{effect:.3g} (beyond {edge:.4g}); add seeds")

    def to_json(self) -> dict:
        out = {"id": self.id, "statement": self.statement, "relation": self.relation,
               "predicted": _num(self.predicted), "measured": _num(self.measured),
               "ci": [_num(self.ci[0]), _num(self.ci[1])],
               "max_half_width": _num(self.max_half_width), "passed": bool(self.passed),
               "decided": bool(self.decided), "reason": self.reason, "note": self.note}
        if self.min_effect is not None:
            out["min_effect"] = _num(self.min_effect)
        if self.seeds is not None:
            out["seeds"] = int(self.seeds)
            out["seeds_to_decide"] = self.seeds_to_decide
        return out


def with_seeds(claims, seeds: int) -> list[Claim]:
    """``claims`` decided again with ``seeds`` (:class:`Claim`'s ``seeds``), for a check whose
    every CI comes from the same ``seeds`` seeds and nothing else (no prediction uncertainty
    from another run folded in): its undecided claims then say how many seeds would decide
    them. A claim that already has its seed count keeps it."""
    return [c if c.seeds is not None else dataclasses.replace(c, seeds=int(seeds))
            for c in claims]
