"""What a workflow declares for metering: tags, outcomes, tool prices and budgets.

```yaml
tags: {department: finance, cost_center: cc-4711}   # copied onto every usage event
outcome: invoice_paid          # recorded when a run completes (billed "per outcome")
budgets:
  - id: clerk-monthly
    scope: agent               # run | workflow | agent | tenant
    agent: clerk
    period: month              # run | day | month | total
    limit_usd: 5.00            # or limit_tokens: 200000
    on_exceed: wait            # wait for a person, or fail the run
    alerts: [0.5, 0.8]         # journaled when spend first crosses these fractions
```
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class BudgetSpec(BaseModel):
    """A hard limit, checked before each model or tool call with the call's worst-case cost."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_.\-]{0,63}$")
    scope: Literal["run", "workflow", "agent", "tenant"] = "workflow"
    agent: str | None = None
    """For ``scope: agent``: which agent."""
    period: Literal["run", "day", "month", "total"] = "month"
    """Calendar periods in UTC; ``run`` counts the current run only."""
    limit_usd: float | None = Field(default=None, ge=0)
    limit_tokens: int | None = Field(default=None, ge=0)
    on_exceed: Literal["wait", "fail"] = "wait"
    alerts: list[float] = Field(default_factory=lambda: [0.8])
    """Fractions of the limit at which an alert is journaled (once per period)."""

    @model_validator(mode="after")
    def _one_limit(self) -> BudgetSpec:
        if (self.limit_usd is None) == (self.limit_tokens is None):
            raise ValueError("give exactly one of limit_usd and limit_tokens")
        if self.scope == "agent" and not self.agent:
            raise ValueError("an agent budget names its agent (agent: NAME)")
        if any(not 0 < a < 1 for a in self.alerts):
            raise ValueError("alerts are fractions of the limit, between 0 and 1")
        return self
