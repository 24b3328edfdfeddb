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

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


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
