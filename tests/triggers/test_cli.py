"""``agentplane triggers list|enable|disable|fire|run`` and ``agentplane run --defer``, as a
person runs them: real processes on a real SQLite journal."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.cli.harness import AGENTPLANE, Cli, failed, make_cli

from .conftest import write_workflow


def created(cli: Cli, run_id: str) -> Any:
    """A run's input, as its ``run.created`` event holds it."""
    return cli.json("runs", "show", run_id)["events"][0]["data"]["input"]


def test_list_switch_and_fire_by_hand(tmp_path: Path) -> None:
    cli = make_cli(tmp_path / "home")
    flow = write_workflow(tmp_path, triggers=[
        {"name": "hourly", "schedule": "0 * * * *", "timezone": "Europe/Berlin",
         "input": {"mode": "hourly"}},
        {"name": "tickets", "webhook": {"secret_env": "T_SECRET"}}])
    rows = cli.json("triggers", "list", flow)
    assert [(r["trigger"], r["kind"], r["enabled"]) for r in rows] == [
        ("hourly", "schedule", True), ("tickets", "webhook", True)]
    assert rows[0]["next_fire"].endswith(":00:00Z") and rows[1]["next_fire"] is None
    cli.ok("triggers", "disable", flow, "hourly")
    assert cli.json("triggers", "list", flow)[0]["enabled"] is False
    assert cli.json("triggers", "list", flow)[0]["next_fire"] is None
    cli.ok("triggers", "enable", flow, "hourly")
    fired = cli.json("triggers", "fire", flow, "hourly", "--key", "k1")
    assert fired["started"] is True and fired["status"] == "completed"
    again = cli.json("triggers", "fire", flow, "hourly", "--key", "k1")
    assert again == {**fired, "started": False}
    other = cli.json("triggers", "fire", flow, "tickets", "--input", '{"ticket": 3}')
    assert created(cli, other["run_id"]) == {"ticket": 3}
    assert created(cli, fired["run_id"]) == {"mode": "hourly"}
    events = cli.json("runs", "show", other["run_id"])["events"]
    assert events[1]["type"] == "trigger.fired" and events[1]["data"]["kind"] == "manual"
    listed = {r["trigger"]: r for r in cli.json("triggers", "list", flow)}
    assert listed["hourly"]["fires"] == 1 and listed["tickets"]["fires"] == 1
    message = failed(cli("triggers", "fire", flow, "nope"), 3)
    assert "has no trigger 'nope' (its triggers: hourly, tickets)" in message


def test_two_schedulers_at_once_start_one_run_per_slot(tmp_path: Path) -> None:
    cli = make_cli(tmp_path / "home")
    flow = write_workflow(tmp_path, triggers=[{"name": "minutely", "schedule": "* * * * *"}])
    cli.ok("triggers", "list", flow)  # the database and its tables exist before the race
    procs = [subprocess.Popen([AGENTPLANE, "triggers", "run", str(flow), "--once"],
                              env=cli.env(), cwd=cli.home, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    said = "".join(o for o, _ in outputs)
    runs = cli.json("runs", "list")
    # the latest minute is within the grace of a first look: exactly one of the two fired it
    # (two if the minute turned between them: then one each, never two for one slot)
    slots = [cli.json("runs", "show", r["id"])["events"][1] for r in runs]
    keys = [e["data"]["key"] for e in slots]
    assert len(keys) == len(set(keys)) >= 1
    assert said.count("fired: run") == len(runs)


def test_run_defer_waits_for_the_cheapest_window(tmp_path: Path) -> None:
    cli = make_cli(tmp_path / "home")
    flow = write_workflow(tmp_path, triggers=[])
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    prices = [0.30, 0.25, 0.20, 0.04, 0.22, 0.30]
    points = [{"start": (hour + timedelta(hours=h)).isoformat(), "price": p}
              for h, p in enumerate(prices)]
    (tmp_path / "prices.json").write_text(json.dumps({"points": points}))
    said = cli.ok("run", flow, "--defer", "12h", "--signal", tmp_path / "prices.json")
    assert "deferred until" in said.stdout and "lowest price (0.04)" in said.stdout
    (run,) = cli.json("runs", "list")
    assert run["status"] == "waiting"
    events = cli.json("runs", "show", run["id"])["events"]
    assert [e["type"] for e in events] == ["run.created", "run.deferred", "wait.opened",
                                           "run.waiting"]
    assert events[2]["data"]["kind"] == "timer"
    assert events[2]["data"]["deadline"] == (hour + timedelta(hours=3)).timestamp()
    assert events[1]["data"]["expected_saving"] == round(1 - 0.04 / 0.30, 4)
    (listed,) = cli.json("usage", "deferrals")
    assert (listed["run_id"], listed["status"], listed["saved_usd"]) == (run["id"], "waiting",
                                                                         None)
    report = cli.ok("usage", "report").stdout
    assert "deferral: 1 deferred runs saved" in report
    message = failed(cli("run", flow, "--defer", "soon"), 2)
    assert "defer within 'soon'" in message
