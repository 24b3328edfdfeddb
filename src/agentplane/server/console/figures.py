"""The numbers the console shows, computed from the journal and the usage ledger for the
signed-in key's tenant: runs by status, latency percentiles, error rates, guardian decisions,
spend per step, per group and per day."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from agentplane.governance.keys import ApiKey
from agentplane.journal import Event, EventType, RunRecord
from agentplane.journal.events import RUN_STATUSES
from agentplane.metering.ledger import Window
from agentplane.metering.usage import MODEL
from agentplane.server import actions
from agentplane.server.plane import Plane

from .timeline import StepCost

RECENT_RUNS = 200
"""How many of the newest runs the overview and the guardians page read events from."""


def parse_time(iso: str) -> float:
    """Unix seconds of an ISO 8601 time."""
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0–100, nearest rank) of ``values``; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass
class StepTimes:
    """Durations of model and tool steps, in milliseconds, from their events' times."""

    model_ms: list[float] = field(default_factory=list)
    tool_ms: list[float] = field(default_factory=list)

    def add(self, events: Iterable[Event]) -> None:
        began: dict[tuple[str, str | None], float] = {}
        for e in events:
            if e.type == EventType.MODEL_REQUESTED:
                began[("model", e.step_key)] = parse_time(e.time)
            elif e.type == EventType.TOOL_STARTED:
                began[("tool", e.step_key)] = parse_time(e.time)
            elif e.type in (EventType.MODEL_COMPLETED, EventType.MODEL_FAILED):
                start = began.pop(("model", e.step_key), None)
                if start is not None:
                    self.model_ms.append((parse_time(e.time) - start) * 1000)
            elif e.type in (EventType.TOOL_COMPLETED, EventType.TOOL_FAILED):
                start = began.pop(("tool", e.step_key), None)
                if start is not None:
                    self.tool_ms.append((parse_time(e.time) - start) * 1000)


@dataclass(frozen=True, slots=True)
class GuardEvent:
    """A guardian decision that was not a plain allow."""

    run: RunRecord
    event: Event

    @property
    def data(self) -> dict[str, Any]:
        return self.event.data


@dataclass
class Overview:
    """What the overview page shows."""

    statuses: dict[str, int]
    """Runs per status (all of the tenant's runs, up to the scan limit)."""
    runs_total: int
    approvals: int
    """Open approvals and escalations."""
    spend_today_usd: float
    energy_today_kwh: float
    tokens_today: int
    blocks: int
    """Guardian denials in the recent runs."""
    asks: int
    """Guardian decisions that asked a person, in the recent runs."""
    failed_runs: int
    finished_runs: int
    step_errors: int
    steps: int
    times: StepTimes
    recent: list[RunRecord]
    scanned: int
    """How many runs the event figures were computed from."""

    @property
    def run_error_rate(self) -> float | None:
        return self.failed_runs / self.finished_runs if self.finished_runs else None

    @property
    def step_error_rate(self) -> float | None:
        return self.step_errors / self.steps if self.steps else None


async def runs_of(plane: Plane, key: ApiKey, limit: int = RECENT_RUNS) -> list[RunRecord]:
    return await plane.store.list_runs(tenant=actions.tenant_filter(key), limit=limit)


async def guard_events(plane: Plane, runs: Iterable[RunRecord]) -> list[GuardEvent]:
    """Guardian decisions other than allow (deny, ask, ...) in ``runs``, newest first."""
    found: list[GuardEvent] = []
    for run in runs:
        for e in await plane.store.events(run.id):
            if e.type == EventType.GUARD_DECIDED and e.data.get("result") != "allow":
                found.append(GuardEvent(run, e))
    found.sort(key=lambda g: g.event.time, reverse=True)
    return found


def _today() -> Window:
    now = datetime.now(UTC)
    return Window(now.replace(hour=0, minute=0, second=0, microsecond=0).timestamp())


async def overview(plane: Plane, key: ApiKey) -> Overview:
    every = await runs_of(plane, key, limit=100_000)
    statuses = Counter(r.status for r in every)
    recent = every[:RECENT_RUNS]
    times = StepTimes()
    blocks = asks = step_errors = steps = 0
    for run in recent:
        events = await plane.store.events(run.id)
        times.add(events)
        for e in events:
            if e.type == EventType.GUARD_DECIDED:
                result = e.data.get("result")
                blocks += result == "deny"
                asks += result == "ask"
            elif e.type in (EventType.MODEL_COMPLETED, EventType.TOOL_COMPLETED):
                steps += 1
            elif e.type in (EventType.MODEL_FAILED, EventType.TOOL_FAILED):
                steps += 1
                step_errors += 1
    today = await actions.usage(plane, key, by=[], window=_today())
    totals = today[0] if today else {}
    finished = statuses["completed"] + statuses["failed"] + statuses["cancelled"]
    return Overview(
        statuses={s: statuses[s] for s in RUN_STATUSES}, runs_total=len(every),
        approvals=len(await actions.approvals(plane, key)),
        spend_today_usd=float(totals.get("cost_usd") or 0),
        energy_today_kwh=float(totals.get("energy_kwh") or 0),
        tokens_today=int((totals.get("input_tokens") or 0) + (totals.get("output_tokens") or 0)),
        blocks=blocks, asks=asks, failed_runs=statuses["failed"], finished_runs=finished,
        step_errors=step_errors, steps=steps, times=times, recent=every[:8],
        scanned=len(recent))


async def step_costs(plane: Plane, run_id: str) -> dict[int, StepCost]:
    """What the ledger charged for each event of a run, by the event's seq."""
    metering = plane.runtime.metering
    await metering.ledger.sync(plane.store, metering.pricer)
    costs: dict[int, StepCost] = {}
    for row in metering.ledger.events(where={"run_id": run_id}):
        head, _, seq = str(row["id"]).partition(":")
        if head != run_id or not seq.isdigit():
            continue  # task and active-time rows belong to the run, not a step
        costs[int(seq)] = StepCost(float(row["cost_usd"] or 0), row["energy_kwh"])
    return costs


async def run_totals(plane: Plane, key: ApiKey, run: RunRecord) -> dict[str, Any]:
    """Tokens, calls, cost and energy of one run, from the ledger."""
    metering = plane.runtime.metering
    await metering.ledger.sync(plane.store, metering.pricer)
    conditions, args = metering.ledger.where_clause(None, Window(), {"run_id": run.id})
    [row] = metering.ledger.query(
        f"SELECT COALESCE(SUM(CASE WHEN type = '{MODEL}' THEN input_tokens + output_tokens "
        f"END), 0), COALESCE(SUM(cost_usd), 0), SUM(energy_kwh) FROM usage_events{conditions}",
        args)
    return {"tokens": int(row[0]), "cost_usd": float(row[1]), "energy_kwh": row[2]}


@dataclass(frozen=True, slots=True)
class DaySpend:
    day: str
    """``YYYY-MM-DD`` (UTC)."""
    cost_usd: float
    tokens: int


async def spend_per_day(plane: Plane, key: ApiKey, days: int = 30) -> list[DaySpend]:
    """Spend and model tokens per UTC day over the last ``days`` days (days without use
    included, so the line is continuous)."""
    metering = plane.runtime.metering
    await metering.ledger.sync(plane.store, metering.pricer)
    tenant = actions.tenant_filter(key)
    end_day = int(datetime.now(UTC).timestamp() // 86400)
    start_day = end_day - days + 1
    conditions, args = metering.ledger.where_clause(
        None, Window(start_day * 86400.0), None if tenant is None else {"tenant": tenant})
    rows = metering.ledger.query(
        f"SELECT CAST(ts / 86400 AS INTEGER) AS day, COALESCE(SUM(cost_usd), 0), "
        f"COALESCE(SUM(CASE WHEN type = '{MODEL}' THEN input_tokens + output_tokens END), 0) "
        f"FROM usage_events{conditions} GROUP BY day", args)
    by_day = {int(r[0]): (float(r[1]), int(r[2])) for r in rows}
    out = []
    for day in range(start_day, end_day + 1):
        cost, tokens = by_day.get(day, (0.0, 0))
        label = datetime.fromtimestamp(day * 86400, UTC).strftime("%Y-%m-%d")
        out.append(DaySpend(label, cost, tokens))
    return out
