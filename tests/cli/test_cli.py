"""The ``agentplane`` command line as a person runs it: real processes of the console script.

Every test works in its own database (``--db``, ``AGENTPLANE_DB`` or ``AGENTPLANE_HOME`` under a
temporary folder) and acts as ``AGENTPLANE_USER``. Errors meant for people must come out as one
paragraph on stderr with the documented exit code, never as a traceback.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from agentplane.journal import open_store
from agentplane.runtime import Runtime, load_workflow

from .harness import (
    DEMO_COMPLETED,
    DEMO_ERASED,
    DEMO_RUNS,
    DEMO_TRIGGERED,
    DEMO_WAITING,
    DEMO_WORKFLOWS,
    REFUND,
    STUCK,
    STUCK_OUTPUT,
    USER,
    Cli,
    failed,
    make_cli,
)


@dataclass
class Shared:
    cli: Cli
    refund: dict[str, Any]
    """``run REFUND --json`` output of run r-refund."""
    stuck: dict[str, Any]
    """``run STUCK --json`` output of run r-stuck (waiting for a person)."""


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Shared:
    """One database with a completed and a waiting run; tests on it must not change it."""
    cli = make_cli(tmp_path_factory.mktemp("shared"))
    refund = json.loads(cli.ok("run", REFUND, "--input", '"Refund A1"', "--run-id", "r-refund",
                               "--db", cli.db_url, "--json").stdout)
    stuck = cli.json("run", STUCK, "--input", '"Go ahead."', "--run-id", "r-stuck")
    return Shared(cli, refund, stuck)


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return make_cli(tmp_path)


def event_types(run: dict[str, Any]) -> list[str]:
    return [e["type"] for e in run["events"]]


# -- run ------------------------------------------------------------------------------------------


def test_run_prints_the_run_as_json(shared: Shared) -> None:
    run = shared.refund
    assert {"id", "workflow", "workflow_hash", "status", "events", "output"} <= set(run)
    assert (run["id"], run["workflow"], run["status"]) == ("r-refund", "refund-desk",
                                                          "completed")
    assert run["output"] == "Refunded 20 on order A1."
    types = event_types(run)
    assert types[0] == "run.created"
    assert types[-1] == "run.completed"
    assert types.count("tool.completed") == 2
    assert run["events"][0]["data"]["input"] == "Refund A1"
    refund = next(e for e in run["events"]
                  if e["type"] == "tool.completed" and e["data"]["tool"] == "issue_refund")
    assert refund["data"]["result"]["status"] == "refunded"
    # The example's tool wrote its ledger where REFUND_LEDGER says, not next to the example.
    ledger = (shared.cli.home / "ledger.jsonl").read_text().splitlines()
    assert [json.loads(line)["order_id"] for line in ledger] == ["A1"]


def test_run_that_waits_for_a_person(shared: Shared) -> None:
    run = shared.stuck
    assert (run["id"], run["workflow"], run["status"]) == ("r-stuck", "stuck-agent", "waiting")
    assert run["output"] is None
    assert event_types(run)[-1] == "run.waiting"


def test_run_text_output(cli: Cli) -> None:
    done = cli.ok("run", REFUND, "--input", '"Refund A1"', "--run-id", "t1").stdout
    assert "run t1 (refund-desk) is completed" in done
    assert "Refunded 20 on order A1." in done
    waiting = cli.ok("run", STUCK, "--run-id", "t2").stdout
    assert "run t2 (stuck-agent) is waiting" in waiting
    assert "the same call repeated" in waiting
    assert "agentplane approvals approve ID" in waiting


def test_reusing_a_run_id_is_a_clear_error(shared: Shared) -> None:
    result = shared.cli("run", REFUND, "--input", '"again"', "--run-id", "r-refund")
    message = failed(result, 1)
    assert "a run with id 'r-refund' already exists" in message
    assert "--run-id" in message
    assert result.stdout == ""


def test_db_option_wins_over_environment(cli: Cli, tmp_path: Path) -> None:
    other = f"sqlite:///{tmp_path / 'other.db'}"
    cli.ok("run", STUCK, "--run-id", "elsewhere", "--db", other)
    assert cli.db is not None
    assert not cli.db.exists()  # AGENTPLANE_DB's journal was not touched, not even made
    assert [r["id"] for r in cli.json("runs", "list", "--db", other)] == ["elsewhere"]


def test_invalid_input_json_says_how_to_quote_text(cli: Cli) -> None:
    message = failed(cli("run", REFUND, "--input", "Refund A1"), 2)
    assert "--input is not valid JSON" in message
    assert """to pass text, quote it as a JSON string: --input '"your text"'""" in message
    assert cli.db is not None
    assert not cli.db.exists()  # refused before the journal was opened


def test_invalid_workflow_file(cli: Cli) -> None:
    (cli.home / "bad.yaml").write_text(
        "name: bad\n"
        "agents:\n"
        "  - name: a\n"
        "    intructions: typo\n"
        "    script: [{content: x}]\n"
        "steps:\n"
        "  - agent: nobody\n")
    result = cli("run", "bad.yaml", "--input", '"x"')
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("error: workflow bad.yaml is invalid (1 problem):")
    assert ("bad.yaml:4:5: agents[0].intructions: unknown field (check the spelling"
            in result.stderr)
    message = failed(cli("run", "missing.yaml"), 2)
    assert "missing.yaml: (top level): file not found" in message
    assert cli.db is not None
    assert not cli.db.exists()


def test_undefined_annotation_in_a_tool_is_a_clean_error(cli: Cli) -> None:
    (cli.home / "typo_tools_q7.py").write_text(
        "from __future__ import annotations\n\n\ndef f(a: Strr) -> str:\n    return a\n")
    (cli.home / "flow.yaml").write_text(
        "name: typo\n"
        "tools: [{name: f, python: 'typo_tools_q7:f'}]\n"
        "agents: [{name: a, tools: [f], script: [{content: x}]}]\n"
        "steps: [{agent: a}]\n")
    message = failed(cli("run", "flow.yaml"), 2)
    assert "flow.yaml:2:" in message


def test_unsupported_database_url(cli: Cli) -> None:
    message = failed(cli("runs", "list", "--db", "mysql://db/agentplane"), 2)
    assert "scheme 'mysql'" in message
    assert "sqlite:///PATH" in message


# -- runs -----------------------------------------------------------------------------------------


def test_runs_list(shared: Shared) -> None:
    runs = shared.cli.json("runs", "list")
    assert sorted((r["id"], r["workflow"], r["status"]) for r in runs) == [
        ("r-refund", "refund-desk", "completed"), ("r-stuck", "stuck-agent", "waiting")]
    assert all({"id", "workflow", "status", "created_at", "updated_at"} <= set(r) for r in runs)
    table = shared.cli.ok("runs", "list").stdout
    assert "r-refund" in table
    assert "r-stuck" in table


@pytest.mark.parametrize(("args", "expected"), [
    (["--status", "completed"], ["r-refund"]),
    (["--status", "waiting"], ["r-stuck"]),
    (["--status", "failed"], []),
    (["--status", "completed", "--status", "waiting"], ["r-refund", "r-stuck"]),
    (["--workflow", "stuck-agent"], ["r-stuck"]),
])
def test_runs_list_filters(shared: Shared, args: list[str], expected: list[str]) -> None:
    runs = shared.cli.json("runs", "list", *args)
    assert sorted(r["id"] for r in runs) == expected


def test_runs_show(shared: Shared) -> None:
    run = shared.cli.json("runs", "show", "r-refund")
    assert (run["id"], run["status"], run["output"]) == ("r-refund", "completed",
                                                         "Refunded 20 on order A1.")
    events = run["events"]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert all(len(e["hash"]) == 64 and e["type"] for e in events)
    assert all(e["prev_hash"] == prev["hash"] for prev, e in itertools.pairwise(events))
    assert run["events"] == shared.refund["events"]
    text = shared.cli.ok("runs", "show", "r-refund").stdout
    assert f"run r-refund (refund-desk @ {run['workflow_hash'][:12]}) is completed" in text
    assert "run.completed" in text
    assert "issue_refund" in text


def test_runs_show_unknown_run(shared: Shared) -> None:
    result = shared.cli("runs", "show", "nope")
    message = failed(result, 3)
    assert message.startswith("error: no run with id 'nope'")
    assert "`agentplane runs list` shows the runs" in message
    assert result.stdout == ""


def test_cancel_a_waiting_run(cli: Cli) -> None:
    assert cli.json("run", STUCK, "--run-id", "c1")["status"] == "waiting"
    assert len(cli.json("approvals", "list")) == 1
    run = cli.json("runs", "cancel", "c1", "--reason", "not needed")
    assert run["status"] == "cancelled"
    closing, cancelled = run["events"][-2:]
    assert (closing["type"], closing["actor"]) == ("wait.resolved", f"user:{USER}")
    assert (cancelled["type"], cancelled["actor"]) == ("run.cancelled", f"user:{USER}")
    assert cancelled["data"]["reason"] == "not needed"
    assert cli.json("approvals", "list") == []
    message = failed(cli("runs", "cancel", "c1"), 1)
    assert "run c1 is already cancelled" in message


def test_cancel_a_completed_run_is_a_clear_error(shared: Shared) -> None:
    message = failed(shared.cli("runs", "cancel", "r-refund"), 1)
    assert message == "error: run r-refund is already completed"
    message = failed(shared.cli("runs", "cancel", "nope"), 3)
    assert "no run with id 'nope'" in message


# -- demo and approvals ---------------------------------------------------------------------------


def run_demo(folder: Path) -> tuple[Cli, str]:
    cli = make_cli(folder, db=False)  # the demo's database is under AGENTPLANE_HOME
    return cli, cli.ok("demo", "--no-serve").stdout


def stuck_run(cli: Cli) -> tuple[str, str]:
    """(run id, approval id) of the demo's stuck-agent run."""
    [run] = cli.json("runs", "list", "--status", "waiting", "--workflow", "stuck-agent")
    [approval] = [a for a in cli.json("approvals", "list") if a["run_id"] == run["id"]]
    return run["id"], approval["id"]


def test_demo(tmp_path: Path) -> None:
    cli, out = run_demo(tmp_path)
    assert (tmp_path / "agentplane.db").is_file()
    for name in set(DEMO_COMPLETED) - {"labelled-report"}:  # shown with its receipt instead
        assert f"completed  {name}: run-" in out
    for name in DEMO_WAITING:
        assert f"waiting  {name}: run-" in out
    assert "Refunded 20.00 on order A1 (total 35.00) for Ana." in out
    assert "waiting for a person: the same call repeated (agentplane approvals approve w-" in out
    assert f"audit chain holds: {DEMO_RUNS} runs" in out  # + a schedule's fire, a deferred run
    assert "[AI-generated by Agentplane (demo)]" in out
    assert "signed receipt (JWS, Ed25519) verifies" in out
    assert "guardians blocked 1 call(s) in injected-mail" in out
    runs = cli.json("runs", "list")
    assert sorted(r["workflow"] for r in runs) == sorted(
        [*DEMO_WORKFLOWS, *DEMO_TRIGGERED, *DEMO_ERASED])
    assert Counter(r["status"] for r in runs) == {
        "completed": len(DEMO_COMPLETED) + len(DEMO_TRIGGERED) + len(DEMO_ERASED),
        "waiting": len(DEMO_WAITING)}
    assert "none of the customer left in the journal; audit chain holds" in " ".join(out.split())
    assert {r["workflow"] for r in runs if r["status"] == "waiting"} == DEMO_WAITING
    report = cli.json("audit", "verify")
    assert (report["ok"], report["runs"], report["breaks"]) == (True, DEMO_RUNS, [])


def test_deny_an_escalation(tmp_path: Path) -> None:
    cli, _ = run_demo(tmp_path)
    approvals = cli.json("approvals", "list")
    assert sorted(a["kind"] for a in approvals) == ["budget", "escalation", "tool_call"]
    [approval] = [a for a in approvals if a["kind"] == "escalation"]
    assert approval["status"] == "open"
    assert approval["details"]["reason"] == "the same call repeated"
    assert approval["details"]["tool"] == "check_status"
    run_id, wait_id = stuck_run(cli)
    assert wait_id in cli.ok("approvals", "list").stdout

    run = cli.json("approvals", "deny", wait_id, "--reason", "no")
    assert (run["id"], run["status"]) == (run_id, "failed")
    denied = next(e for e in run["events"] if e["type"] == "approval.denied")
    assert denied["actor"] == f"user:{USER}"
    assert denied["data"] == {"wait_id": wait_id, "reason": "no"}
    assert run["events"][-1]["type"] == "run.failed"
    assert "a person stopped it: no" in run["events"][-1]["data"]["error"]
    assert cli.json("runs", "show", run_id)["status"] == "failed"
    assert sorted(a["kind"] for a in cli.json("approvals", "list")) == ["budget", "tool_call"]

    message = failed(cli("approvals", "deny", wait_id, "--reason", "again"), 1)
    assert message == f"error: approval {wait_id} was already resolved (approval.denied)"
    assert cli.json("audit", "verify")["ok"] is True


def test_approve_an_escalation(tmp_path: Path) -> None:
    cli, _ = run_demo(tmp_path)
    run_id, wait_id = stuck_run(cli)
    out = cli.ok("approvals", "approve", wait_id, "--as", "ops-lead").stdout
    assert f"run {run_id} (stuck-agent) is completed" in out
    assert STUCK_OUTPUT in out
    run = cli.json("runs", "show", run_id)
    assert (run["status"], run["output"]) == ("completed", STUCK_OUTPUT)
    granted = next(e for e in run["events"] if e["type"] == "approval.granted")
    assert granted["actor"] == "user:ops-lead"

    message = failed(cli("approvals", "approve", wait_id), 1)
    assert message == f"error: approval {wait_id} was already resolved (approval.granted)"
    message = failed(cli("approvals", "approve", "w-nope"), 3)
    assert "no approval with id 'w-nope'" in message
    assert "`agentplane approvals list`" in message
    assert Counter(r["status"] for r in cli.json("runs", "list")) == {
        "completed": len(DEMO_COMPLETED) + len(DEMO_TRIGGERED) + len(DEMO_ERASED) + 1,
        "waiting": len(DEMO_WAITING) - 1}


def test_approve_a_payment_then_export_and_roll_back(tmp_path: Path) -> None:
    cli, _ = run_demo(tmp_path)
    [run] = cli.json("runs", "list", "--workflow", "payment-approval")
    [approval] = [a for a in cli.json("approvals", "list") if a["run_id"] == run["id"]]
    assert approval["kind"] == "tool_call"
    assert approval["details"]["tool"] == "pay"
    assert approval["details"]["arguments"]["iban"] == "DE12500105170648489890"
    assert "pay(" in cli.ok("approvals", "list").stdout
    done = cli.json("approvals", "approve", approval["id"], "--reason", "invoice checked")
    assert done["status"] == "completed"
    cli.ok("audit", "export", run["id"], "--out", tmp_path / "record.json")
    record = json.loads((tmp_path / "record.json").read_text())
    assert record["run"]["id"] == run["id"]
    assert record["verification"]["ok"] is True
    assert record["approvals"][0]["decision"]["reason"] == "invoice checked"
    assert record["approvals"][0]["decision"]["actor"] == f"user:{USER}"
    rollback = cli("runs", "rollback", run["id"], "--json")
    assert rollback.returncode == 1  # an irreversible payment is left for a person
    [entry] = json.loads(rollback.stdout)
    assert (entry["tool"], entry["outcome"]) == ("pay", "irreversible")
    [refund] = cli.json("runs", "list", "--workflow", "refund-desk")
    text = cli.ok("runs", "rollback", refund["id"]).stdout
    assert "compensated s0/clerk/m2/t0 (issue_refund): reversed with cancel_refund" in text
    again = cli.ok("runs", "rollback", refund["id"]).stdout
    assert "no completed write call left to reverse" in again



def test_approve_without_resuming_then_resume(cli: Cli) -> None:
    cli.ok("run", STUCK, "--run-id", "a1")
    [approval] = cli.json("approvals", "list")
    assert cli.json("approvals", "approve", approval["id"], "--no-resume")["status"] == "pending"
    resumed = cli.json("resume")
    assert [(r["id"], r["status"]) for r in resumed] == [("a1", "completed")]
    assert cli.json("runs", "show", "a1")["output"] == STUCK_OUTPUT
    assert cli.ok("resume").stdout.strip() == "nothing to resume"


# -- resume, worker, audit ------------------------------------------------------------------------


def test_resume_with_nothing_to_do(cli: Cli, shared: Shared) -> None:
    assert cli.ok("resume").stdout.strip() == "nothing to resume"
    assert cli.json("resume") == []
    # Completed and waiting runs are not resumed.
    assert shared.cli.ok("resume").stdout.strip() == "nothing to resume"


async def test_worker_once_drives_a_pending_run(cli: Cli,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "path", list(sys.path))  # loading the workflow extends sys.path
    store = open_store(cli.db_url)
    runtime = Runtime(store)
    try:
        pending = await runtime.start(load_workflow(REFUND), "Refund A1", run_id="p1")
    finally:
        await runtime.aclose()
        await store.close()
    assert pending.status == "pending"
    assert [(r["id"], r["status"]) for r in cli.json("runs", "list")] == [("p1", "pending")]

    out = cli.ok("worker", "--once").stdout
    assert "p1 (refund-desk) → completed" in out
    run = cli.json("runs", "show", "p1")
    assert (run["status"], run["output"]) == ("completed", "Refunded 20 on order A1.")
    assert len((cli.home / "ledger.jsonl").read_text().splitlines()) == 1

    assert cli.ok("worker", "--once").stdout.strip() == ""  # nothing left to do
    assert len((cli.home / "ledger.jsonl").read_text().splitlines()) == 1


def test_audit_verify(shared: Shared) -> None:
    out = shared.cli.ok("audit", "verify").stdout
    assert "chain holds: 2 runs" in out
    report = shared.cli.json("audit", "verify")
    assert (report["ok"], report["runs"], report["breaks"]) == (True, 2, [])
    events = len(shared.refund["events"]) + len(shared.stuck["events"])
    assert report["events"] == events
    only = shared.cli.json("audit", "verify", "--run", "r-refund")
    assert (only["ok"], only["runs"], only["events"]) == (True, 1, len(shared.refund["events"]))


def test_audit_verify_finds_tampering(cli: Cli) -> None:
    cli.ok("run", REFUND, "--input", '"Refund A1"', "--run-id", "t1")
    assert cli.db is not None
    with sqlite3.connect(cli.db) as db:
        changed = db.execute("UPDATE events SET data = replace(data, 'A1', 'A9') "
                             "WHERE run_id = 't1' AND seq = 1").rowcount
    db.close()
    assert changed == 1
    result = cli("audit", "verify")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "chain broken in run t1 at event 1" in result.stdout
    report = json.loads(cli("audit", "verify", "--json").stdout)
    assert report["ok"] is False
    assert [(b["run_id"], b["seq"]) for b in report["breaks"]] == [("t1", 1)]


# -- help -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("args", "mentions"), [
    ([], ["run", "resume", "worker", "runs", "approvals", "audit", "demo"]),
    (["runs"], ["list", "show", "cancel", "reconcile"]),
    (["approvals"], ["list", "approve", "deny"]),
    (["audit"], ["verify"]),
    (["run"], ["--input", "--run-id", "--db", "--json"]),
    (["worker"], ["--once", "--poll"]),
    (["runs", "reconcile"], ["--happened", "--not-happened", "--result"]),
])
def test_help(cli: Cli, args: list[str], mentions: list[str]) -> None:
    out = cli.ok(*args, "--help").stdout
    assert "Usage: agentplane" in out
    for word in mentions:
        assert word in out, word
