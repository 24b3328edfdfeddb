"""Every command's exit code, as the README's table says: 0 ok (a run that waits for a person
included), 1 failure (a run that ended failed or needs reconciliation, a broken chain), 2 bad
input, 3 not found (a run, an approval, a key, a journal).

Each case runs the real console script against a real SQLite journal."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from agentplane.journal import open_store
from agentplane.runtime import Runtime, load_workflow

from .harness import REFUND, STUCK, Cli, Result, failed, make_cli

FLOWS = Path(__file__).with_name("flows")
FAILS = FLOWS / "fails.yaml"
CRASH = FLOWS / "crash.yaml"


@dataclass
class Book:
    """A journal with a completed, a waiting and a failed run."""

    cli: Cli
    wait_id: str


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> Book:
    cli = make_cli(tmp_path_factory.mktemp("exit-codes"))
    cli.ok("run", REFUND, "--input", '"Refund A1"', "--run-id", "r-ok")
    cli.ok("run", STUCK, "--run-id", "r-wait")
    assert cli("run", FAILS, "--run-id", "r-fail").returncode == 1
    [approval] = cli.json("approvals", "list")
    (cli.home / "plans.yaml").write_text("plans: {}\n")
    return Book(cli, approval["id"])


OK, FAILURE, BAD_INPUT, NOT_FOUND = 0, 1, 2, 3

CASES: list[tuple[str, list[str], int]] = [
    # run: the run's outcome decides
    ("run completed", ["run", str(REFUND), "--input", '"Refund A1"'], OK),
    ("run waits for a person", ["run", str(STUCK)], OK),
    ("run failed", ["run", str(FAILS)], FAILURE),
    ("run of a missing file", ["run", "missing.yaml"], BAD_INPUT),
    ("run with bad JSON", ["run", str(REFUND), "--input", "{"], BAD_INPUT),
    ("run with an unknown option", ["run", str(REFUND), "--bogus"], BAD_INPUT),
    ("run id taken", ["run", str(REFUND), "--run-id", "r-ok"], FAILURE),
    ("resume, nothing to do", ["resume"], OK),
    ("worker once", ["worker", "--once"], OK),
    # runs
    ("runs list", ["runs", "list"], OK),
    ("runs list --status failed", ["runs", "list", "--status", "failed"], OK),
    ("runs list --status bogus", ["runs", "list", "--status", "bogus"], BAD_INPUT),
    ("runs list --limit 0", ["runs", "list", "--limit", "0"], BAD_INPUT),
    ("runs show a failed run", ["runs", "show", "r-fail"], OK),
    ("runs show unknown", ["runs", "show", "nope"], NOT_FOUND),
    ("runs cancel unknown", ["runs", "cancel", "nope"], NOT_FOUND),
    ("runs cancel completed", ["runs", "cancel", "r-ok"], FAILURE),
    ("runs rollback unknown", ["runs", "rollback", "nope"], NOT_FOUND),
    ("runs rollback, nothing to reverse", ["runs", "rollback", "r-fail"], OK),
    ("runs reconcile unknown", ["runs", "reconcile", "nope", "--step", "s", "--happened"],
     NOT_FOUND),
    ("runs reconcile, happened unsaid", ["runs", "reconcile", "r-ok", "--step", "s"],
     BAD_INPUT),
    ("runs reconcile, bad --result", ["runs", "reconcile", "r-ok", "--step", "s",
                                      "--happened", "--result", "{"], BAD_INPUT),
    ("runs reconcile, nothing to settle", ["runs", "reconcile", "r-ok", "--step", "s",
                                           "--happened"], FAILURE),
    # approvals
    ("approvals list", ["approvals", "list"], OK),
    ("approvals approve unknown", ["approvals", "approve", "w-nope"], NOT_FOUND),
    ("approvals deny unknown", ["approvals", "deny", "w-nope"], NOT_FOUND),
    # audit
    ("audit verify", ["audit", "verify"], OK),
    ("audit verify unknown run", ["audit", "verify", "--run", "nope"], NOT_FOUND),
    ("audit export", ["audit", "export", "r-ok"], OK),
    ("audit export unknown", ["audit", "export", "nope"], NOT_FOUND),
    ("audit export to a missing folder", ["audit", "export", "r-ok", "--out", "no/x.json"],
     BAD_INPUT),
    # usage
    ("usage report", ["usage", "report"], OK),
    ("usage report, bad month", ["usage", "report", "--month", "2026-13"], BAD_INPUT),
    ("usage invoice, no plans file", ["usage", "invoice", "--tenant", "default", "--month",
                                      "2026-11", "--plans", "missing.yaml"], BAD_INPUT),
    ("usage export-focus", ["usage", "export-focus", "--out", "focus.csv"], OK),
    ("usage export-focus to a missing folder", ["usage", "export-focus", "--out",
                                                "no/focus.csv"], BAD_INPUT),
    # economics, registry, keys, servers: bad input before anything starts
    ("economics, missing scenario", ["economics", "missing.yaml"], BAD_INPUT),
    ("registry list", ["registry", "list"], OK),
    ("registry find", ["registry", "find", "refunds"], OK),
    ("registry check", ["registry", "check"], OK),
    ("registry add, missing file", ["registry", "add", "missing.yaml"], BAD_INPUT),
    ("registry add, bad trust", ["registry", "add", str(REFUND), "--trust", "x"], BAD_INPUT),
    ("keys list", ["keys", "list"], OK),
    ("keys revoke unknown", ["keys", "revoke", "nope"], NOT_FOUND),
    ("keys create, no name", ["keys", "create", " "], BAD_INPUT),
    ("keys create, bad role", ["keys", "create", "ops", "--role", "root"], BAD_INPUT),
    ("mcp serve, missing file", ["mcp", "serve", "missing.yaml"], BAD_INPUT),
    ("a2a serve, missing file", ["a2a", "serve", "missing.yaml"], BAD_INPUT),
    ("serve, bad log format", ["serve", "--log-format", "xml"], BAD_INPUT),
    ("no command", ["nonsense"], BAD_INPUT),
]


def check(result: Result, code: int) -> None:
    if code == OK:
        assert result.returncode == 0, (result.stdout, result.stderr)
        assert "Traceback" not in result.stderr
    elif result.stderr.startswith("error: "):
        failed(result, code)
    else:  # a usage error from the option parser, or a report on stdout (exit 1)
        assert result.returncode == code, (result.stdout, result.stderr)
        assert "Traceback" not in result.stderr + result.stdout


@pytest.mark.parametrize(("args", "code"), [(a, c) for _, a, c in CASES],
                         ids=[name for name, _, _ in CASES])
def test_exit_code(book: Book, args: list[str], code: int) -> None:
    check(book.cli(*args), code)


def test_deciding_approvals(book: Book, tmp_path: Path) -> None:
    """Approving drives the run on: 0 when it completes. Denying an escalation fails the run,
    which is what was asked: 0 too. A decision already made is a failure (1)."""
    cli = make_cli(tmp_path)
    cli.ok("run", STUCK, "--run-id", "a")
    cli.ok("run", STUCK, "--run-id", "d")
    waits = {w["run_id"]: w["id"] for w in cli.json("approvals", "list")}
    assert cli.json("approvals", "approve", waits["a"])["status"] == "completed"
    assert cli.json("approvals", "deny", waits["d"], "--reason", "no")["status"] == "failed"
    failed(cli("approvals", "deny", waits["a"]), FAILURE)
    failed(cli("approvals", "approve", waits["d"]), FAILURE)


def test_a_run_that_needs_reconciliation_exits_1_until_settled(tmp_path: Path) -> None:
    """A write interrupted mid-call (the process is killed) needs a person: whichever command
    finds that out exits 1 and names the run; settling it lets the run finish (0)."""
    cli = make_cli(tmp_path)
    flag = tmp_path / "crash-now"
    flag.touch()
    env = cli.env() | {"CRASH_FLAG": str(flag)}
    cli.env = lambda: env  # type: ignore[method-assign]
    first = cli("run", CRASH, "--run-id", "c1")
    if first.returncode < 0:  # the tool took the process down with it: resume finds out
        resumed = cli("resume")
        assert resumed.returncode == FAILURE, (resumed.stdout, resumed.stderr)
        assert "run c1 needs reconciliation" in " ".join(resumed.stdout.split())
    else:  # the runtime kept the process alive
        assert first.returncode == FAILURE, (first.stdout, first.stderr)
    run = cli.json("runs", "show", "c1")
    assert run["status"] == "needs_reconciliation"
    step = run["events"][-1]["step_key"]
    flag.unlink()
    (tmp_path / "result.json").write_text(json.dumps("wrote hello (checked by hand)"))
    settled = cli.json("runs", "reconcile", "c1", "--step", step, "--happened",
                       "--result", "@result.json")
    assert settled["status"] == "completed"
    assert "wrote hello (checked by hand)" in json.dumps(settled["events"])


def test_a_bad_status_lists_the_allowed_ones(book: Book) -> None:
    message = failed(book.cli("runs", "list", "--status", "completed", "--status", "done"),
                     BAD_INPUT)
    assert message == ("error: --status 'done' is not a run status; use one of pending, "
                       "running, waiting, completed, failed, cancelled, needs_reconciliation")


async def test_resume_and_worker_exit_1_when_a_run_they_drove_failed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "path", list(sys.path))  # loading a workflow extends sys.path
    for command in (["resume"], ["worker", "--once"]):
        cli = make_cli(tmp_path / command[0])
        store = open_store(cli.db_url)
        runtime = Runtime(store)
        try:
            await runtime.start(load_workflow(FAILS), "go", run_id="p-fail")
            await runtime.start(load_workflow(REFUND), "Refund A1", run_id="p-ok")
        finally:
            await runtime.aclose()
            await store.close()
        result = cli(*command)
        assert result.returncode == FAILURE, (result.stdout, result.stderr)
        assert "Traceback" not in result.stderr
        assert {r["id"]: r["status"] for r in cli.json("runs", "list")} == {
            "p-fail": "failed", "p-ok": "completed"}
        assert cli(*command).returncode == OK  # nothing left to drive
