"""``compliance report``: Annex IV technical documentation from a workflow spec and a real
journal (the demo's injected mail, whose payment a guardian blocks)."""

from __future__ import annotations

import json
from pathlib import Path

from agentplane import Runtime, Workflow
from agentplane.compliance.report import build_report, guardian_figures
from agentplane.compliance.report_markdown import render
from agentplane.demo import WORKFLOWS_DIR
from agentplane.runtime import load_workflow
from tests.cli.harness import make_cli

INJECTED = WORKFLOWS_DIR / "injected-mail.yaml"
LABELLED = WORKFLOWS_DIR / "labelled-report.yaml"


async def test_the_report_lists_what_the_spec_and_the_journal_say(tmp_path: Path) -> None:
    async with Runtime(tmp_path / "j.db") as runtime:
        result = await runtime.run(Workflow.load(INJECTED), "Pay ACME", run_id="mail-1")
        assert result.status == "completed"
        data = await build_report(load_workflow(INJECTED), runtime.store)
    assert data["runs"] == 1
    blocked = [i for i in data["incidents"] if i["kind"] == "guardian blocked a call"]
    assert blocked and blocked[0]["run_id"] == "mail-1" and "pay" in blocked[0]["detail"]
    assert data["evaluations"] is None
    text = render(data)
    assert "# Technical documentation: injected-mail (version 1)" in text
    assert "| payables | scripted:gpt-4.1 | scripted (offline test double) |" in text
    assert "| read_inbox | tool | read | untrusted | no |" in text
    assert "Workflow autonomy: **out_of_the_loop**" in text
    assert "guardian blocked a call" in text and "mail-1" in text
    measured = guardian_figures()["settings"][1]
    assert f"{measured['attack_success_rate'] * 100:.1f} %" in text  # from the data file
    assert "No evaluations recorded" in text
    assert "Retention: **not declared**" in text


async def test_evaluations_are_read_when_an_evals_table_exists(tmp_path: Path) -> None:
    async with Runtime(tmp_path / "j.db") as runtime:
        runtime.store.database.script(
            "CREATE TABLE evals (workflow TEXT, dataset TEXT, metric TEXT, value REAL);"
            "INSERT INTO evals VALUES ('labelled-report', 'supplier-reports', 'accuracy', 0.93);"
            "INSERT INTO evals VALUES ('other', 'x', 'accuracy', 0.1)")
        data = await build_report(load_workflow(LABELLED), runtime.store)
    assert data["evaluations"] == [{"workflow": "labelled-report", "dataset": "supplier-reports",
                                    "metric": "accuracy", "value": 0.93}]
    text = render(data)
    assert "| labelled-report | supplier-reports | accuracy | 0.93 |" in text
    assert "Summarises a supplier's delivery record" in text
    assert "Risk class: **limited**" in text and "Retention: 365 days" in text
    assert "Output labels (Art. 50): visible and in metadata" in text


def test_the_report_command_writes_markdown_and_json(tmp_path: Path) -> None:
    cli = make_cli(tmp_path)
    shown = cli.ok("compliance", "report", LABELLED)
    assert shown.stdout.startswith("# Technical documentation: labelled-report")
    assert "Not read: pass `--db`" in shown.stdout
    cli.ok("compliance", "report", LABELLED, "--out", tmp_path / "annex-iv.json")
    data = json.loads((tmp_path / "annex-iv.json").read_text())
    assert (data["risk_class"], data["retention_days"]) == ("limited", 365)
    refused = cli("compliance", "report", LABELLED, "--out", tmp_path / "annex.txt")
    assert refused.returncode == 2 and ".md or .json" in refused.stderr
