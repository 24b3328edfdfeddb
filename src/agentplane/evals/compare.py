"""Two evaluations of the same dataset side by side: which cases started or stopped passing,
and what each case costs now against before."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from .evaluate import Evaluation


@dataclass(frozen=True, slots=True)
class CaseDiff:
    case_id: str
    before: bool | None
    """Whether the case passed in the baseline (None: not in it)."""
    after: bool | None
    """Whether it passes in the evaluation compared (None: not in it)."""
    cost_delta_usd: float
    """Cost now minus cost before, in USD (0 when the case is missing on one side)."""

    @property
    def change(self) -> str:
        """``newly_failing``, ``newly_passing``, ``still_failing``, ``still_passing``,
        ``added`` or ``removed``."""
        if self.before is None:
            return "added"
        if self.after is None:
            return "removed"
        if self.before != self.after:
            return "newly_passing" if self.after else "newly_failing"
        return "still_passing" if self.after else "still_failing"

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "change": self.change}


@dataclass(frozen=True, slots=True)
class Comparison:
    baseline: str
    """Id of the baseline evaluation."""
    evaluation: str
    cases: tuple[CaseDiff, ...]

    def named(self, change: str) -> list[str]:
        return [c.case_id for c in self.cases if c.change == change]

    def to_json(self) -> dict[str, Any]:
        return {"baseline": self.baseline, "evaluation": self.evaluation,
                "newly_failing": self.named("newly_failing"),
                "newly_passing": self.named("newly_passing"),
                "cost_delta_usd": round(sum(c.cost_delta_usd for c in self.cases), 9),
                "cases": [c.to_json() for c in self.cases]}


def compare(baseline: Evaluation, evaluation: Evaluation) -> Comparison:
    """Per case: passed before and now, and the cost difference (cases in dataset order)."""
    before = {c.case_id: c for c in baseline.cases}
    after = {c.case_id: c for c in evaluation.cases}
    order = [c.case_id for c in evaluation.cases] + [k for k in before if k not in after]
    diffs = []
    for case_id in order:
        old, new = before.get(case_id), after.get(case_id)
        delta = round(new.cost_usd - old.cost_usd, 9) if old and new else 0.0
        diffs.append(CaseDiff(case_id, old.passed if old else None,
                              new.passed if new else None, delta))
    return Comparison(baseline.id, evaluation.id, tuple(diffs))
