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

from pydantic import BaseModel, ConfigDict, Field, field_validator


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class VerifyJudgeSpec(_Spec):
    """A judge model that reads the answer against a rubric."""

    model: str = Field(min_length=1)
    rubric: str = Field(min_length=1)


class VerifySpec(_Spec):
    """Checks an answer must pass, and what happens when one fails."""

    # Dumped (and so pinned with the workflow) as ``schema``, the name it is written with.
    model_config = ConfigDict(extra="forbid", frozen=True, serialize_by_alias=True,
                              validate_by_name=True, validate_by_alias=True)

    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    grounding: bool = False
    rules: list[str] = Field(default_factory=list)
    judge: VerifyJudgeSpec | None = None
    on_failure: Literal["repair", "reassign", "escalate"] = "repair"
    max_repairs: int = Field(default=2, ge=0, le=10)

    @field_validator("schema_")
    @classmethod
    def _valid_schema(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        from jsonschema import SchemaError

        from .verify_checks import check_schema

        if value is not None:
            try:
                check_schema(value)
            except SchemaError as exc:
                raise ValueError(f"not a valid JSON Schema: {exc.message}") from None
        return value

    @field_validator("rules")
    @classmethod
    def _valid_rules(cls, value: list[str]) -> list[str]:
        from .verify_checks import check_rule

        for rule in value:
            try:
                check_rule(rule)
            except (SyntaxError, ValueError) as exc:
                raise ValueError(f"rule {rule!r} is not a valid expression: {exc}") from None
        return value
