"""Budgets: hard limits checked *before* a model or tool call, with the call's worst case.

Spend so far comes from the usage ledger (synced from the journal just before the check) plus
the worst cases of calls this process has in flight, so two calls started at once cannot both
slip under a limit. A breach makes the run wait for a person or fail, as the budget says;
alerts are journaled the first time spend crosses each threshold in a period.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime

from .ledger import UsageLedger, Window
from .spec import BudgetSpec


@dataclass(frozen=True, slots=True)
class CallEstimate:
    """The most a call can cost."""

    usd: float
    tokens: int


@dataclass(frozen=True, slots=True)
class Scope:
    """Who a call belongs to."""

    run_id: str
    tenant: str
    workflow: str
    agent: str


@dataclass(frozen=True, slots=True)
class BudgetState:
    budget: BudgetSpec
    period: str
    """Which period the spend is for: ``2026-11``, ``2026-11-22``, ``run``, ``total``."""
    spent: float
    reserved: float
    limit: float
    unit: str
    """``USD`` or ``tokens``."""

    def breached_by(self, estimate: CallEstimate) -> bool:
        worst = estimate.usd if self.unit == "USD" else estimate.tokens
        return self.spent + self.reserved + worst > self.limit

    def message(self, estimate: CallEstimate) -> str:
        worst = estimate.usd if self.unit == "USD" else estimate.tokens
        flight = f" + {self._fmt(self.reserved)} in flight" if self.reserved else ""
        return (f"budget {self.budget.id} ({self.budget.scope}, {self.period}): spent "
                f"{self._fmt(self.spent)}{flight}; this call may cost up to "
                f"{self._fmt(worst)}, over the limit of {self._fmt(self.limit)}")

    def _fmt(self, value: float) -> str:
        return f"{value:.4f} USD" if self.unit == "USD" else f"{value:.0f} tokens"

    def crossed_alerts(self) -> list[float]:
        return [a for a in self.budget.alerts if self.limit and self.spent >= a * self.limit]


def period_of(budget: BudgetSpec, now: float) -> tuple[str, Window]:
    moment = datetime.fromtimestamp(now, UTC)
    if budget.period == "month":
        return f"{moment:%Y-%m}", Window.month(moment.year, moment.month)
    if budget.period == "day":
        start = moment.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
        return f"{moment:%Y-%m-%d}", Window(start, start + 86400)
    return budget.period, Window()


def applies(budget: BudgetSpec, scope: Scope) -> bool:
    return budget.scope != "agent" or budget.agent == scope.agent


def scope_filter(budget: BudgetSpec, scope: Scope) -> dict[str, str]:
    if budget.scope == "run" or budget.period == "run":
        return {"run_id": scope.run_id}
    where = {"tenant": scope.tenant}
    if budget.scope in ("workflow", "agent"):
        where["workflow"] = scope.workflow
    if budget.scope == "agent":
        where["agent"] = scope.agent
    return where


class BudgetBook:
    """Spend per budget, from the ledger and the calls in flight in this process."""

    def __init__(self, ledger: UsageLedger) -> None:
        self.ledger = ledger
        self._in_flight: dict[tuple[str, str], float] = defaultdict(float)

    def _key(self, budget: BudgetSpec, scope: Scope, period: str) -> tuple[str, str]:
        where = scope_filter(budget, scope)
        return budget.id, f"{period}|" + "|".join(f"{k}={v}" for k, v in sorted(where.items()))

    def state(self, budget: BudgetSpec, scope: Scope, now: float) -> BudgetState:
        period, window = period_of(budget, now)
        unit, field = (("USD", "cost_usd") if budget.limit_usd is not None
                       else ("tokens", "tokens"))
        limit = float(budget.limit_usd if budget.limit_usd is not None
                      else budget.limit_tokens or 0)
        where = scope_filter(budget, scope)
        # a run's own budget counts all its spend; the others count production spend only
        spent = self.ledger.spent(field=field, window=window, where=where,
                                  billable="run_id" not in where)
        return BudgetState(budget, period, spent, self._in_flight[self._key(budget, scope,
                                                                             period)],
                           limit, unit)

    def reserve(self, states: list[BudgetState], scope: Scope, estimate: CallEstimate
                ) -> list[tuple[tuple[str, str], float]]:
        """Hold the call's worst case against each budget until ``release``."""
        held = []
        for s in states:
            amount = estimate.usd if s.unit == "USD" else float(estimate.tokens)
            key = self._key(s.budget, scope, s.period)
            self._in_flight[key] += amount
            held.append((key, amount))
        return held

    def release(self, held: list[tuple[tuple[str, str], float]]) -> None:
        for key, amount in held:
            self._in_flight[key] -= amount
