"""Deferrable runs: the run starts in the cheapest (or greenest) window of a signal, never after
its deadline; a missing or bad signal starts it at once, saying why; what deferral saved. The
clock is injected: the timer is resolved by expiring waits "at" a time, never by sleeping."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from agentplane.errors import ConfigError
from agentplane.journal import EventType, JournalStore
from agentplane.runtime import Runtime, load_workflow
from agentplane.triggers.defer import choose_window, parse_duration, parse_signal
from agentplane.triggers.deferred import start_run
from agentplane.triggers.fire import fire
from agentplane.triggers.savings import REFERENCE_KWH_PER_MILLION_TOKENS, deferral_savings
from agentplane.triggers.store import TriggerStore

from .conftest import write_workflow

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def at(hours: float) -> str:
    return (NOW + timedelta(hours=hours)).isoformat().replace("+00:00", "Z")


def signal(tmp_path: Path) -> Path:
    """Hourly prices and carbon: cheapest at +3 h (0.05), greenest at +5 h (90 g), and an even
    cheaper hour at +20 h — after a 12 h deadline."""
    prices = [0.30, 0.28, 0.20, 0.05, 0.12, 0.25, 0.31] + [0.30] * 13 + [0.01, 0.30]
    carbon = [400, 380, 300, 250, 200, 90, 350] + [400] * 15
    points = [{"start": at(h), "price": p, "carbon": c}
              for h, (p, c) in enumerate(zip(prices, carbon, strict=True))]
    path = tmp_path / "grid.json"
    path.write_text(json.dumps({"unit": {"price": "usd_per_kwh", "carbon": "gco2e_per_kwh"},
                                "points": points}))
    return path


async def deferred_run(tmp_path: Path, runtime: Runtime, triggers: TriggerStore,
                       prefer: str, within: str = "12h", signal_ref: str = "grid.json"
                       ) -> tuple[Any, Any]:
    signal(tmp_path)
    workflow = load_workflow(write_workflow(tmp_path, name="batch-report", triggers=[],
                                            defer={"within": within, "prefer": prefer,
                                                   "signal": signal_ref}))
    return await start_run(runtime, workflow, {"n": 1}, triggers=triggers,
                           now=NOW.timestamp())


@pytest.mark.parametrize(("prefer", "hours"), [("cheapest", 3), ("greenest", 5)])
async def test_a_deferred_run_starts_in_the_best_window_before_its_deadline(
        tmp_path: Path, runtime: Runtime, journal: JournalStore, triggers: TriggerStore,
        prefer: str, hours: int) -> None:
    run, plan = await deferred_run(tmp_path, runtime, triggers, prefer)
    start = NOW + timedelta(hours=hours)
    assert plan is not None and plan.start_at == start.timestamp()
    assert plan.start_at <= plan.deadline == (NOW + timedelta(hours=12)).timestamp()
    assert run.status == "waiting"
    events = await journal.events(run.id)
    deferred = next(e for e in events if e.type == EventType.RUN_DEFERRED)
    assert deferred.data["start_at"] == start.isoformat().replace("+00:00", "Z")
    assert deferred.data["prefer"] == prefer
    expected = {"cheapest": 1 - 0.05 / 0.30, "greenest": 1 - 90 / 400}[prefer]
    assert deferred.data["expected_saving"] == pytest.approx(expected, abs=1e-4)
    # one second before the window nothing happens; at its start the timer fires
    assert await runtime.expire_due_waits(now=start.timestamp() - 1) == []
    assert (await journal.require_run(run.id)).status == "waiting"
    assert len(await runtime.expire_due_waits(now=start.timestamp())) == 1
    assert (await journal.require_run(run.id)).status == "pending"
    done = await runtime.execute(run.id)
    assert done.status == "completed"
    saved = (await deferral_savings(journal, triggers))[0]
    assert saved.run_id == run.id and saved.tokens > 0 and saved.energy_kwh is not None
    assert saved.energy_kwh == pytest.approx(saved.tokens / 1e6
                                             * REFERENCE_KWH_PER_MILLION_TOKENS)
    price_now, price_then = 0.30, {"cheapest": 0.05, "greenest": 0.25}[prefer]
    carbon_then = {"cheapest": 250, "greenest": 90}[prefer]
    assert saved.saved_usd == pytest.approx(saved.energy_kwh * (price_now - price_then))
    assert saved.saved_gco2e == pytest.approx(saved.energy_kwh * (400 - carbon_then))


async def test_the_deadline_is_never_missed_and_a_bad_signal_starts_now(
        tmp_path: Path, runtime: Runtime, journal: JournalStore, triggers: TriggerStore
        ) -> None:
    # within 2 h: the cheap hours are later; the best before the deadline is +2 h (0.20)
    _, plan = await deferred_run(tmp_path, runtime, triggers, "cheapest", within="2h")
    assert plan is not None and plan.start_at == (NOW + timedelta(hours=2)).timestamp()
    missing, why = await deferred_run(tmp_path, runtime, triggers, "cheapest",
                                      signal_ref="nowhere.json")
    assert why is not None and why.start_at == NOW.timestamp()
    assert "nowhere.json" in why.reason and "started at once" in why.reason
    assert missing.status == "pending"  # no timer: runnable at once
    (tmp_path / "broken.json").write_text('{"points": [{"start": "yesterday"}]}')
    _, said = await deferred_run(tmp_path, runtime, triggers, "cheapest",
                                 signal_ref="broken.json")
    assert said is not None and said.start_at == NOW.timestamp()
    assert "points.0.start" in said.reason


def test_the_window_choice_is_a_pure_function_of_the_signal() -> None:
    sig = parse_signal({"points": [{"start": at(0), "price": 1.0}, {"start": at(1), "price": 0.5},
                                   {"start": at(2), "price": 0.5}]})
    plan = choose_window(sig, now=NOW.timestamp() + 600, deadline=NOW.timestamp() + 3 * 3600,
                         prefer="cheapest")
    assert plan.start_at == NOW.timestamp() + 3600  # earliest of the tied cheapest hours
    green = choose_window(sig, now=NOW.timestamp(), deadline=NOW.timestamp() + 3600,
                          prefer="greenest")
    assert green.start_at == NOW.timestamp() and "no carbon" in green.reason
    assert parse_duration("1h30m") == 5400 and parse_duration("2d") == 172800
    with pytest.raises(ConfigError, match="use a duration such as"):
        parse_duration("soon")
    with pytest.raises(ConfigError, match=r"unit\.price"):
        parse_signal({"unit": {"price": "eur"}, "points": [{"start": at(0)}]})


async def test_a_trigger_of_a_deferrable_workflow_starts_a_deferred_run(
        tmp_path: Path, runtime: Runtime, journal: JournalStore, triggers: TriggerStore
        ) -> None:
    signal(tmp_path)
    workflow = load_workflow(write_workflow(
        tmp_path, name="nightly-batch",
        triggers=[{"name": "nightly", "schedule": "0 1 * * *"}],
        defer={"within": "12h", "prefer": "cheapest", "signal": "grid.json"}))
    result = await fire(runtime, workflow, "nightly", "2026-12-03T12:00:00Z", None,
                        store=triggers)
    run = await journal.require_run(result.run_id)
    events = await journal.events(run.id)
    kinds = [e.type for e in events]
    assert EventType.TRIGGER_FIRED in kinds and EventType.RUN_DEFERRED in kinds
    assert triggers.deferrals()[0][0] == run.id


def test_the_python_api_declares_triggers_and_deferral() -> None:
    from agentplane.api import Agent, Workflow

    digest = Agent("digest", instructions="Write the digest.", script=["done"])
    flow = Workflow("digest", [digest], defer={"within": "12h", "prefer": "greenest"},
                    triggers=[{"name": "morning", "schedule": "0 6 * * *"}])
    assert (flow.spec.defer is not None and flow.spec.defer.prefer == "greenest")
    assert [t.name for t in flow.spec.triggers or ()] == ["morning"]
    assert "defer:" in flow.to_yaml() and "within: 12h" in flow.to_yaml()
