"""A workflow's ontology gives its agents graph retrieval: a question that names an entity by
an alias finds the passages the entity came from, which words alone do not."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentplane.journal import EventType, JournalStore
from agentplane.knowledge.graph import KnowledgeGraph, Rejected
from agentplane.knowledge.ontology import load_ontology
from agentplane.knowledge.shaping import packet_from_json
from agentplane.knowledge.store import KnowledgeBase
from agentplane.runtime import Runtime, workflow_from_dict

from .specfiles import DESK_ONTOLOGY as ONTOLOGY

pytestmark = pytest.mark.usefixtures("keep_sys_path")



async def _packet_sources(store: JournalStore, folder: Path, modes: list[str]) -> list[str]:
    flow = workflow_from_dict({
        "name": f"graph-{len(modes)}", "knowledge": {"ontology": "ontology.yaml"},
        "agents": [{"name": "desk", "knowledge": {"modes": modes},
                    "script": [{"content": "ok"}]}],
        "steps": [{"agent": "desk"}]}, folder)
    runtime = Runtime(store)
    run = await runtime.run(flow, "What did GX buy last?", tenant="acme")
    await runtime.aclose()
    [event] = [e for e in await store.events(run.id) if e.type == EventType.CONTEXT_PACKET]
    return [i.source for i in packet_from_json(event.data["packet"]).items]


async def test_graph_mode_finds_an_entity_named_by_its_alias(store: JournalStore,
                                                              tmp_path: Path) -> None:
    (tmp_path / "ontology.yaml").write_text(ONTOLOGY, encoding="utf-8")
    kb = KnowledgeBase(store.database)
    added = kb.add("acme", "orders.md", "# Orders\n\nGlobex Corporation ordered 40 pallets "
                   "of paper in May.")
    [chunk] = kb.document_chunks("acme", added.document.id)
    graph = KnowledgeGraph(store.database, load_ontology(tmp_path / "ontology.yaml"))
    entity = graph.add_entity("acme", "Customer", "Globex Corporation", aliases=["GX"],
                              chunk_id=chunk.id)
    assert not isinstance(entity, Rejected)
    assert await _packet_sources(store, tmp_path, ["lexical"]) == []
    assert await _packet_sources(store, tmp_path, ["lexical", "graph"]) == ["orders.md"]
