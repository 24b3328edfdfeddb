"""``agentplane usage`` as a user runs it, on the demo's journal."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

AGENTPLANE = str(Path(sys.executable).with_name("agentplane"))


def cli(home: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AGENTPLANE_HOME": str(home), "COLUMNS": "200"}
    env.pop("AGENTPLANE_DB", None)
    return subprocess.run([AGENTPLANE, *map(str, args)], env=env, capture_output=True,
                          text=True, timeout=120)


def ok_json(home: Path, *args: str | Path) -> Any:
    done = cli(home, *args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_usage_commands_after_the_demo(tmp_path: Path) -> None:
    assert cli(tmp_path, "demo", "--no-serve").returncode == 0
    month = f"{datetime.now(UTC):%Y-%m}"
    rows = ok_json(tmp_path, "usage", "report", "--by", "workflow", "--month", month)
    by_workflow = {r["workflow"]: r for r in rows}
    assert set(by_workflow) >= {"refund-desk", "research-team", "budget-cap"}
    assert by_workflow["research-team"]["model_calls"] == 8
    assert by_workflow["refund-desk"]["actions"] == 2
    budget = by_workflow["budget-cap"]
    assert budget["input_tokens"] + budget["output_tokens"] == 1380
    departments = ok_json(tmp_path, "usage", "report", "--by", "department")
    assert "research" in {r["department"] for r in departments}
    plans = tmp_path / "plans.yaml"
    plans.write_text("plans:\n  - id: flat\n    agents: {price: 400}\n"
                     "    usage: [{unit: actions, price: 0.5}]\n"
                     "tenants: {default: flat}\n")
    bill = ok_json(tmp_path, "usage", "invoice", "--tenant", "default", "--month", month,
                   "--plans", plans)
    lines = {line["description"].split(" (")[0]: line for line in bill["lines"]}
    actions = lines["actions"]["quantity"]
    agents = lines["agents"]["quantity"]
    assert actions >= 10 and agents >= 10
    assert bill["total"] == round(actions * 0.5 + agents * 400, 2)
    bad = tmp_path / "bad.yaml"
    bad.write_text("plans:\n  - id: x\n    usage: [{unit: parsecs, price: 1}]\n")
    refused = cli(tmp_path, "usage", "invoice", "--tenant", "default", "--month", month,
                  "--plans", bad)
    assert refused.returncode == 2
    assert f"{bad}:3:" in refused.stderr and "Traceback" not in refused.stderr
    focus = tmp_path / "focus.csv"
    done = cli(tmp_path, "usage", "export-focus", "--month", month, "--out", focus)
    assert done.returncode == 0, done.stderr
    exported = list(csv.DictReader(focus.open()))
    assert exported and {"BilledCost", "ChargePeriodStart", "Tags"} <= set(exported[0])
    assert sum(float(r["ConsumedQuantity"]) for r in exported
               if r["ResourceType"] == "model") == sum(
        r["input_tokens"] + r["output_tokens"] for r in rows)
