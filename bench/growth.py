"""Storage and time per step of a growing conversation, against LangGraph's SqliteSaver.

Every step of the loop is a model turn that adds 10 KB of new conversation and a tool call with
a small result (the last step answers without a tool), each made durable before the next.
Agentplane journals only what is new (large values go to content-addressed blobs), so bytes on
disk grow with the new bytes; a checkpointer that saves the whole state each step grows with the
square of the run length. Both run the same loop on SQLite files, in this
process, one after the other; LangGraph with ``durability="sync"`` (each checkpoint written
before the next step) — skipped if LangGraph is not installed (`make bench` installs it).

Run: .venv/bin/python bench/growth.py [--steps N]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import operator
from pathlib import Path
from typing import Annotated, Any, TypedDict

from _common import Figure, Stopwatch, db_bytes, print_figures, scratch
from agentplane.journal import SQLiteJournal
from agentplane.runtime import Runtime, workflow_from_dict

NEW_BYTES = 10_000


def reply(i: int) -> str:
    """10 KB of text that differs from every other step's (no accidental deduplication)."""
    seed = hashlib.sha256(str(i).encode()).hexdigest()
    return (seed * (NEW_BYTES // len(seed) + 1))[:NEW_BYTES]


async def agentplane_loop(folder: Path, steps: int, *, guardians: bool = False
                         ) -> tuple[float, int]:
    """Seconds per step and bytes on disk for a run of ``steps`` model turns.

    Without ``guardians`` the loop is the bare durable journal (what LangGraph offers); with
    them, every tool call also journals the guardians' decision.
    """
    (folder / "tools.py").write_text("def note(i: int) -> str:\n    return 'ok'\n")
    script: list[dict[str, Any]] = [
        {"content": reply(i), "tool_calls": [{"name": "note", "arguments": {"i": i}}],
         "usage": {"input_tokens": 10, "output_tokens": 10}}
        for i in range(steps - 1)
    ]
    script.append({"content": reply(steps), "usage": {"input_tokens": 10, "output_tokens": 10}})
    workflow = workflow_from_dict(
        {"name": "growth", "tools": [{"name": "note", "python": "tools:note", "effect": "read"}],
         "guardians": {"enabled": guardians},
         "agents": [{"name": "a", "tools": ["note"], "max_turns": steps + 1,
                     "script": script}],
         "steps": [{"agent": "a"}]}, folder)
    path = folder / "journal.db"
    store = SQLiteJournal(path)
    runtime = Runtime(store)
    # Not part of the growth: the spec blob, and every table a first run creates (the
    # journal's; the usage ledger's, made by the first run a runtime drives), by a short run
    # of another workflow that shares no content with the measured one.
    await runtime.start(workflow, "warm-up")
    warm = workflow_from_dict(
        {"name": "warm-up", "agents": [{"name": "a", "script": [{"content": "ready"}]}],
         "steps": [{"agent": "a"}]}, folder)
    assert (await runtime.run(warm, "warm-up")).status == "completed"
    await runtime.aclose()
    await store.close()
    before = db_bytes(path)
    store = SQLiteJournal(path)
    runtime = Runtime(store)
    with Stopwatch() as watch:
        run = await runtime.run(workflow, "go")
        await runtime.aclose()  # writes the usage ledger's buffered rows: part of the run's cost
    assert run.status == "completed", run.status
    await store.close()
    return watch.seconds / steps, db_bytes(path) - before


class LoopState(TypedDict):
    messages: Annotated[list[str], operator.add]


def _langgraph_agent(state: LoopState) -> dict[str, list[str]]:
    return {"messages": [reply(len(state["messages"]))]}


def _langgraph_tool(state: LoopState) -> dict[str, list[str]]:
    return {"messages": ["ok"]}


def langgraph_loop(folder: Path, steps: int) -> tuple[float, int] | None:
    try:
        import sqlite3

        from langgraph.checkpoint.sqlite import SqliteSaver
        from langgraph.graph import END, START, StateGraph
    except ImportError:
        return None

    def more(state: LoopState) -> str:
        return "tool" if len(state["messages"]) < 2 * steps - 1 else END

    # The same loop as a LangGraph ReAct agent: agent → tool → agent ..., a checkpoint each.
    graph = StateGraph(LoopState)
    graph.add_node("agent", _langgraph_agent)
    graph.add_node("tool", _langgraph_tool)
    graph.add_edge(START, "agent")
    graph.add_conditional_edges("agent", more)
    graph.add_edge("tool", "agent")
    path = folder / "langgraph.db"
    conn = sqlite3.connect(path, check_same_thread=False)
    saver = SqliteSaver(conn)
    saver.setup()
    app = graph.compile(checkpointer=saver)
    conn.commit()
    before = db_bytes(path)
    config: Any = {"configurable": {"thread_id": "t1"}, "recursion_limit": 2 * steps + 10}
    with Stopwatch() as watch:
        out = app.invoke({"messages": []}, config, durability="sync")
    assert len(out["messages"]) == 2 * steps - 1
    conn.close()
    return watch.seconds / steps, db_bytes(path) - before


def run(steps: int) -> list[Figure]:
    with scratch() as a, scratch() as b, scratch() as c:
        ours_time, ours_bytes = asyncio.run(agentplane_loop(a, steps))
        theirs = langgraph_loop(b, steps)
        guarded_time, guarded_bytes = asyncio.run(agentplane_loop(c, steps, guardians=True))
    new = steps * NEW_BYTES
    figures = [Figure("growth", f"bytes on disk / new bytes ({steps} steps × 10 KB)",
                      ours_bytes / new, "×", None, "≤ 1.5"),
               Figure("growth", "  the same with default guardians (decisions journaled)",
                      guarded_bytes / new, "×", None, ""),
               Figure("growth", "  time per step with default guardians", guarded_time * 1e3,
                      "ms/step", ours_time * 1e3, "")]
    if theirs is not None:
        theirs_time, theirs_bytes = theirs
        figures += [
            Figure("growth", "LangGraph SqliteSaver bytes on disk / new bytes",
                   theirs_bytes / new, "×", None, "(grows with N²)"),
            Figure("growth", "time per step: LangGraph ÷ Agentplane", theirs_time / ours_time,
                   "×", None, "≥ 10"),
            Figure("growth", "Agentplane time per step (LangGraph = baseline)",
                   ours_time * 1e3, "ms/step", theirs_time * 1e3, ""),
        ]
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100)
    print_figures(run(parser.parse_args().steps))
