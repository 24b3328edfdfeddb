"""Schedules: each slot fires once across two schedulers and a restart; catch-up policies;
time zones. The clock is injected (no sleeping through an hour)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agentplane.errors import ConfigError
from agentplane.journal import EventType, JournalStore
from agentplane.runtime import Runtime, load_workflow
from agentplane.runtime.trigger_spec import TriggerSpec
from agentplane.triggers.schedule import due_slots, next_fire
from agentplane.triggers.scheduler import Scheduler
from agentplane.triggers.store import TriggerStore

from .conftest import write_workflow

START = datetime(2026, 12, 3, 9, 59, 30, tzinfo=UTC)


class Clock:
    def __init__(self, at: datetime = START) -> None:
        self.at = at

    def __call__(self) -> float:
        return self.at.timestamp()

    def advance(self, **delta: float) -> None:
        self.at += timedelta(**delta)


async def fired_keys(journal: JournalStore) -> list[str]:
    keys = []
    for run in await journal.list_runs():
        events = await journal.events(run.id)
        keys += [e.data["key"] for e in events if e.type == EventType.TRIGGER_FIRED]
    return sorted(keys)


def minutely(tmp_path: Path, catch_up: str = "skip") -> Path:
    return write_workflow(tmp_path, triggers=[{"name": "every-minute", "schedule": "* * * * *",
                                               "catch_up": catch_up, "input": {"x": 1}}])


async def test_two_schedulers_and_a_restart_fire_each_slot_once(
        tmp_path: Path, journal: JournalStore, triggers: TriggerStore) -> None:
    workflow = load_workflow(minutely(tmp_path, catch_up="all"))
    clock = Clock()
    one, two = Runtime(journal), Runtime(journal)
    first = Scheduler(one, [workflow], triggers, clock=clock)
    second = Scheduler(two, [workflow], TriggerStore(journal.database), clock=clock)
    for _ in range(12):  # six minutes, both looking every 30 s, in either order
        await asyncio.gather(first.tick(), second.tick())
        clock.advance(seconds=30)
    # "restart": both gone for three minutes, a new scheduler (new runtime) comes back
    await one.aclose()
    clock.advance(minutes=3)
    third = Scheduler(Runtime(journal), [workflow], TriggerStore(journal.database),
                      clock=clock)
    await asyncio.gather(third.tick(), second.tick())
    clock.advance(seconds=40)
    await third.tick()
    keys = await fired_keys(journal)
    # 09:59 (30 s late when first seen), then every minute to 10:09, 10:06-10:08 caught up
    expected = ["2026-12-03T09:59:00Z"] + [f"2026-12-03T10:0{m}:00Z" for m in range(10)]
    assert keys == expected
    runs = await journal.list_runs()
    assert all(r.input == {"x": 1} for r in runs)
    assert len({r.id for r in runs}) == len(runs) == 11
    await two.aclose()
    await third.runtime.aclose()


@pytest.mark.parametrize(("policy", "expected"), [
    ("skip", []),
    ("once", ["10:06"]),
    ("all", ["10:01", "10:02", "10:03", "10:04", "10:05", "10:06"]),
])
async def test_catch_up_after_downtime(tmp_path: Path, journal: JournalStore,
                                       triggers: TriggerStore, policy: str,
                                       expected: list[str]) -> None:
    workflow = load_workflow(minutely(tmp_path, catch_up=policy))
    clock = Clock(datetime(2026, 12, 3, 10, 0, 10, tzinfo=UTC))
    runtime = Runtime(journal)
    await Scheduler(runtime, [workflow], triggers, clock=clock).tick()  # 10:00, on time
    clock.advance(minutes=6, seconds=49)  # down until 10:06:59: 10:01-10:06 were missed
    await Scheduler(runtime, [workflow], triggers, clock=clock, grace_s=30).tick()
    keys = await fired_keys(journal)
    assert keys == [f"2026-12-03T{hm}:00Z" for hm in ["10:00", *expected]]
    await runtime.aclose()


def test_due_slots_by_policy_and_first_sight() -> None:
    now = datetime(2026, 12, 3, 10, 0, 20, tzinfo=UTC)
    spec = TriggerSpec(name="t", schedule="*/5 * * * *", catch_up="all")
    assert due_slots(spec, checked_until=None, now=now) == [now.replace(second=0)]
    assert due_slots(spec, checked_until=None, now=now, grace_s=10) == []
    since = now - timedelta(minutes=16)
    assert [s.minute for s in due_slots(spec, checked_until=since, now=now)] == [45, 50, 55, 0]
    once = spec.model_copy(update={"catch_up": "once"})
    assert [s.minute for s in due_slots(once, checked_until=since, now=now)] == [0]


def test_time_zones_and_daylight_saving() -> None:
    berlin = TriggerSpec(name="t", schedule="30 2 * * *", timezone="Europe/Berlin")
    # 29 March 2026: 02:30 does not exist in Berlin; cronsim fires at 03:00 local (01:00 UTC)
    nxt = next_fire(berlin, datetime(2026, 3, 28, 12, 0, tzinfo=UTC))
    assert nxt == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
    winter = next_fire(berlin, datetime(2026, 12, 3, 12, 0, tzinfo=UTC))
    assert winter == datetime(2026, 12, 4, 1, 30, tzinfo=UTC)


def test_a_bad_cron_or_zone_is_a_clear_error(tmp_path: Path, journal: JournalStore,
                                             triggers: TriggerStore) -> None:
    bad = load_workflow(write_workflow(tmp_path, name="bad", triggers=[
        {"name": "oops", "schedule": "61 * * * *"}]))
    with pytest.raises(ConfigError, match="trigger oops: schedule '61 \\* \\* \\* \\*'"):
        Scheduler(Runtime(journal), [bad], triggers)
    zoned = load_workflow(write_workflow(tmp_path, name="zoned", triggers=[
        {"name": "oops", "schedule": "0 * * * *", "timezone": "Mars/Olympus"}]))
    with pytest.raises(ConfigError, match="unknown timezone 'Mars/Olympus'"):
        Scheduler(Runtime(journal), [zoned], triggers)


async def test_a_disabled_schedule_lets_its_slots_pass(
        tmp_path: Path, journal: JournalStore, triggers: TriggerStore) -> None:
    workflow = load_workflow(minutely(tmp_path, catch_up="all"))
    clock = Clock(datetime(2026, 12, 3, 10, 0, 5, tzinfo=UTC))
    runtime = Runtime(journal)
    scheduler = Scheduler(runtime, [workflow], triggers, clock=clock)
    triggers.set_enabled("default", workflow.spec.name, "every-minute", False)
    await scheduler.tick()
    clock.advance(minutes=3)
    await scheduler.tick()
    assert await fired_keys(journal) == []
    triggers.set_enabled("default", workflow.spec.name, "every-minute", True)
    clock.advance(minutes=1)
    await scheduler.tick()
    assert await fired_keys(journal) == ["2026-12-03T10:04:00Z"]
    await runtime.aclose()
