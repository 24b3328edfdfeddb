"""What a live run holds is shared where it can be: the runs of one workflow journal the same
step keys, and their step indexes share one key (and one string) per step."""

from __future__ import annotations

from agentplane.journal import EventType, JournalStore
from agentplane.runtime import Runtime
from agentplane.runtime.context import RunContext

from .conftest import make_workflow


async def test_runs_of_one_workflow_share_their_step_index_keys(store: JournalStore) -> None:
    wf = make_workflow([{"name": "a", "script": [{"content": "x"}, {"content": "y"}]}],
                       [{"agent": "a"}, {"agent": "a"}])
    rt = Runtime(store)
    contexts = []
    for _ in range(2):
        run = await rt.run(wf, "go")
        assert run.status == "completed"
        ctx = RunContext(store, await store.require_run(run.id), wf, rt._resolver(wf), rt.owner)
        ctx.load(await store.events(run.id))
        contexts.append(ctx)
    first, second = ({key: key for key in ctx._index} for ctx in contexts)
    assert first and first.keys() == second.keys()
    assert all(first[key] is second[key] and first[key][0] is second[key][0] for key in first)
    # found by an equal key made afresh, with what the step reads back
    step_key = next(k for k, t in first if t == EventType.MODEL_COMPLETED)
    record = contexts[1].recorded("".join(list(step_key)), EventType.MODEL_COMPLETED)
    assert record is not None and record.actor == "agent:a"
    assert record.data["response"]["content"] in ("x", "y")
    assert not hasattr(contexts[0], "__dict__")  # slots: no per-run attribute dict
    await rt.aclose()
