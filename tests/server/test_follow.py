"""The live feed follows appends made by other processes: woken by the store on PostgreSQL
(``LISTEN/NOTIFY``, with a slow safety poll), polled on SQLite."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from agentplane.journal import EventType, NewEvent, open_store
from agentplane.runtime.worker import store_notifies
from agentplane.server.stream import Broadcaster

GUARD_S = 20.0
"""How long the test waits for what must happen much sooner (a hang guard, not a measurement)."""


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
async def test_the_feed_sees_another_writer(kind: str, tmp_path: Path,
                                            request: pytest.FixtureRequest) -> None:
    url = (f"sqlite:///{tmp_path / 'j.db'}" if kind == "sqlite"
           else str(request.getfixturevalue("postgres_url")))
    follower, writer = open_store(url), open_store(url)  # two processes' worth of handles
    # PostgreSQL: a safety poll longer than the guard, so only a notification can wake it
    broadcaster = Broadcaster(follower, poll_s=0.05, safety_poll_s=3600)
    assert store_notifies(follower) == (kind == "postgresql")
    await broadcaster.start()
    feed = broadcaster.subscribe(lambda event, tenant: True, keepalive_s=GUARD_S)
    first = asyncio.ensure_future(anext(feed))
    await asyncio.sleep(0.2)  # subscribed and listening
    await writer.create_run(run_id="r1", workflow="w", workflow_hash="h", input=None, meta={},
                            events=[NewEvent(EventType.RUN_STARTED, data={})])
    try:
        batch = await asyncio.wait_for(first, GUARD_S)
        assert [(d.event.run_id, d.event.type) for d in batch] == [
            ("r1", EventType.RUN_CREATED), ("r1", EventType.RUN_STARTED)]
    finally:
        first.cancel()
        await broadcaster.stop()
        await follower.close()
        await writer.close()
