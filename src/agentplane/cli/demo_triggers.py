"""The demo's triggers part: a schedule fires its slot once (a second fire of the same slot
starts nothing), and a deferrable run waits for the greenest window of a carbon forecast and
says what that saved — offline, on the scripted model, in a second or two.

The forecast is made for the demo around the current hour (a real one comes from a file or an
http(s) endpoint, docs/deferral.md); instead of waiting hours for the window, the demo's clock
jumps there: the run's timer is resolved as the worker would at that time.
"""

from __future__ import annotations

import json
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from agentplane.demo import WORKFLOWS_DIR
from agentplane.journal import JournalStore
from agentplane.runtime import Runtime, load_workflow
from agentplane.runtime.context import wait_id
from agentplane.triggers.defer import DEFER_STEP
from agentplane.triggers.deferred import start_run
from agentplane.triggers.savings import deferral_savings
from agentplane.triggers.scheduler import Scheduler
from agentplane.triggers.store import TriggerStore

from .render import status_text

DIGEST = WORKFLOWS_DIR.parent / "triggers" / "nightly-digest.yaml"
SLOT_CLOCK = datetime(2026, 12, 1, 5, 0, 20, tzinfo=UTC)
"""The demo scheduler's clock: 20 s after 06:00 in Berlin on 1 December 2026 (a fixed slot,
so a second demo finds it fired and starts nothing)."""
DEFERRED_RUN = "run-demo-deferred"
CARBON = [410, 395, 350, 180, 95, 140, 300, 390, 420, 430, 415, 400, 410]
PRICE = [0.31, 0.29, 0.24, 0.12, 0.09, 0.11, 0.22, 0.30, 0.33, 0.34, 0.32, 0.31, 0.31]


def forecast(folder: Path, now: float) -> Path:
    """An hourly carbon and price forecast from the current hour on, in the signal's shape."""
    hour = datetime.fromtimestamp(now, UTC).replace(minute=0, second=0, microsecond=0)
    points = [{"start": (hour + timedelta(hours=h)).isoformat(), "carbon": c, "price": p}
              for h, (c, p) in enumerate(zip(CARBON, PRICE, strict=True))]
    path = folder / "grid-forecast.json"
    path.write_text(json.dumps({"unit": {"price": "usd_per_kwh", "carbon": "gco2e_per_kwh"},
                                "points": points}))
    return path


async def run_trigger_demo(store: JournalStore, runtime: Runtime, out: Console) -> None:
    workflow = load_workflow(DIGEST)
    triggers = TriggerStore(store.database)
    out.print("\n[bold]Triggers and deferral[/] (docs/triggers.md, docs/deferral.md)")
    scheduler = Scheduler(runtime, [workflow], triggers, clock=SLOT_CLOCK.timestamp)
    fired = await scheduler.tick()
    again = await Scheduler(runtime, [workflow], triggers, clock=SLOT_CLOCK.timestamp).tick()
    fire = triggers.fires("default", workflow.spec.name, "morning", limit=1)[0]
    run = await runtime.execute(fire.run_id)
    said = "fired" if fired else "had fired (an earlier demo)"
    out.print(f"  schedule morning (0 6 * * * Europe/Berlin) {said} for slot {fire.key}: run "
              f"{escape(run.id)} {status_text(run.status)}; a second scheduler started "
              f"{len(again)} more run(s) for that slot")
    earlier = await store.get_run(DEFERRED_RUN)
    if earlier is None:
        with tempfile.TemporaryDirectory() as folder:
            now = time.time()
            signal = forecast(Path(folder), now)
            record, plan = await start_run(runtime, workflow, "Write the digest, when green.",
                                           triggers=triggers, run_id=DEFERRED_RUN,
                                           signal=str(signal), now=now)
        assert plan is not None
        when = datetime.fromtimestamp(plan.start_at, UTC).strftime("%H:%M UTC")
        out.print(f"  deferred run {escape(record.id)} may wait 12h for the greenest hour: "
                  f"waits until {when} — {escape(plan.reason)}; the demo's clock jumps there")
        if record.status == "waiting":  # the timer the worker would fire at that time
            await runtime.signal(wait_id(record.id, DEFER_STEP), actor="system:demo-clock",
                                 data={"reason": "the demo's clock reached the window"})
        await runtime.execute(record.id)
    saving = next(s for s in await deferral_savings(store, triggers,
                                                    pricer=runtime.metering.pricer)
                  if s.run_id == DEFERRED_RUN)
    usd = f"${saving.saved_usd:.8f}" if saving.saved_usd is not None else "-"
    co2 = f"{saving.saved_gco2e:.4f} gCO2e" if saving.saved_gco2e is not None else "-"
    out.print(f"  deferred run {escape(saving.run_id)} {status_text(saving.status)}: saved "
              f"{usd} and {co2} against starting at once ({escape(saving.energy_basis)}); "
              "`agentplane usage deferrals` lists every deferred run")
