"""Price plans and invoices: per seat, per usage, per agent per month, per outcome — combined,
with included quantities and graduated tiers.

```yaml
plans:
  - id: team
    currency: USD
    seats: {count: 10, price: 30}                 # per seat per month
    usage:                                        # metered units
      - {unit: tokens, included: 1000000, tiers: [{up_to: 10000000, price: 0.000002},
                                                 {price: 0.0000015}]}
      - {unit: actions, price: 0.01}
      - {unit: active_minutes, price: 0.05}
    agents: {price: 400}                          # a digital worker's monthly salary, per
                                                  # agent active in the month
    outcomes: [{outcome: ticket_resolved, price: 1.50, included: 10}]
tenants: {acme: team}
```
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pydantic
import yaml
from pydantic import BaseModel, ConfigDict, Field

from agentplane._yaml import (
    FileError,
    FileProblem,
    load_with_positions,
    positioned,
    validation_problems,
    yaml_problem,
)
from agentplane.errors import AgentplaneError

from .ledger import Meter, UsageLedger, Window
from .usage import ACTION, ACTIVE, MODEL, OUTCOME, TASK

Unit = Literal["tokens", "input_tokens", "cached_input_tokens", "output_tokens",
               "reasoning_tokens", "actions", "tasks", "active_minutes", "model_cost_usd"]

UNIT_METERS: dict[str, tuple[Meter, float]] = {
    "tokens": (Meter("tokens", "sum", "tokens", MODEL), 1.0),
    "input_tokens": (Meter("input_tokens", "sum", "input_tokens", MODEL), 1.0),
    "cached_input_tokens": (Meter("cached", "sum", "cached_input_tokens", MODEL), 1.0),
    "output_tokens": (Meter("output_tokens", "sum", "output_tokens", MODEL), 1.0),
    "reasoning_tokens": (Meter("reasoning", "sum", "reasoning_tokens", MODEL), 1.0),
    "actions": (Meter("actions", "count", type=ACTION), 1.0),
    "tasks": (Meter("tasks", "count", type=TASK), 1.0),
    "active_minutes": (Meter("active", "sum", "quantity", ACTIVE), 1 / 60),
    "model_cost_usd": (Meter("model_cost", "sum", "cost_usd", MODEL), 1.0),
}
"""Each billable unit, as a meter over the usage events and a factor to the unit."""


class PlanError(AgentplaneError):
    """A plan is missing or does not fit the tenant."""

    exit_code = 2


class PlansFileError(FileError, PlanError):
    """A plans file is invalid; ``problems`` lists every problem with its line."""

    what = "plans file"


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Tier(_Spec):
    up_to: float | None = None
    """Quantity (beyond what is included) this tier covers up to; None: everything above."""
    price: float = Field(ge=0)
    """Price per unit."""


class UsageCharge(_Spec):
    unit: Unit
    price: float | None = Field(default=None, ge=0)
    tiers: list[Tier] = Field(default_factory=list)
    included: float = Field(default=0, ge=0)

    def tiered(self) -> list[Tier]:
        return self.tiers or [Tier(price=self.price or 0.0)]


class SeatCharge(_Spec):
    count: int = Field(ge=0)
    price: float = Field(ge=0)


class AgentCharge(_Spec):
    price: float = Field(ge=0)
    """Per agent per month."""
    agents: list[str] | None = None
    """Bill these agents; by default every agent active in the month."""


class OutcomeCharge(_Spec):
    outcome: str
    price: float = Field(ge=0)
    included: float = Field(default=0, ge=0)


class PlanSpec(_Spec):
    id: str
    currency: str = "USD"
    seats: SeatCharge | None = None
    usage: list[UsageCharge] = Field(default_factory=list)
    agents: AgentCharge | None = None
    outcomes: list[OutcomeCharge] = Field(default_factory=list)


class PlansFile(_Spec):
    plans: list[PlanSpec]
    tenants: dict[str, str] = Field(default_factory=dict)

    def plan_for(self, tenant: str, plan: str | None = None) -> PlanSpec:
        wanted = plan or self.tenants.get(tenant)
        if wanted is None:
            raise PlanError(f"tenant {tenant!r} has no plan in the plans file; add it under "
                            f"tenants: or pass --plan (plans: "
                            f"{', '.join(p.id for p in self.plans)})")
        for p in self.plans:
            if p.id == wanted:
                return p
        raise PlanError(f"no plan {wanted!r}; plans: {', '.join(p.id for p in self.plans)}")


def load_plans(path: Path) -> PlansFile:
    """Read a plans file; errors name the file, line and field."""
    source = str(path)
    try:
        data, marks = load_with_positions(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise PlansFileError(source, [FileProblem((), "file not found")]) from exc
    except yaml.YAMLError as exc:
        raise PlansFileError(source, [yaml_problem(exc)]) from exc
    try:
        return PlansFile.model_validate(data)
    except pydantic.ValidationError as exc:
        problems = validation_problems(exc, reference="the plans example in the README")
        raise PlansFileError(source, positioned(problems, marks)) from exc


def graduated(quantity: float, included: float, tiers: list[Tier]) -> tuple[float, float]:
    """(billable quantity, amount) for graduated tiers after an included allowance."""
    billable = max(0.0, quantity - included)
    amount, floor = 0.0, 0.0
    for tier in tiers:
        ceiling = math.inf if tier.up_to is None else tier.up_to
        portion = max(0.0, min(billable, ceiling) - floor)
        amount += portion * tier.price
        floor = ceiling
        if billable <= ceiling:
            break
    return billable, amount


@dataclass(frozen=True, slots=True)
class InvoiceLine:
    description: str
    quantity: float
    included: float
    billable: float
    amount: float


@dataclass
class Invoice:
    tenant: str
    plan: str
    period: str
    currency: str
    lines: list[InvoiceLine] = field(default_factory=list)

    @property
    def total(self) -> float:
        return round(sum(line.amount for line in self.lines), 2)

    def to_json(self) -> dict[str, Any]:
        return {"tenant": self.tenant, "plan": self.plan, "period": self.period,
                "currency": self.currency, "total": self.total,
                "lines": [{"description": line.description, "quantity": line.quantity,
                           "included": line.included, "billable": line.billable,
                           "amount": round(line.amount, 6)} for line in self.lines]}


def invoice(ledger: UsageLedger, plans: PlansFile, *, tenant: str, month: str,
            plan: str | None = None) -> Invoice:
    """The invoice of a tenant for a month (``2026-11``) under its plan."""
    spec = plans.plan_for(tenant, plan)
    window = Window.parse_month(month)
    where = {"tenant": tenant}
    bill = Invoice(tenant, spec.id, month, spec.currency)
    if spec.seats is not None:
        bill.lines.append(InvoiceLine("seats", spec.seats.count, 0, spec.seats.count,
                                      spec.seats.count * spec.seats.price))
    for charge in spec.usage:
        meter, factor = UNIT_METERS[charge.unit]
        quantity = sum(v for _, v in ledger.measure(meter, window, where=where,
                                                     billable=True)) * factor
        billable, amount = graduated(quantity, charge.included, charge.tiered())
        bill.lines.append(InvoiceLine(charge.unit, quantity, charge.included, billable, amount))
    if spec.agents is not None:
        active = [g[0] for g, _ in ledger.measure(
            Meter("agents", "count", group_by=("agent",)), window, where=where, billable=True)
            if g[0]]
        billed = spec.agents.agents if spec.agents.agents is not None else active
        bill.lines.append(InvoiceLine(f"agents ({', '.join(billed) or 'none'})", len(billed),
                                      0, len(billed), len(billed) * spec.agents.price))
    for outcome in spec.outcomes:
        count = ledger.spent(field="quantity", window=window, billable=True,
                             where={**where, "type": OUTCOME, "outcome": outcome.outcome})
        billable, amount = graduated(count, outcome.included, [Tier(price=outcome.price)])
        bill.lines.append(InvoiceLine(f"outcome {outcome.outcome}", count, outcome.included,
                                      billable, amount))
    return bill
