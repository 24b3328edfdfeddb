"""The ``verify:`` settings of agent steps and supervisor assignments: what an answer must pass
before it goes on, and what happens when it does not.

::

    - agent: analyst
      verify:
        schema: {type: object, required: [total]}    # JSON Schema of structured output
        grounding: true                              # claims cite what the run has seen
        rules: ["len(answer) < 2000"]
        judge: {model: openai:gpt-4o-mini, rubric: "Is every figure sourced?"}
        on_failure: repair                           # repair | reassign | escalate
        max_repairs: 2

Kept apart from ``spec`` (one concept per module); ``agentplane.runtime.verify`` reads it.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class VerifyJudgeSpec(_Spec):
    """A judge model that reads the answer against a rubric."""

    model: str = Field(min_length=1)
    rubric: str = Field(min_length=1)


class VerifySpec(_Spec):
    """Checks an answer must pass, and what happens when one fails."""

    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    grounding: bool = False
    rules: list[str] = Field(default_factory=list)
    judge: VerifyJudgeSpec | None = None
    on_failure: Literal["repair", "reassign", "escalate"] = "repair"
    max_repairs: int = Field(default=2, ge=0, le=10)
