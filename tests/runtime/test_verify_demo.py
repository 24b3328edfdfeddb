"""The verified-answer demo: a worker's first answer cites nothing and is sent back; the
repaired one cites the metrics it read and reaches the supervisor."""

from __future__ import annotations

import pytest

from agentplane.cli.demo import DEMO_INPUTS
from agentplane.demo import WORKFLOWS_DIR, workflow_files
from agentplane.journal import EventType, JournalStore
from agentplane.runtime import Runtime, load_workflow


@pytest.mark.usefixtures("keep_sys_path")
async def test_the_demo_repairs_an_uncited_answer(store: JournalStore) -> None:
    path = WORKFLOWS_DIR / "verified-answer.yaml"
    assert path in workflow_files()
    rt = Runtime(store)
    run = await rt.run(load_workflow(path), DEMO_INPUTS["verified-answer"])
    await rt.aclose()
    assert run.status == "completed"
    events = await store.events(run.id)
    first, second = [e for e in events if e.type == EventType.VERIFY_CHECKED]
    assert {f["kind"] for f in first.data["findings"]} == {"uncited"}
    assert first.data["action"] == "repair"
    assert second.data["passed"] and second.data["sources"] == ["tool:call_0_0"]
    handed = [e.data["output"] for e in events if e.type == EventType.AGENT_COMPLETED
              and e.data["agent"] == "sre"]
    assert handed[-1].startswith("Checkout's p99 latency is 840 ms [tool:call_0_0]")
