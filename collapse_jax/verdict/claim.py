"""One checkable statement and its verdict."""

from __future__ import annotations

import dataclasses
import math
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
    """

    id: str
    statement: str
    predicted: float
    measured: float
    ci: tuple[float, float]
    max_half_width: float
    relation: Literal["equal", "below", "above", "at_most"] = "equal"
    note: str = ""
    passed: bool = dataclasses.field(init=False)
    reason: str = dataclasses.field(init=False)

    def __post_init__(self):
        if self.relation not in RELATIONS:
            raise ValueError(f"Claim {self.id}: relation={self.relation!r} is unknown; allowed "
                             f"one of {', '.join(RELATIONS)}")
        lo, hi = (float(v) for v in self.ci)
        half = 0.5 * (hi - lo)
        finite = all(math.isfinite(v) for v in (lo, hi, float(self.measured),
                                                float(self.predicted)))
        if not finite:
            self.passed, self.reason = False, "non-finite estimate (see metrics)"
        elif not float(self.max_half_width) >= 0:  # NaN or negative: no width rule to apply
            self.passed = False
            self.reason = f"invalid width cap {self.max_half_width!r}"
        elif lo > hi:
            self.passed, self.reason = False, f"invalid CI: lower end {lo:.6g} > upper {hi:.6g}"
        elif half > self.max_half_width:
            self.passed = False
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

    def to_json(self) -> dict:
        return {"id": self.id, "statement": self.statement, "relation": self.relation,
                "predicted": _num(self.predicted), "measured": _num(self.measured),
                "ci": [_num(self.ci[0]), _num(self.ci[1])],
                "max_half_width": _num(self.max_half_width), "passed": bool(self.passed),
                "reason": self.reason, "note": self.note}
