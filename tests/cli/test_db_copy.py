"""``agentplane db copy`` as a person runs it: real runs made by the runtime (the demo's
workflows, with approvals, waits and usage), copied SQLite → PostgreSQL → SQLite, and every
view a person has of them compared on each side."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from .harness import Cli, failed, make_cli


def view(cli: Cli, url: str) -> dict[str, Any]:
    """What a person sees of a database: runs, each run's details, approvals, the month's
    usage and invoice, keys, and the audit."""
    runs = cli.json("runs", "list", "--db", url)
    month = runs[0]["created_at"][:7]
    plans = cli.home / "plans.yaml"
    plans.write_text("plans:\n  - id: flat\n    agents: {price: 400}\n"
                     "    usage: [{unit: actions, price: 0.5}]\ntenants: {default: flat}\n")
    return {
        "runs": runs,
        "shown": {r["id"]: cli.json("runs", "show", r["id"], "--db", url) for r in runs},
        "approvals": cli.json("approvals", "list", "--db", url),
        "usage": cli.json("usage", "report", "--by", "workflow", "--db", url),
        "invoice": cli.json("usage", "invoice", "--tenant", "default", "--month", month,
                            "--plans", plans, "--db", url),
        "keys": cli.ok("keys", "list", "--all", "--db", url).stdout,
        "audit": cli.json("audit", "verify", "--db", url),
    }


def copy(cli: Cli, source: str, target: str) -> dict[str, Any]:
    result: dict[str, Any] = cli.json("db", "copy", source, target)
    assert result["ok"] is True, result
    return result


@pytest.fixture
def source(tmp_path: Path) -> Cli:
    cli = make_cli(tmp_path / "source")
    cli.ok("demo", "--no-serve")
    cli.ok("keys", "create", "ci", "--role", "viewer")
    return cli


def test_copy_to_postgresql_and_back(source: Cli, postgres_url: str, tmp_path: Path) -> None:
    before = view(source, source.db_url)
    assert before["audit"]["ok"] and before["audit"]["runs"] == 9
    assert before["approvals"] and before["keys"]

    there = copy(source, source.db_url, postgres_url)
    assert there["runs"] == {"new": 9, "grown": 0, "unchanged": 0}
    assert there["rows"]["events"] == before["audit"]["events"]
    assert there["rows"]["api_keys"] == 1 and there["rows"]["usage_events"] > 0
    assert there["verified"] == {"runs": 9, "events": before["audit"]["events"]}
    assert view(source, postgres_url) == before

    again = copy(source, source.db_url, postgres_url)
    assert again["runs"] == {"new": 0, "grown": 0, "unchanged": 9}
    assert set(again["rows"].values()) == {0}
    assert again["verified"]["runs"] == 9

    # The source goes on (a person approves a payment): the next copy brings that run up to
    # date and adds only what is new.
    [run] = source.json("runs", "list", "--workflow", "payment-approval")
    [approval] = [a for a in before["approvals"] if a["run_id"] == run["id"]]
    assert source.json("approvals", "approve", approval["id"])["status"] == "completed"
    grown = view(source, source.db_url)
    added = copy(source, source.db_url, postgres_url)
    assert added["runs"] == {"new": 0, "grown": 1, "unchanged": 8}
    assert added["rows"]["events"] == grown["audit"]["events"] - before["audit"]["events"] > 0
    assert view(source, postgres_url) == grown

    back = f"sqlite:///{tmp_path / 'back.db'}"
    home = copy(source, postgres_url, back)
    assert home["runs"]["new"] == 9 and not home["dropped_columns"]
    assert view(source, back) == grown


def test_a_tampered_target_is_detected(source: Cli, tmp_path: Path) -> None:
    target = tmp_path / "copy.db"
    url = f"sqlite:///{target}"
    copy(source, source.db_url, url)
    with sqlite3.connect(target) as db:
        db.execute("UPDATE events SET data = replace(data, 'Refund', 'Refuse')"
                   " WHERE type = 'run.created' AND data LIKE '%Refund%'")
        assert db.total_changes == 1
    message = failed(source("db", "copy", source.db_url, url), 1)
    assert "0 run(s) refused" in message and "1 chain(s) broken in the target" in message
    shown = source("db", "copy", source.db_url, url).stdout
    assert "chain broken in run run-demo-refund-desk at event 1: content of the run.created " \
           "event was changed" in " ".join(shown.split())


def test_another_history_under_the_same_id_is_refused(source: Cli, tmp_path: Path) -> None:
    other = make_cli(tmp_path / "other")
    other.ok("demo", "--no-serve")  # the same run ids, made again: other times, other hashes
    before = other.json("runs", "show", "run-demo-refund-desk")
    message = failed(other("db", "copy", source.db_url, other.db_url), 1)
    assert "9 run(s) refused" in message
    shown = " ".join(other("db", "copy", source.db_url, other.db_url).stdout.split())
    assert "refused run run-demo-refund-desk: event " in shown
    assert "differs between source and target (another chain under the same id); not " \
           "overwritten" in shown
    assert other.json("runs", "show", "run-demo-refund-desk") == before
    assert other.json("audit", "verify")["ok"] is True


def test_one_database_onto_itself_is_refused(source: Cli) -> None:
    plain = str(source.db)
    for target in (source.db_url, plain, f"{source.db_url}?synchronous=FULL"):
        message = failed(source("db", "copy", source.db_url, target), 2)
        assert "the source and the target are the same database" in message


def test_a_missing_source_is_not_created(tmp_path: Path) -> None:
    cli = make_cli(tmp_path)
    missing = tmp_path / "nothing.db"
    message = failed(cli("db", "copy", f"sqlite:///{missing}", f"sqlite:///{tmp_path}/t.db"),
                     3)
    assert "no journal at" in message
    assert not missing.exists() and not (tmp_path / "t.db").exists()
