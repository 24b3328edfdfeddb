"""The ``ensemble:`` setting of an agent step: send one task to several models or agents at
once and keep the answer a judge picks.

::

    - agent: analyst
      ensemble: {models: [openai:gpt-4o-mini, anthropic:claude-3-5-haiku], judge: {rule: longest}}

Kept apart from ``spec`` (one concept per module); ``agentplane.runtime.ensemble`` reads it.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

Name = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_\-]{0,63}$")]


RULES = ("first", "longest", "shortest", "majority")
"""The rules a judge may pick by (``majority``: the most common answer)."""


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class JudgeSpec(_Spec):
    """How an ensemble picks one answer: a rule, a scorer (``module:function``), or a model."""

    rule: str | None = None
    scorer: str | None = Field(default=None, pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
    """``module:function`` called as ``function(task, answer) -> float``."""
    model: str | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> JudgeSpec:
        given = [k for k in ("rule", "scorer", "model") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("a judge needs exactly one of `rule`, `scorer` or `model`"
                             + (f" (got {', '.join(given)})" if given else ""))
        if self.rule is not None and self.rule not in RULES:
            raise ValueError(f"unknown rule {self.rule!r}; use one of {', '.join(RULES)}")
        return self


class EnsembleSpec(_Spec):
    """Send the step's task to several models or agents at once and keep one answer."""

    models: list[str] = Field(default_factory=list)
    agents: list[Name] = Field(default_factory=list)
    judge: JudgeSpec = JudgeSpec(rule="first")
