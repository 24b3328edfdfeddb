"""`agentplane demo`, run again on the same journal, shows its earlier runs and rotates its one
admin key instead of adding eight more runs and one more permanent admin key each time."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

from agentplane.cli.demo import DEMO_KEY_NAME, demo_key, run_demo
from agentplane.governance.keys import keyring_for
from agentplane.journal import open_store
from agentplane.runtime import Runtime


async def _demo(db: Path) -> str:
    store = open_store(f"sqlite:///{db}")
    runtime = Runtime(store)
    out = io.StringIO()
    try:
        await run_demo(store, runtime, Console(file=out, width=200))
    finally:
        await runtime.aclose()
        await store.close()
    return out.getvalue()


async def test_a_second_demo_adds_no_runs(tmp_path: Path) -> None:
    db = tmp_path / "agentplane.db"
    await _demo(db)
    store = open_store(f"sqlite:///{db}")
    first = {r.id: r.last_seq for r in await store.list_runs(limit=100)}
    await store.close()
    again = await _demo(db)
    store = open_store(f"sqlite:///{db}")
    second = {r.id: r.last_seq for r in await store.list_runs(limit=100)}
    await store.close()
    assert len(first) == 9 and second == first  # the same runs, not one event more
    assert "9 run(s) are the earlier demo's" in again
    assert "audit chain holds: 9 runs" in again


async def test_the_demo_key_is_one_key_rotated(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'agentplane.db'}")
    ring = keyring_for(store)
    first = demo_key(ring)
    second = demo_key(ring)
    demo_keys = [k for k in ring.list(include_revoked=True) if k.name == DEMO_KEY_NAME]
    assert len(demo_keys) == 1 and demo_keys[0].revoked_at is None
    assert ring.authenticate(first) is None  # the earlier demo's secret no longer works
    assert ring.authenticate(second) == demo_keys[0]
    ring.close()
    await store.close()
