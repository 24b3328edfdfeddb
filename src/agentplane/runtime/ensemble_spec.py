"""The ``ensemble:`` setting of an agent step: send one task to several models or agents at
once and keep the answer a judge picks.

::

    - agent: analyst
      ensemble: {models: [openai:gpt-4o-mini, anthropic:claude-3-5-haiku], judge: {rule: longest}}

Kept apart from ``spec`` (one concept per module); ``agentplane.runtime.ensemble`` reads it.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

Name = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_\-]{0,63}$")]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class JudgeSpec(_Spec):
    """How an ensemble picks one answer: a rule, a scorer (``module:function``), or a model."""

    rule: str | None = None
    scorer: str | None = None
    model: str | None = None


class EnsembleSpec(_Spec):
    """Send the step's task to several models or agents at once and keep one answer."""

    models: list[str] = Field(default_factory=list)
    agents: list[Name] = Field(default_factory=list)
    judge: JudgeSpec = JudgeSpec(rule="first")
