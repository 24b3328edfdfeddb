"""``agentplane serve`` watches the mailboxes of the workflows it serves (the mail trigger, on a
real Dovecot the test starts) and drives each mail's run."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agentplane.journal import open_store
from agentplane.triggers.mail_local import LocalDovecot
from tests.triggers.mail_servers import ENV, USER, dovecot_server, mail_workflow, message

from .live import live_server


@pytest.fixture
def dovecot() -> Iterator[LocalDovecot]:
    yield from dovecot_server()


def runs(db: Path) -> list[Any]:
    async def read() -> list[Any]:
        store = open_store(f"sqlite:///{db}")
        try:
            return await store.list_runs()
        finally:
            await store.close()

    return asyncio.run(read())


def test_serve_turns_each_mail_into_one_driven_run(dovecot: LocalDovecot, tmp_path: Path,
                                                   db: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    flow = mail_workflow(tmp_path, dovecot, idle=False, poll_s=0.2)
    dovecot.deliver(USER, message(1), message(2))
    planes: list[Any] = []
    with live_server(db, [flow], planes=planes):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            found = runs(db)
            if len(found) == 2 and all(r.status == "completed" for r in found):
                break
            time.sleep(0.2)
        dovecot.deliver(USER, message(3))
        while time.monotonic() < deadline and len(runs(db)) < 3:
            time.sleep(0.2)
    found = runs(db)
    assert len(found) == 3
    assert {r.meta["input_trust"] for r in found} == {"untrusted"}
    assert sorted(r.input["subject"] for r in found) == [
        "Request number 1", "Request number 2", "Request number 3"]
