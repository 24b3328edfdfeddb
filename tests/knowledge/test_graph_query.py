"""Graph expansion's reads at scale: mention counts bounded in SQL, generic entities skipped
before their mentions are read, entities named by a question without their chunk ids."""

from __future__ import annotations

import pytest

from agentplane.errors import ConfigError
from agentplane.knowledge.graph import Entity, KnowledgeGraph, Rejected
from agentplane.knowledge.ontology import load_ontology
from agentplane.storage import Database

from .test_graph import EXAMPLE, T


def _entity(result: Entity | Rejected) -> Entity:
    assert isinstance(result, Entity), result
    return result


@pytest.fixture
def graph(database: Database) -> KnowledgeGraph:
    """Acme Ltd supplies Globex (fact in kb:s1); Acme is found in 3 chunks, Globex in 30."""
    g = KnowledgeGraph(database, load_ontology(EXAMPLE))
    for n in range(3):
        _entity(g.add_entity(T, "Supplier", "Acme Ltd", chunk_id=f"kb:a{n}"))
    for n in range(30):
        _entity(g.add_entity(T, "Customer", "Globex", chunk_id=f"kb:g{n:02}"))
    assert not isinstance(g.add_relation(T, "Acme Ltd", "supplies", "Globex", chunk_id="kb:s1"),
                          Rejected)
    return g


def test_mention_counts_stop_at_the_cap(graph: KnowledgeGraph) -> None:
    acme, globex = graph.find(T, "Acme Ltd")[0].id, graph.find(T, "Globex")[0].id
    assert graph.mention_counts(T, [acme, globex]) == {acme: 3, globex: 30}
    assert graph.mention_counts(T, [acme, globex, acme], cap=11) == {acme: 3, globex: 11}
    assert graph.mention_counts(T, ["ent:missing"], cap=5) == {"ent:missing": 0}
    assert graph.mention_counts("other-tenant", [acme]) == {acme: 0}


def test_chunks_for_skips_generic_entities_but_keeps_their_facts(graph: KnowledgeGraph
                                                                 ) -> None:
    acme, globex = graph.find(T, "Acme Ltd")[0].id, graph.find(T, "Globex")[0].id
    every = dict(graph.chunks_for(T, [acme]))
    assert len(every) == 3 + 30 + 1  # its own chunks, the neighbour's, the fact's
    capped = dict(graph.chunks_for(T, [acme], max_mentions=10))
    assert capped == {"kb:a0": 1.0, "kb:a1": 1.0, "kb:a2": 1.0, "kb:s1": 1.0}
    # an entity asked for that is itself generic brings only its facts
    assert dict(graph.chunks_for(T, [globex], max_mentions=10)) == {
        "kb:s1": 1.0, "kb:a0": 0.5, "kb:a1": 0.5, "kb:a2": 0.5}
    assert graph.chunks_for(T, [acme], max_mentions=30) == graph.chunks_for(T, [acme])
    with pytest.raises(ConfigError, match="max_mentions"):
        graph.chunks_for(T, [acme], max_mentions=-1)


def test_entities_in_without_mentions(graph: KnowledgeGraph) -> None:
    light = graph.entities_in(T, "Did Acme Ltd bill Globex?", mentions=False)
    full = graph.entities_in(T, "Did Acme Ltd bill Globex?")
    assert [e.id for e in light] == [e.id for e in full] and len(full) == 2
    assert all(e.chunk_ids == () for e in light)
    assert [len(e.chunk_ids) for e in full] == [3, 30]
