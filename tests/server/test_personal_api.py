"""Personal data through the REST API of a live server: the run's input, events, approvals and
audit export show the values while the subject's key exists, ``[erased]`` after
``agentplane data erase`` — and the audit export's chain check still holds."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import httpx
import pytest

from agentplane.journal import open_store
from agentplane.journal.personal import ERASED, FileSubjectKeys
from agentplane.runtime import Runtime
from tests.runtime.test_personal_data import flow

from .live import live_server

ADDRESS = "anna.schmidt@example.de"


async def start_run(db: Path) -> str:
    store = open_store(f"sqlite:///{db}")
    runtime = Runtime(store)
    run = await runtime.run(flow(), {"customer_id": "C-77", "message": "my parcel never came"},
                            tenant="acme")
    await runtime.aclose()
    await store.close()
    assert run.status == "waiting"  # the mail waits for a person
    return run.id


def test_the_api_shows_erased_values_and_a_chain_that_holds(
        db: Path, keys: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        ) -> None:
    monkeypatch.setattr(sys, "path", list(sys.path))  # loading a workflow extends it
    key_file = tmp_path / "subject-keys.json"
    monkeypatch.setenv("AGENTPLANE_SUBJECT_KEYS", str(key_file))
    run_id = asyncio.run(start_run(db))
    with live_server(db, [], worker=False) as base:
        api = httpx.Client(base_url=f"{base}/api/v1",
                           headers={"Authorization": f"Bearer {keys['viewer']}"})

        def everything() -> str:
            return "\n".join(api.get(path).raise_for_status().text for path in (
                f"/runs/{run_id}", f"/runs/{run_id}/events", "/approvals"))

        assert ADDRESS in everything() and "C-77" in everything()
        FileSubjectKeys(key_file).erase("C-77", by="user:dpo", reason="request 118")
        after = everything()
        assert ADDRESS not in after and "C-77" not in after and "Anna Schmidt" not in after
        assert ERASED in after
        audit = api.get(f"/runs/{run_id}/audit").raise_for_status().json()
        assert audit["verification"]["ok"] is True
        assert ADDRESS not in str(audit["events"]) and ADDRESS not in str(audit["approvals"])
