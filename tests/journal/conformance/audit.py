"""Verifying the hash chain, and the boundary for untrusted values."""

from __future__ import annotations

import pytest

from agentplane.journal import EventType, JournalError, JournalStore, NewEvent, verify, verify_run

from .helpers import BIG_TEXT, append, close_wait_event, last_seq, new_run, waiting_run


class AuditConformance:
    """Verifying the hash chain, and the boundary for untrusted values."""

    # -- audit --------------------------------------------------------------------------------

    async def test_clean_store_verifies(self, store: JournalStore) -> None:
        assert (await verify(store)).ok
        await new_run(store, "run-1", input={"big": BIG_TEXT})
        await waiting_run(store, "run-2", "w-1")
        await store.append("run-2", [close_wait_event("w-1"), NewEvent(EventType.RUN_RESUMED),
                                     NewEvent("tool.completed", data={"result": BIG_TEXT}),
                                     NewEvent(EventType.RUN_COMPLETED)])
        await new_run(store, "run-3", events=[NewEvent("note", data={"中文": "审计"})])
        report = await verify(store)
        assert report.ok
        assert report.breaks == []
        assert (report.runs, report.events) == (3, 1 + 8 + 2)
        assert await verify_run(store, "run-2") == (8, None)

    async def test_verify_selected_runs(self, store: JournalStore) -> None:
        await new_run(store, "run-1", events=[NewEvent("note")])
        await new_run(store, "run-2")
        report = await verify(store, ["run-1"])
        assert (report.ok, report.runs, report.events) == (True, 1, 2)

    # -- the boundary for untrusted values ----------------------------------------------------

    async def test_unsafe_text_is_stored_safe_and_marked(self, store: JournalStore) -> None:
        """Lone surrogates (valid in JSON and in a Python str, not in UTF-8), NaN and number
        keys reach the journal from tools, models, inputs and the API: every entry is stored,
        replaced where it must be, and the event says what was replaced."""
        run = await new_run(store, "run-1", input={"q": "\ud800", 1: float("inf")},
                            events=[NewEvent("note", actor="user:\udc80",
                                             data={"big": "\udc80" + BIG_TEXT})])
        assert run.input == {"q": "\ufffd", "1": None}
        await store.append("run-1", [NewEvent("tool.completed", step_key="s/\udfff",
                                              data={"result": {"k\udc80": ["\udc80"]}})])
        events = await store.events("run-1")
        created, note, done = events
        assert created.data["input"] == run.input
        assert [c["path"] for c in created.data["sanitized"]] == [
            "data.input.q", "data.input.1", "data.input.1"]
        assert note.actor == "user:\ufffd" and note.data["big"] == "\ufffd" + BIG_TEXT
        assert [c["path"] for c in note.data["sanitized"]] == ["data.big", "actor"]
        assert done.step_key == "s/\ufffd" and done.data["result"] == {"k\ufffd": ["\ufffd"]}
        assert len(done.data["sanitized"]) == 3
        assert (await verify(store)).ok

    async def test_oversized_event_data_is_refused_whole(
            self, store: JournalStore, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr("agentplane.journal.safe.MAX_EVENT_DATA_CHARS", 100_000)
        await new_run(store, "run-1")
        with pytest.raises(JournalError, match="over the journal's limit of 100000"):
            await store.append("run-1", [NewEvent("note", data={"ok": 1}),
                                         NewEvent("note", data={"big": "x" * 100_001})])
        assert await last_seq(store, "run-1") == 1
        await append(store, "run-1", "note", fits="x" * 90_000)
        assert (await verify(store)).ok
