"""The scheduler loop: fires the due slots of the schedule triggers of some workflows.

``agentplane serve`` runs one for the workflows it serves, ``agentplane triggers run`` one for
the workflow files it is given. Any number may run at once, in one process or many, on one
database: each slot is claimed once (``fire``), so it starts one run; a restarted scheduler goes
on from the time up to which slots were decided (``checked_until`` in the trigger store) and
catches up by each trigger's policy (``schedule.due_slots``).

A tick, for each enabled schedule trigger: read ``checked_until``, fire the due slots (oldest
first), then move ``checked_until`` to now. A crash between the two fires nothing twice (the
claims are kept), and the next tick repairs a claim whose run was not created. A disabled
trigger's slots pass unfired.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from agentplane.errors import AgentplaneError
from agentplane.runtime import Runtime, Workflow

from .fire import FireResult, fire
from .schedule import (
    check_schedule,
    due_slots,
    next_fire,
    parse_stamp,
    slot_key,
    stamp,
    zone,
)
from .store import TriggerStore

log = logging.getLogger("agentplane.triggers")

Clock = Callable[[], float]


class Scheduler:
    """Fires due schedule slots of ``workflows`` until stopped."""

    def __init__(self, runtime: Runtime, workflows: Iterable[Workflow], store: TriggerStore,
                 *, tenant: str = "default", clock: Clock = time.time, poll_s: float = 1.0,
                 grace_s: float = 60.0, on_fire: Callable[[FireResult], object] | None = None
                 ) -> None:
        self.runtime = runtime
        self.store = store
        self.tenant = tenant
        self.clock = clock
        self.poll_s = poll_s
        """Seconds between ticks at most (a tick also happens at each next slot)."""
        self.grace_s = grace_s
        """How late a slot may be and still count as on time (``catch_up: skip``)."""
        self.on_fire = on_fire
        """Told of each run a tick started (e.g. to drive it at once)."""
        self.schedules = [(w, t) for w in workflows for t in w.spec.triggers or ()
                          if t.schedule is not None]
        for _, trigger in self.schedules:
            check_schedule(trigger)
        self.failures = 0
        self._stop = asyncio.Event()

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    async def tick(self) -> list[FireResult]:
        """Fire every due slot now; returns the fires that started a run."""
        now = self.now()
        started: list[FireResult] = []
        for workflow, trigger in self.schedules:
            name = workflow.spec.name
            if not self.store.is_enabled(self.tenant, name, trigger.name, trigger.enabled):
                self.store.advance(self.tenant, name, trigger.name, stamp(now))
                continue
            checked = self.store.checked_until(self.tenant, name, trigger.name)
            slots = due_slots(trigger, checked_until=None if checked is None
                              else parse_stamp(checked), now=now, grace_s=self.grace_s)
            for slot in slots:
                key = slot_key(slot)
                late = (now - slot).total_seconds()
                detail = {"slot": key, "timezone": trigger.timezone,
                          "local": slot.astimezone(zone(trigger)).isoformat(),
                          "late_s": round(late, 3),
                          **({"catch_up": trigger.catch_up} if late > self.grace_s else {})}
                try:
                    result = await fire(self.runtime, workflow, trigger.name, key,
                                        trigger.input, store=self.store, tenant=self.tenant,
                                        detail=detail)
                except AgentplaneError as exc:
                    log.error("schedule %s/%s slot %s did not start its run: %s", name,
                              trigger.name, key, exc)
                    continue
                if result.started:
                    started.append(result)
                    if self.on_fire is not None:
                        self.on_fire(result)
            self.store.advance(self.tenant, name, trigger.name, stamp(now))
        return started

    def seconds_to_next(self) -> float:
        """Seconds until the next slot of any trigger (at most ``poll_s``)."""
        now = self.now()
        soonest = [n for _, t in self.schedules if (n := next_fire(t, now)) is not None]
        if not soonest:
            return self.poll_s
        return max(0.0, min(self.poll_s, (min(soonest) - now).total_seconds()))

    async def run(self) -> None:
        """Tick until ``stop``; a tick that fails (the database away) is retried, backing off."""
        while not self._stop.is_set():
            try:
                await self.tick()
                self.failures = 0
                pause = self.seconds_to_next()
            except Exception as exc:
                self.failures += 1
                pause = min(30.0, self.poll_s * 2 ** min(self.failures, 5))
                log.error("scheduler tick failed (%s); retrying in %.1fs", exc, pause)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=max(pause, 0.01))

    def stop(self) -> None:
        self._stop.set()

