"""The support-desk demo (examples/support-desk/run.py) runs offline as a script, and what its
agents cite is what their journaled context packets held: the customer's past case and
preferred language (experiential and factual memory from the first run), the promoted refund
procedure (procedural), and rule text from the Chinese and the English policies (the Chinese
article reached through the knowledge graph from an English mention)."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from agentplane.journal import EventType, open_store
from agentplane.memory.store import MemoryStore

DEMO = Path(__file__).resolve().parents[2] / "examples" / "support-desk" / "run.py"
CITED = re.compile(r"\[((?:kb|mem):[^\]\s]+)\]")


async def _journal(db: Path) -> list[dict[str, Any]]:
    """Each run, oldest first: status, each agent's answer and packet items (id → item)."""
    store = open_store(f"sqlite:///{db}")
    try:
        runs = sorted(await store.list_runs(limit=10), key=lambda r: r.created_at)
        out = []
        for run in runs:
            answers: dict[str, str] = {}
            packets: dict[str, dict[str, dict[str, Any]]] = {}
            for e in await store.events(run.id):
                if e.type == EventType.CONTEXT_PACKET:
                    items = packets.setdefault(e.data["agent"], {})
                    items.update({i["id"]: i for i in e.data["packet"]["items"]})
                elif e.type == EventType.AGENT_COMPLETED:
                    answers[e.data["agent"]] = str(e.data["output"])
            out.append({"status": run.status, "answers": answers, "packets": packets})
        return out
    finally:
        await store.close()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    folder = tmp_path_factory.mktemp("support-desk")
    env = {**os.environ, "AGENTPLANE_HOME": str(folder)}
    env.pop("AGENTPLANE_DB", None)
    done = subprocess.run([sys.executable, str(DEMO), "--db", "desk.db"], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return folder / "desk.db", done.stdout


def test_the_demo_runs_two_cases_and_says_its_citations_hold(demo: tuple[Path, str]) -> None:
    _, out = demo
    assert out.count("supervisor approves request_refund") == 2
    assert "Promoted skill mem:" in out
    assert "Memory kinds kept: experiential, factual, procedural" in out
    assert out.rstrip().splitlines()[-1].startswith("Every cited id is in its agent's journaled")


def test_cited_ids_are_in_the_journaled_packets(demo: tuple[Path, str]) -> None:
    db, _ = demo
    first, second = asyncio.run(_journal(db))
    assert first["status"] == second["status"] == "completed"
    assert first["packets"]["support"] == {}  # nothing was known about the customer yet
    # The first answer is English only; "article 3" in it reaches the Chinese 第3条 through the
    # knowledge graph (an entity both texts name), and the analyst quotes it.
    first_cited = CITED.findall(first["answers"]["compliance"])
    assert any(first["packets"]["compliance"][i]["source"] == "policies/refund-policy.zh.md"
               for i in first_cited)
    assert "第3条" in first["answers"]["compliance"]
    for run in (first, second):
        for agent, answer in run["answers"].items():
            cited = CITED.findall(answer)
            assert set(cited) <= set(run["packets"].get(agent, {})), (agent, cited)

    database_memories = _memories(db)
    support = CITED.findall(second["answers"]["support"])
    kinds = {database_memories[i]["kind"] for i in support}
    assert kinds == {"experiential", "factual"}
    past = next(i for i in support if database_memories[i]["kind"] == "experiential")
    assert database_memories[past]["source"].startswith("run:")
    assert "above the maximum 500" in second["packets"]["support"][past]["text"]
    assert "您好" in second["answers"]["support"]  # the remembered language: Chinese

    compliance = CITED.findall(second["answers"]["compliance"])
    items = second["packets"]["compliance"]
    sources = {items[i]["source"] for i in compliance if i.startswith("kb:")}
    assert "policies/refund-policy.zh.md" in sources
    assert any(s.endswith(".en.md") for s in sources)
    quoted = second["answers"]["compliance"]
    assert "须经客服主管批准" in quoted and "needs a supervisor's approval" in quoted
    skill = [i for i in compliance if i.startswith("mem:")]
    assert [database_memories[i]["kind"] for i in skill] == ["procedural"]
    assert database_memories[skill[0]]["status"] == "active"  # promoted by a person


def _memories(db: Path) -> dict[str, dict[str, Any]]:
    from agentplane.storage import open_database

    database = open_database(f"sqlite:///{db}")
    try:
        return {m.id: {"kind": m.kind, "source": m.source, "status": m.status}
                for m in MemoryStore(database).list("default", limit=100)}
    finally:
        database.close()
