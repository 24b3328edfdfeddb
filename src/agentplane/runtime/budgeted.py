"""Budgets in the runtime: before a model or tool call, its worst case against every budget.

A call already in the journal is never checked again (replay must not re-decide what was
spent). A breach fails the run or waits for a person (``approval.requested`` of kind
``budget``), as the budget declares; an approval lets the run go over that budget from then on.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from agentplane.journal import EventType, JournalStore
from agentplane.metering.budgets import BudgetBook, CallEstimate, Scope, applies
from agentplane.metering.ledger import UsageLedger, ledger_for
from agentplane.metering.pricing import catalog_pricing
from agentplane.metering.usage import Pricer, WorstCase, free, free_worst_case
from agentplane.models.base import ModelRequest

from .context import RunContext, RunFailure

DEFAULT_MAX_OUTPUT_TOKENS = 4096
"""The output a model call may produce when its agent sets no ``max_output_tokens``."""
BUDGET_ALERT = "budget.alert"


@dataclass
class RunMetering:
    """The usage ledger and budget book a runtime checks budgets against."""

    store: JournalStore
    pricer: Pricer = free
    worst_case: WorstCase = free_worst_case
    """Both default to free; ``with_catalog`` prices calls from the price catalog."""
    _ledger: UsageLedger | None = None
    _book: BudgetBook | None = None

    @classmethod
    def with_catalog(cls, store: JournalStore, overrides: Path | None = None) -> RunMetering:
        """Metering priced from the bundled catalog (plus ``overrides``)."""
        pricer, worst_case = catalog_pricing(overrides)
        return cls(store, pricer, worst_case)

    @property
    def ledger(self) -> UsageLedger:
        if self._ledger is None:
            self._ledger = ledger_for(self.store)
        return self._ledger

    @property
    def book(self) -> BudgetBook:
        if self._book is None:
            self._book = BudgetBook(self.ledger)
        return self._book

    def close(self) -> None:
        if self._ledger is not None:
            self._ledger.close()


def estimate_model_call(metering: RunMetering, model: str, request: ModelRequest
                        ) -> CallEstimate:
    """The most a model call can cost: a conservative prompt estimate (3 characters a token)
    plus the most output, at the model's highest prices."""
    chars = sum(len(m.content or "") + len(json.dumps([c.to_dict() for c in m.tool_calls]))
                for m in request.messages)
    chars += sum(len(t.description) + len(json.dumps(t.parameters)) for t in request.tools)
    prompt = chars // 3 + 1
    most_output = request.max_output_tokens or DEFAULT_MAX_OUTPUT_TOKENS
    return CallEstimate(metering.worst_case(model, prompt, most_output), prompt + most_output)


Held = list[tuple[tuple[str, str], float]]


async def check(ctx: RunContext, metering: RunMetering, step_key: str, agent: str,
                estimate: CallEstimate, *, wait: bool = True) -> Held:
    """Check every budget the call falls under; returns what to release after the call.
    Without ``wait`` a breach fails the call (``RunFailure``) even where the budget would ask
    a person (a call made inside another call cannot wait)."""
    scope = Scope(ctx.run_id, ctx.run.tenant, ctx.workflow.spec.name, agent)
    budgets = [b for b in ctx.workflow.spec.budgets if applies(b, scope)]
    if not budgets:
        return []
    await metering.ledger.sync(ctx.store, metering.pricer)
    now = time.time()
    states = [metering.book.state(b, scope, now) for b in budgets]
    for state in states:
        for threshold in state.crossed_alerts():
            await ctx.record_once(
                f"budget/{state.budget.id}/{state.period}/{threshold:g}", BUDGET_ALERT,
                {"budget": state.budget.id, "threshold": threshold, "spent": state.spent,
                 "limit": state.limit, "unit": state.unit, "period": state.period})
    for state in states:
        if not state.breached_by(estimate) or state.budget.id in ctx.budgets_waived:
            continue
        message = state.message(estimate)
        if state.budget.on_exceed == "fail" or not wait:
            raise RunFailure(message)
        resolution = await ctx.wait(
            f"{step_key}/budget.{state.budget.id}", kind="budget", actor=f"agent:{agent}",
            data={"budget": state.budget.id, "reason": message, "spent": state.spent,
                  "limit": state.limit, "unit": state.unit, "worst_case_usd": estimate.usd,
                  "worst_case_tokens": estimate.tokens})
        if resolution["type"] != EventType.APPROVAL_GRANTED:
            raise RunFailure(f"{message}; going over it was not approved "
                             f"({resolution.get('reason') or resolution['type']})")
    return metering.book.reserve(states, scope, estimate)



async def before_model_call(ctx: RunContext, step_key: str, agent: str, model: str,
                            request: ModelRequest, *, wait: bool = True) -> Held:
    if ctx.metering is None or not ctx.workflow.spec.budgets or ctx.recorded(
            step_key, EventType.MODEL_COMPLETED) is not None:
        return []
    estimate = estimate_model_call(ctx.metering, model, request)
    return await check(ctx, ctx.metering, step_key, agent, estimate, wait=wait)


async def before_tool_call(ctx: RunContext, step_key: str, agent: str, cost_usd: float) -> Held:
    if ctx.metering is None or not ctx.workflow.spec.budgets or any(
            ctx.recorded(step_key, kind) is not None
            for kind in (EventType.TOOL_COMPLETED, EventType.TOOL_FAILED)):
        return []
    return await check(ctx, ctx.metering, step_key, agent, CallEstimate(cost_usd, 0))


def release(ctx: RunContext, held: Held) -> None:
    if held and ctx.metering is not None:
        ctx.metering.book.release(held)
