"""Vector retrieval in runs, against a loopback embeddings server (a deterministic hashed
n-gram embedding, not a model): the workflow's endpoint is used for the task's query, and a
failing endpoint degrades the packet to lexical + graph instead of failing the run."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agentplane.journal import EventType, JournalStore
from agentplane.knowledge.embeddings import Embeddings
from agentplane.knowledge.retrieve import Retriever
from agentplane.knowledge.shaping import packet_from_json
from agentplane.knowledge.store import KnowledgeBase
from agentplane.runtime import Runtime, workflow_from_dict
from tests.knowledge.embedding_server import MODEL, EmbeddingServer

HERE = Path(__file__).parent
QUESTION = "when are refunds paid back?"


@pytest.fixture
def server() -> Iterator[EmbeddingServer]:
    with EmbeddingServer() as running:
        yield running


async def _run(store: JournalStore, base_url: str) -> dict[str, Any]:
    flow = workflow_from_dict({
        "name": "vectors", "knowledge": {"embeddings": {"base_url": base_url, "model": MODEL}},
        "agents": [{"name": "desk", "knowledge": {"modes": ["lexical", "vector"]},
                    "script": [{"content": "ok"}]}],
        "steps": [{"agent": "desk"}]}, HERE)
    runtime = Runtime(store)
    run = await runtime.run(flow, QUESTION, tenant="acme")
    await runtime.aclose()
    assert run.status == "completed"
    [event] = [e for e in await store.events(run.id) if e.type == EventType.CONTEXT_PACKET]
    return dict(event.data)


async def test_the_task_is_embedded_and_vectors_find_passages(store: JournalStore,
                                                              server: EmbeddingServer) -> None:
    kb = KnowledgeBase(store.database)
    kb.add("acme", "refunds.md", "# Refunds\n\nRefund payments go back to the card in 14 days.")
    Retriever(kb, None, Embeddings(server.base_url, MODEL)).index_vectors("acme")
    indexed = len(server.received)
    data = await _run(store, server.base_url)
    assert [r.texts for r in server.received[indexed:]] == [[QUESTION]]
    assert [i.source for i in packet_from_json(data["packet"]).items] == ["refunds.md"]
    assert "notes" not in data


async def test_a_failing_endpoint_degrades_the_packet_not_the_run(store: JournalStore) -> None:
    with EmbeddingServer(api_key="the-servers-key") as refusing:  # we send no key: 401
        kb = KnowledgeBase(store.database)
        kb.add("acme", "refunds.md", "# Refunds\n\nRefunds are paid back within 14 days.")
        data = await _run(store, refusing.base_url)
    [note] = data["notes"]
    assert note.startswith("vector retrieval failed, lexical and graph only")
    assert [i.source for i in packet_from_json(data["packet"]).items] == ["refunds.md"]
