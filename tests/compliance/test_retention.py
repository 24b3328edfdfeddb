"""Retention: runs past their workflow's retention_days are archived (with their chain), then
deleted with a row in the retention record; the chains that remain still verify, the archive's
chains still verify, and checkpoints know the deleted runs — on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

from agentplane import Runtime, Workflow
from agentplane.compliance import retention_log
from agentplane.compliance.checkpoints import check_against, write_checkpoint
from agentplane.compliance.retention import retain, verify_archive
from agentplane.demo import WORKFLOWS_DIR
from agentplane.journal import verify

from .test_labels import write_flow

LABELLED = WORKFLOWS_DIR / "labelled-report.yaml"  # retention_days: 365


async def test_runs_past_retention_are_archived_then_deleted(
        database_url: str, tmp_path: Path, key_pair: tuple[Path, Path]) -> None:
    archive = tmp_path / "archive.jsonl"
    checkpoints = str(tmp_path / "checkpoints.jsonl")
    async with Runtime(database_url) as runtime:
        store = runtime.store
        for run_id in ("old-1", "old-2"):
            await runtime.run(Workflow.load(LABELLED), "Report", run_id=run_id)
        forever = Workflow.load(write_flow(tmp_path, "Kept.", None, name="no-retention"))
        await runtime.run(forever, "x", run_id="kept")
        await write_checkpoint(store, checkpoints, key_pair[0])
        later = datetime.now(UTC) + timedelta(days=400)

        dry = await retain(store, archive, actor="user:ops", dry_run=True, now=later)
        assert sorted(d.run_id for d in dry.due) == ["old-1", "old-2"] and not dry.deleted
        assert not archive.exists() and await store.get_run("old-1") is not None
        soon = await retain(store, archive, actor="user:ops",
                            now=datetime.now(UTC) + timedelta(days=30))
        assert not soon.due and soon.kept == 3

        done = await retain(store, archive, actor="user:ops", now=later)
        assert sorted(done.deleted) == ["old-1", "old-2"] and done.kept == 1
        assert await store.get_run("old-1") is None and await store.events("old-1") == []
        assert await store.all_run_ids() == ["kept"]

        report = await verify(store)
        assert report.ok and report.runs == 1
        rows = retention_log.retired(store.database)
        assert [(r.run_id, r.actor, r.archive) for r in rows] == [
            ("old-1", "user:ops", "archive.jsonl"), ("old-2", "user:ops", "archive.jsonl")]
        assert retention_log.problems(rows) == []
        assert (await check_against(store, checkpoints, key_pair[1])).ok

        store.database.execute("UPDATE compliance_retention SET last_seq = 99 WHERE seq = 1")
        assert retention_log.problems(retention_log.retired(store.database))

    assert verify_archive(archive) == {"old-1": None, "old-2": None}
    lines = archive.read_text().splitlines()
    first = orjson.loads(lines[0])
    assert first["run"]["workflow"] == "labelled-report"
    assert first["events"][-1]["type"] == "run.completed"
    first["events"][1]["data"] = {"changed": True}
    archive.write_text("\n".join([orjson.dumps(first).decode(), *lines[1:]]) + "\n")
    assert verify_archive(archive)["old-1"] == "event 2 does not hold"


async def test_the_retain_command(tmp_path: Path) -> None:
    from tests.cli.harness import make_cli

    cli = make_cli(tmp_path)
    async with Runtime(cli.db_url) as runtime:
        await runtime.run(Workflow.load(LABELLED), "Report", run_id="r-1")
        store = runtime.store
        store.database.execute("UPDATE runs SET updated_at = ? WHERE id = ?",
                               ["2020-01-01T00:00:00Z", "r-1"])  # finished long ago
    dry = cli.ok("compliance", "retain", "--dry-run")
    assert "due: run r-1 of labelled-report" in dry.stdout and "1 runs due; 0 kept" in dry.stdout
    done = cli.ok("compliance", "retain", "--archive", tmp_path / "a.jsonl")
    assert "archived and deleted: run r-1" in done.stdout
    assert verify_archive(tmp_path / "a.jsonl") == {"r-1": None}
    assert cli.json("audit", "verify")["runs"] == 0
