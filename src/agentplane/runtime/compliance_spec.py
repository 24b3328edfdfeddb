"""The ``compliance:`` settings of a workflow spec: the EU AI Act's risk class and intended
purpose, log retention, labels on generated content, and data residency.

::

    compliance:
      risk_class: high                 # minimal | limited | high
      purpose: "Pre-screens supplier invoices for payment."
      retention_days: 3650
      labels: {visible: true}
      regions: [eu]                    # where this workflow's data may be processed

Kept apart from ``spec`` (one concept per module); ``agentplane.compliance`` reads it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from .spec import WorkflowSpec

Problem = tuple[tuple[str | int, ...], str]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LabelSpec(_Spec):
    """Labels on what the workflow's agents produce."""

    visible: bool = True
    """An explicit label a reader sees (in the content's language)."""
    text: dict[str, str] = Field(default_factory=dict)
    """The visible label per language (``en``, ``zh``); defaults are built in."""


class ComplianceSpec(_Spec):
    """What the workflow is for, how risky it is, and what that obliges."""

    risk_class: Literal["minimal", "limited", "high"] = "minimal"
    purpose: str | None = None
    retention_days: int | None = Field(default=None, ge=1)
    labels: LabelSpec | None = None
    regions: list[str] = Field(default_factory=list)

    @property
    def labelled(self) -> LabelSpec | None:
        """How the workflow's outputs are labelled, or None for none: as ``labels`` says, and
        by default for limited and high risk (EU AI Act Art. 50 transparency)."""
        if self.labels is not None:
            return self.labels
        return LabelSpec() if self.risk_class in ("limited", "high") else None


_OUT_OF_THE_LOOP = "out_of_the_loop"
MIN_HIGH_RISK_RETENTION_DAYS = 183
"""Art. 19(1): logs of a high-risk system are kept for at least six months."""


def _autonomy_levels(spec: WorkflowSpec) -> list[tuple[tuple[str | int, ...], Any]]:
    return [(("autonomy",), spec.autonomy),
            *((("agents", i, "autonomy"), a.autonomy) for i, a in enumerate(spec.agents)),
            *((("tools", i, "autonomy"), t.autonomy) for i, t in enumerate(spec.tools))]


def compliance_problems(spec: WorkflowSpec) -> list[Problem]:
    """What a workflow's risk class forbids or requires that its other settings break.

    High risk (EU AI Act Annex III): human oversight (Art. 14) — no autonomy level anywhere in
    the workflow may be ``out_of_the_loop``; record-keeping (Art. 12, 19) — ``retention_days``
    must be declared.
    """
    compliance = spec.compliance
    if compliance is None or compliance.risk_class != "high":
        return []
    problems: list[Problem] = []
    if compliance.retention_days is None:
        problems.append((("compliance", "retention_days"),
                         "a high-risk workflow must declare retention_days: how long its runs' "
                         "logs are kept (EU AI Act Art. 12 and 19: at least six months, 183 "
                         "days)"))
    elif compliance.retention_days < MIN_HIGH_RISK_RETENTION_DAYS:
        problems.append((("compliance", "retention_days"),
                         f"a high-risk workflow keeps its logs at least "
                         f"{MIN_HIGH_RISK_RETENTION_DAYS} days (EU AI Act Art. 19: six months); "
                         f"{compliance.retention_days} is too few"))
    for path, level in _autonomy_levels(spec):
        if level == _OUT_OF_THE_LOOP:
            problems.append((path, "a high-risk workflow may not run out_of_the_loop (EU AI "
                                   "Act Art. 14: human oversight): use on_the_loop or "
                                   "in_the_loop"))
    return problems
