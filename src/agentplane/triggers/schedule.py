"""Cron schedules in a time zone: their slots, which are due, and the next one.

Cron expressions are evaluated by ``cronsim`` (five fields, ``L``/``W``/``#``, and time zone
aware: a slot in a skipped hour of a daylight-saving change fires at the first valid minute
after it, a slot in a repeated hour fires once). A slot is identified by its UTC time
(``2026-12-03T01:00:00Z``): that is the key a fire claims, whatever the time zone.

Which slots are due at ``now``, given the time up to which every slot was already decided
(``checked_until``, kept in the trigger store):

- ``skip``: only a slot at most ``grace_s`` late (missed ones are skipped);
- ``once``: the latest missed slot, once;
- ``all``: every missed slot, oldest first (at most ``MAX_CATCH_UP``, the latest ones).

A trigger seen for the first time has no past: only a slot within ``grace_s`` counts.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

from agentplane.errors import ConfigError
from agentplane.runtime.trigger_spec import TriggerSpec

MAX_CATCH_UP = 1000
"""Most missed slots ``catch_up: all`` fires after one downtime (the latest ones)."""


def slot_key(slot: datetime) -> str:
    """A slot's key: its UTC time, to the second."""
    return slot.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def stamp(moment: datetime) -> str:
    """``checked_until`` as stored: UTC to the microsecond (sorts as text)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_stamp(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def zone(trigger: TriggerSpec) -> ZoneInfo:
    try:
        return ZoneInfo(trigger.timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"trigger {trigger.name}: unknown timezone {trigger.timezone!r} "
                          "(use an IANA name such as Europe/Berlin or UTC)") from exc


def check_schedule(trigger: TriggerSpec) -> None:
    """A clear error for a cron expression or time zone that cannot work."""
    assert trigger.schedule is not None
    try:
        CronSim(trigger.schedule, datetime.now(zone(trigger)))
    except CronSimError as exc:
        raise ConfigError(f"trigger {trigger.name}: schedule {trigger.schedule!r} is not a "
                          f"cron expression ({exc})") from exc


def _cron(trigger: TriggerSpec, start: datetime, *, reverse: bool = False) -> CronSim:
    assert trigger.schedule is not None
    try:
        return CronSim(trigger.schedule, start.astimezone(zone(trigger)), reverse=reverse)
    except CronSimError as exc:
        raise ConfigError(f"trigger {trigger.name}: schedule {trigger.schedule!r} is not a "
                          f"cron expression ({exc})") from exc


def _just_after(now: datetime) -> datetime:
    """Where to start walking back so that a slot at ``now`` is included (cronsim's reverse
    walk excludes its start; slots are whole minutes)."""
    return now.replace(microsecond=0) + timedelta(seconds=1)


def next_fire(trigger: TriggerSpec, now: datetime) -> datetime | None:
    """The first slot after ``now`` (UTC), None for a trigger without a schedule."""
    if trigger.schedule is None:
        return None
    return next(_cron(trigger, now)).astimezone(UTC)


def latest_slot(trigger: TriggerSpec, now: datetime) -> datetime | None:
    """The latest slot at or before ``now`` (UTC)."""
    try:
        return next(_cron(trigger, _just_after(now), reverse=True)).astimezone(UTC)
    except StopIteration:
        return None


def due_slots(trigger: TriggerSpec, *, checked_until: datetime | None, now: datetime,
              grace_s: float = 60.0) -> list[datetime]:
    """The slots (UTC) to fire at ``now``, oldest first, by the trigger's catch-up policy."""
    grace = timedelta(seconds=grace_s)
    after = now - grace if checked_until is None else checked_until
    if after >= now:
        return []
    latest = latest_slot(trigger, now)
    if latest is None or latest <= after:
        return []
    if trigger.catch_up == "skip":
        return [latest] if now - latest <= grace else []
    if trigger.catch_up == "once":
        return [latest]
    slots: list[datetime] = []  # newest first, walking back from ``now`` to ``after``
    for slot in _cron(trigger, _just_after(now), reverse=True):
        slot = slot.astimezone(UTC)
        if slot <= after or len(slots) == MAX_CATCH_UP:
            break
        slots.append(slot)
    return slots[::-1]
