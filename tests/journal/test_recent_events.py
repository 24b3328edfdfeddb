"""``recent_events``: the events of some types among the journal's last ones, on SQLite and
PostgreSQL — a bounded look at the tail (the router seeds models' health from it)."""

from __future__ import annotations

from agentplane.journal import NewEvent, open_store


async def test_only_the_tail_and_only_the_types_asked(database_url: str) -> None:
    store = open_store(database_url)
    try:
        for r in range(3):
            run = await store.create_run(run_id=f"r{r}", workflow="w", workflow_hash="h",
                                         input=None, meta={})
            await store.append(run.id, [NewEvent("model.completed", step_key=f"s{i}",
                                                 data={"i": i}) for i in range(5)]
                               + [NewEvent("tool.completed", step_key="t", data={})])
        everything = await store.recent_events(["model.completed"], window=100)
        assert [(e.run_id, e.data["i"]) for e in everything] == [
            (f"r{r}", i) for r in range(3) for i in range(5)]
        tail = await store.recent_events(["model.completed", "tool.completed"], window=4)
        assert [(e.run_id, e.type, e.step_key) for e in tail] == [
            ("r2", "model.completed", "s2"), ("r2", "model.completed", "s3"),
            ("r2", "model.completed", "s4"), ("r2", "tool.completed", "t")]
        assert await store.recent_events(["run.created"], window=3) == []
    finally:
        await store.close()
