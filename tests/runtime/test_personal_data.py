"""Personal data sealed per subject and erased by destroying the key (crypto-shredding), on a
real SQLite file and a real PostgreSQL server.

The workflow declares the run's subject and a personal input field; a tool declares a personal
result field, and the detectors find an e-mail address in the same result. After a run (with a
person's approval and a resume in between) nothing personal is in the database in the clear;
every reader gets it back until ``agentplane data erase --subject``, and ``[erased]`` after —
while ``audit verify`` holds throughout.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from agentplane.journal import JournalStore, open_store, verify
from agentplane.journal.export import export_run
from agentplane.journal.personal import ERASED, FileSubjectKeys
from agentplane.runtime import Runtime, Workflow, workflow_from_dict
from agentplane.storage import open_database

from . import personal_tools

HERE = Path(__file__).parent
AGENTPLANE = str(Path(sys.executable).with_name("agentplane"))
SECRETS = ("anna.schmidt@example.de", "Anna Schmidt", "C-77", "my parcel never came")


def call(tool: str, **arguments: Any) -> dict[str, Any]:
    return {"tool_calls": [{"name": tool, "arguments": arguments}]}


def flow() -> Workflow:
    return workflow_from_dict({
        "name": "care-desk",
        "personal": {"subject": "$.customer_id", "input": ["$.message"]},
        "tools": [
            {"name": "lookup_customer", "python": "tests.runtime.personal_tools:lookup_customer",
             "effect": "read", "personal": ["$.name"]},
            {"name": "send_mail", "python": "tests.runtime.personal_tools:send_mail",
             "effect": "write", "idempotent": True, "autonomy": "in_the_loop"}],
        "agents": [{"name": "desk", "tools": ["lookup_customer", "send_mail"], "script": [
            call("lookup_customer", customer_id="C-77"),
            call("send_mail", to="anna.schmidt@example.de",
                 body="Dear Anna Schmidt, we are sorry: a new parcel is on its way."),
            {"content": "Wrote to anna.schmidt@example.de about the lost parcel."}]}],
        "steps": [{"agent": "desk"}]}, HERE)


@pytest.fixture
def keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "keys" / "subject-keys.json"
    monkeypatch.setenv("AGENTPLANE_SUBJECT_KEYS", str(path))
    personal_tools.SENT.clear()
    return path


def agentplane(*args: str) -> subprocess.CompletedProcess[str]:
    """The ``agentplane`` console script, a real process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENTPLANE_")}
    return subprocess.run([AGENTPLANE, *args], env={**env, "AGENTPLANE_USER": "dpo"},
                          capture_output=True, text=True, timeout=120, check=False)


def stored_text(url: str) -> str:
    """Every text the journal's tables hold, as stored — but the workflow's pinned spec, whose
    scripted replies (the test's stand-in for a model) hold the values by construction."""
    db = open_database(url, create=False)
    try:
        specs = {str(r[0]) for r in db.query("SELECT workflow_hash FROM runs")}
        parts = []
        for table, columns in (("runs", "input, meta"), ("events", "data"),
                               ("waits", "data, resolution"), ("blobs", "hash, body")):
            for row in db.query(f"SELECT {columns} FROM {table}"):
                if table != "blobs" or row[0] not in specs:
                    parts += [str(v) for v in row if v is not None]
        return "\n".join(parts)
    finally:
        db.close()


async def run_with_resume(url: str) -> str:
    """Run until the mail waits for a person, approve it, resume in a fresh runtime."""
    store = open_store(url)
    runtime = Runtime(store)
    run = await runtime.run(flow(), {"customer_id": "C-77", "message": "my parcel never came"})
    assert run.status == "waiting"
    [wait] = await store.waits(run_id=run.id)
    await runtime.aclose()
    await store.close()
    store = open_store(url)
    runtime = Runtime(store)
    await runtime.decide(wait.id, approve=True, actor="user:lead", reason="ok")
    finished = await runtime.execute(run.id)
    assert finished.status == "completed", finished
    await runtime.aclose()
    await store.close()
    return run.id


async def read_back(url: str, run_id: str) -> tuple[str, bool]:
    """What readers see (run record, events, waits, export) as one text, and whether the
    chain holds."""
    store: JournalStore = open_store(url)
    try:
        run = await store.require_run(run_id)
        events = await store.events(run_id)
        waits = await store.waits(run_id=run_id, status=None)
        exported = await export_run(store, run_id)
        report = await verify(store)
        exported.pop("workflow")  # the pinned spec: its scripted replies hold the values
        seen = json.dumps([run.input, [e.data for e in events], [w.data for w in waits],
                           exported], ensure_ascii=False)
        return seen, report.ok and exported["verification"]["ok"]
    finally:
        await store.close()


@pytest.mark.asyncio
async def test_personal_values_are_sealed_readable_and_then_erased(
        database_url: str, keys: Path, tmp_path: Path, keep_sys_path: None) -> None:
    run_id = await run_with_resume(database_url)
    # the tool after the resume got the address in the clear (the run read it back revealed)
    assert personal_tools.SENT == [{"to": "anna.schmidt@example.de", "body":
                                    "Dear Anna Schmidt, we are sorry: a new parcel is on its way."}]
    raw = stored_text(database_url)
    assert not [s for s in SECRETS if s in raw], "personal data stored in the clear"
    seen, holds = await read_back(database_url, run_id)
    assert holds and all(s in seen for s in SECRETS)
    assert oct(keys.stat().st_mode & 0o777) == "0o600"

    result = agentplane("data", "erase", "--subject", "C-77", "--reason",
                        "GDPR art. 17 request 2026-118", "--db", database_url, "--keys", str(keys))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "key is destroyed" in result.stdout
    seen, holds = await read_back(database_url, run_id)
    assert holds, "erasure broke the chain"
    assert not [s for s in SECRETS if s in seen]
    assert ERASED in seen
    assert "C-77" not in keys.read_text() and "Anna" not in keys.read_text()
    [tombstone] = FileSubjectKeys(keys).erased()
    assert tombstone["reason"] == "GDPR art. 17 request 2026-118"
    assert tombstone["by"] == "user:dpo"
    listed = agentplane("data", "erased", "--keys", str(keys), "--json")
    assert json.loads(listed.stdout)[0]["subject_sha256"] == tombstone["subject_sha256"]


@pytest.mark.asyncio
async def test_a_workflow_without_personal_data_journals_as_before(
        tmp_path: Path, keys: Path, keep_sys_path: None) -> None:
    spec = flow().spec.model_dump(mode="json", by_alias=True)
    spec.pop("personal")
    spec["tools"][0].pop("personal")
    plain = workflow_from_dict(spec, HERE)
    url = f"sqlite:///{tmp_path / 'j.db'}"
    store = open_store(url)
    runtime = Runtime(store)
    run = await runtime.run(plain, {"customer_id": "C-77", "message": "my parcel never came"})
    await runtime.aclose()
    await store.close()
    assert run.status == "waiting"
    assert "anna.schmidt@example.de" in stored_text(url)
    assert not keys.exists()  # no key was made: nothing was sealed


def test_the_cli_refuses_an_empty_reason(keys: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'j.db'}"
    open_database(url).close()
    result = agentplane("data", "erase", "--subject", "C-77", "--reason", " ", "--db", url,
                        "--keys", str(keys))
    assert result.returncode != 0
    assert "--reason is empty" in result.stderr
    assert not keys.exists()
