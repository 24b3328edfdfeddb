"""A mailbox of 50 messages, a poller process killed with SIGKILL half-way through and started
again: exactly 50 runs, one per message, each fired once (the claim in the trigger store, not
the IMAP keyword, is what makes it so)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentplane.journal import EventType, open_store
from agentplane.storage import open_database
from agentplane.triggers.mail_local import LocalDovecot
from agentplane.triggers.store import TriggerStore

from .mail_servers import ENV, USER, dovecot_server, mail_workflow, message, pending

ROOT = Path(__file__).resolve().parents[2]
MESSAGES = 50


@pytest.fixture
def dovecot() -> Iterator[LocalDovecot]:
    yield from dovecot_server()


def _worker(workflow: Path, db: str, pace: float) -> subprocess.Popen[str]:
    env = {**os.environ, **ENV, "MAIL_WORKER_PACE": str(pace)}
    return subprocess.Popen([sys.executable, "-m", "tests.triggers.mail_worker", str(workflow),
                             db], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _fired(db: str) -> int:
    database = open_database(db)
    try:
        return len(TriggerStore(database).fires("default", "mailbox", "inbox", limit=1000))
    finally:
        database.close()


def _until(condition: object, what: str, worker: subprocess.Popen[str],
           limit_s: float = 240) -> None:
    deadline = time.monotonic() + limit_s
    while not condition():  # type: ignore[operator]
        if worker.poll() is not None:
            raise AssertionError(f"the worker exited ({worker.returncode}) before {what}: "
                                 f"{worker.stderr.read() if worker.stderr else ''}")
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} after {limit_s} s")
        time.sleep(0.02)


def test_fifty_mails_and_a_kill_9_midway_make_exactly_fifty_runs(
        dovecot: LocalDovecot, tmp_path: Path) -> None:
    dovecot.deliver(USER, *(message(n) for n in range(1, MESSAGES + 1)))
    workflow = mail_workflow(tmp_path, dovecot, idle=True, poll_s=1)
    db = f"sqlite:///{tmp_path / 'journal.db'}"
    first = _worker(workflow, db, pace=0.05)
    try:
        _until(lambda: _fired(db) >= 10, "10 fires", first)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    finally:
        if first.poll() is None:
            first.kill()
        first.communicate()
    at_kill = _fired(db)
    assert 10 <= at_kill < MESSAGES, "the kill did not land mid-way"
    assert len(pending(dovecot)) > 0

    second = _worker(workflow, db, pace=0)
    try:
        _until(lambda: _fired(db) == MESSAGES and not pending(dovecot), "every mail fired",
               second)
    finally:
        second.send_signal(signal.SIGKILL)
        second.communicate(timeout=30)

    async def journal() -> tuple[int, dict[str, int]]:
        store = open_store(db)
        try:
            runs = await store.list_runs(workflow="mailbox", limit=1000)
            keys: dict[str, int] = {}
            for run in runs:
                for e in await store.events(run.id):
                    if e.type == EventType.TRIGGER_FIRED:
                        keys[e.data["key"]] = keys.get(e.data["key"], 0) + 1
                assert run.meta["input_trust"] == "untrusted"
            return len(runs), keys
        finally:
            await store.close()

    runs, keys = asyncio.run(journal())
    assert runs == MESSAGES
    assert len(keys) == MESSAGES and set(keys.values()) == {1}
    uids = sorted(int(k.split(":")[1]) for k in keys)
    assert uids == list(range(1, MESSAGES + 1))
