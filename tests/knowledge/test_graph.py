"""The knowledge graph on SQLite and PostgreSQL: validated facts, supersession, queries."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from agentplane.errors import ConfigError
from agentplane.knowledge._graph_rows import entity_id
from agentplane.knowledge.graph import (
    COMPONENT,
    MIGRATIONS,
    Candidates,
    Entity,
    EntityCandidate,
    KnowledgeGraph,
    Rejected,
    Relation,
    RelationCandidate,
)
from agentplane.knowledge.ontology import Ontology, load_ontology
from agentplane.knowledge.types import Chunk
from agentplane.storage import Database, migrate, open_database

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "ontologies" / "procurement.yaml"
T = "acme-corp"


@pytest.fixture
def ontology() -> Ontology:
    return load_ontology(EXAMPLE)


@pytest.fixture
def graph(database: Database, ontology: Ontology) -> KnowledgeGraph:
    return KnowledgeGraph(database, ontology)


def _entity(result: Entity | Rejected) -> Entity:
    assert isinstance(result, Entity), result
    return result


def _relation(result: Relation | Rejected) -> Relation:
    assert isinstance(result, Relation), result
    return result


def _rejected(result: object) -> str:
    assert isinstance(result, Rejected), result
    return result.reason


def _count(db: Database, table: str) -> int:
    row = db.query_one(f"SELECT COUNT(*) FROM {table}")
    assert row is not None
    return int(row[0])


def _procurement(graph: KnowledgeGraph) -> dict[str, Entity]:
    """Acme (supplier) supplies Globex (customer) and 华为技术 (supplier) supplies 腾讯 (a
    customer); Acme issued INV-7 billed to Globex; Ann works for Globex and signed C-1."""
    e = {
        "acme": _entity(graph.add_entity(T, "Supplier", "Acme Ltd", {"approved": "true"},
                                         aliases=["Acme"], chunk_id="kb:acme")),
        "acmeh": _entity(graph.add_entity(T, "Organisation", "Acme Holdings")),
        "globex": _entity(graph.add_entity(T, "Customer", "Globex")),
        "huawei": _entity(graph.add_entity(T, "供应商", "华为技术", aliases=["华为"])),
        "tencent": _entity(graph.add_entity(T, "客户", "腾讯")),
        "inv": _entity(graph.add_entity(T, "Invoice", "INV-7", {"amount": 1200},
                                        chunk_id="kb:inv")),
        "ann": _entity(graph.add_entity(T, "Person", "Ann Lee")),
        "contract": _entity(graph.add_entity(T, "Contract", "C-1")),
    }
    _relation(graph.add_relation(T, "Acme", "supplies", "Globex", chunk_id="kb:s1"))
    _relation(graph.add_relation(T, "华为", "供货", "腾讯", chunk_id="kb:zh1"))
    _relation(graph.add_relation(T, "Acme", "issued", "INV-7", chunk_id="kb:i1"))
    _relation(graph.add_relation(T, "INV-7", "billed_to", "Globex", chunk_id="kb:b1"))
    _relation(graph.add_relation(T, "Ann Lee", "works_for", "Globex", chunk_id="kb:w1"))
    _relation(graph.add_relation(T, "Ann Lee", "signed", "C-1", {"signed_on": "2026-01-05"},
                                 chunk_id="kb:c1"))
    return e


def test_entities_have_stable_ids_and_merge(graph: KnowledgeGraph, database: Database) -> None:
    first = _entity(graph.add_entity(T, "Supplier", "Acme  Ltd", {"country": "UK"},
                                     aliases=["Acme"], chunk_id="kb:1"))
    again = _entity(graph.add_entity(T, "Vendor", "ACME LTD", {"tax_id": "GB1"},
                                     aliases=["艾克米", "acme", " "], chunk_id="kb:2"))
    assert again.id == first.id and again.name == "Acme Ltd"
    assert again.aliases == ("Acme", "艾克米")
    assert again.properties == {"country": "UK", "tax_id": "GB1"}
    assert again.chunk_ids == ("kb:1", "kb:2")
    assert _count(database, "kg_entities") == 1
    # the same name as the parent type is the same thing, not a second entity
    assert _entity(graph.add_entity(T, "Organisation", "Acme Ltd")).id == first.id
    other = _entity(graph.add_entity("other-tenant", "Supplier", "Acme Ltd"))
    assert other.id != first.id and graph.get(T, other.id) is None


def test_every_rejection_says_why_and_stores_nothing(graph: KnowledgeGraph,
                                                     database: Database) -> None:
    _procurement(graph)
    entities, relations = _count(database, "kg_entities"), _count(database, "kg_relations")
    reasons = [
        _rejected(graph.add_entity(T, "Vendorr", "X")),
        _rejected(graph.add_entity(T, "Invoice", "INV-8")),
        _rejected(graph.add_entity(T, "Invoice", "INV-9", {"amount": "a lot"})),
        _rejected(graph.add_entity(T, "Supplier", "Y", {"colour": "red"})),
        _rejected(graph.add_relation(T, "Globex", "supplies", "Acme")),
        _rejected(graph.add_relation(T, "Acme", "sells", "Globex")),
        _rejected(graph.add_relation(T, "Acme", "supplies", "Initech")),
        _rejected(graph.add_relation(T, "Ann Lee", "signed", "C-1", {"signed_on": "soon"})),
    ]
    assert reasons[0].startswith("unknown entity type 'Vendorr'")
    assert reasons[1] == "Invoice 'INV-8' needs the required property 'amount'"
    assert reasons[2] == "property 'amount' of Invoice 'INV-9' must be a number; got 'a lot'"
    assert reasons[3].startswith("Supplier 'Y' has no property 'colour'")
    assert reasons[4] == ("relation 'supplies' goes from Supplier to Organisation (or their "
                          "subtypes); got Customer → Supplier")
    assert reasons[5].startswith("unknown relation 'sells'")
    assert reasons[6] == "object: no entity 'Initech' in the graph; add it first"
    assert "must be an ISO-8601 date" in reasons[7]
    assert (_count(database, "kg_entities"), _count(database, "kg_relations")) == (
        entities, relations)


def test_an_ambiguous_name_is_rejected_until_the_type_picks(graph: KnowledgeGraph) -> None:
    _entity(graph.add_entity(T, "Customer", "Orbit"))
    _entity(graph.add_entity(T, "Person", "Orbit"))
    _entity(graph.add_entity(T, "Contract", "C-9"))
    assert "'Orbit' names 2 entities" in _rejected(graph.add_relation(T, "Orbit", "party_to",
                                                                      "C-9"))
    fact = _relation(graph.add_relation(T, "Orbit", "party_to", "C-9",
                                        subject_type="Organisation"))
    assert graph.get(T, fact.subject) is not None
    assert graph.get(T, fact.subject).type == "Customer"  # type: ignore[union-attr]


def test_a_subtype_satisfies_its_parent(graph: KnowledgeGraph) -> None:
    e = _procurement(graph)
    # supplies: Supplier → Organisation; a Supplier and a Customer are both Organisations
    fact = _relation(graph.add_relation(T, "Acme", "supplies", "华为技术"))
    assert (fact.subject, fact.object) == (e["acme"].id, e["huawei"].id)


def test_cardinality_one_supersedes_by_trust_and_keeps_the_old(graph: KnowledgeGraph) -> None:
    e = _procurement(graph)
    _entity(graph.add_entity(T, "Account", "GB-OLD", {"iban": "GB00OLD"}))
    _entity(graph.add_entity(T, "Account", "GB-NEW", {"iban": "GB00NEW"}))
    _entity(graph.add_entity(T, "Account", "X-EVIL", {"iban": "XX00EVIL"}))
    old = _relation(graph.add_relation(T, "Acme", "bank_account", "GB-OLD", chunk_id="kb:o"))
    new = _relation(graph.add_relation(T, "Acme", "bank_account", "GB-NEW", chunk_id="kb:n"))
    assert new.superseded_by is None
    # an untrusted statement (say, from an email) does not displace the trusted one
    evil = _relation(graph.add_relation(T, "Acme", "bank_account", "X-EVIL", chunk_id="kb:e",
                                        trust="untrusted"))
    assert evil.trust == "untrusted" and evil.superseded_by == new.id
    current = [r for r in graph.facts(T, e["acme"]) if r.relation == "bank_account"]
    assert [r.id for r in current] == [new.id]
    every = {r.id: r for r in graph.facts(T, "Acme", include_superseded=True)
             if r.relation == "bank_account"}
    assert every[old.id].superseded_by == new.id and set(every) == {old.id, new.id, evil.id}
    # the old account, stated again by a trusted source, is current again
    back = _relation(graph.add_relation(T, "Acme", "bank_account", "GB-OLD"))
    assert back.id == old.id and back.superseded_by is None and back.chunk_id == "kb:o"
    assert [r.id for r in graph.facts(T, "Acme") if r.relation == "bank_account"] == [old.id]


def test_untrusted_facts_supersede_untrusted_ones(graph: KnowledgeGraph) -> None:
    _procurement(graph)
    _entity(graph.add_entity(T, "Customer", "Initech"))
    first = _relation(graph.add_relation(T, "Ann Lee", "works_for", "Initech",
                                         trust="untrusted"))
    # Ann's trusted employer (Globex) stays current
    assert first.superseded_by is not None
    facts = [r for r in graph.facts(T, "Ann Lee") if r.relation == "works_for"]
    assert len(facts) == 1 and facts[0].trust == "trusted"


def test_many_relations_accumulate(graph: KnowledgeGraph) -> None:
    _procurement(graph)
    _relation(graph.add_relation(T, "Acme", "supplies", "腾讯"))
    supplies = [r for r in graph.facts(T, "Acme") if r.relation == "supplies"]
    assert len(supplies) == 2 and all(r.superseded_by is None for r in supplies)


def test_entities_in_a_question_in_english_and_chinese(graph: KnowledgeGraph) -> None:
    e = _procurement(graph)
    found = graph.entities_in(T, "Did Acme Holdings or Acme bill globex for INV-7?")
    assert [x.id for x in found] == [e["acmeh"].id, e["acme"].id, e["globex"].id, e["inv"].id]
    # no match inside a longer Latin word
    assert graph.entities_in(T, "Acmeville and Globexcorp") == []
    zh = graph.entities_in(T, "华为向腾讯供货了吗？还有华为技术的发票")
    assert [x.id for x in zh] == [e["huawei"].id, e["tencent"].id]
    # full-width letters and mixed text
    assert [x.id for x in graph.entities_in(T, "ＡＣＭＥ的合同C-1")] == [e["acme"].id,
                                                                      e["contract"].id]
    assert graph.entities_in("other-tenant", "Acme") == []
    # a new alias is seen by the next question
    _entity(graph.add_entity(T, "Customer", "Globex", aliases=["环球"]))
    assert [x.id for x in graph.entities_in(T, "环球公司")] == [e["globex"].id]


def test_neighbourhood_by_hops(graph: KnowledgeGraph) -> None:
    e = _procurement(graph)
    near, rels = graph.neighbourhood(T, "Globex")
    assert near[0].id == e["globex"].id
    assert {x.id for x in near} == {e["globex"].id, e["acme"].id, e["inv"].id, e["ann"].id}
    assert {r.relation for r in rels} == {"supplies", "billed_to", "works_for"}
    two, rels2 = graph.neighbourhood(T, "Globex", hops=2)
    assert e["contract"].id in {x.id for x in two}
    assert {r.relation for r in rels2} >= {"issued", "signed"}
    alone, none = graph.neighbourhood(T, "Acme Holdings", hops=3)
    assert [x.id for x in alone] == [e["acmeh"].id] and none == []
    with pytest.raises(ConfigError, match="hops must be between 0 and 3"):
        graph.neighbourhood(T, "Globex", hops=4)


def test_paths_shortest_first(graph: KnowledgeGraph) -> None:
    e = _procurement(graph)
    paths = graph.paths(T, "Acme", "Globex")
    assert [[r.relation for r in p] for p in paths] == [["supplies"], ["issued", "billed_to"]]
    assert graph.paths(T, "Acme", "Globex", max_hops=1) == [paths[0]]
    to_contract = graph.paths(T, "Acme", "C-1", max_hops=3)
    assert [[r.relation for r in p] for p in to_contract] == [
        ["supplies", "works_for", "signed"]]
    assert graph.paths(T, "Acme", "C-1", max_hops=2) == []
    assert graph.paths(T, "Acme", "腾讯") == []
    assert graph.paths(T, e["tencent"].id, "华为")[0][0].relation == "supplies"


def test_chunks_for_scores_by_distance(graph: KnowledgeGraph) -> None:
    e = _procurement(graph)
    scores = dict(graph.chunks_for(T, [e["acme"].id]))
    assert scores["kb:acme"] == 1.0 and scores["kb:s1"] == 1.0 and scores["kb:i1"] == 1.0
    assert scores["kb:inv"] == 0.5  # where a neighbour was found
    assert set(scores) == {"kb:acme", "kb:s1", "kb:i1", "kb:inv"}
    # two hops: the neighbours' facts, scored by their nearer end
    two = dict(graph.chunks_for(T, [e["acme"].id], hops=2))
    assert two["kb:b1"] == 0.5 and two["kb:w1"] == 0.5 and "kb:c1" not in two
    deeper = graph.chunks_for(T, [e["acme"].id], hops=3)
    assert dict(deeper)["kb:c1"] == pytest.approx(1 / 3)
    assert [s for _, s in deeper] == sorted((s for _, s in deeper), reverse=True)
    assert graph.chunks_for(T, []) == []


def test_records_become_entities_and_relations(graph: KnowledgeGraph) -> None:
    _entity(graph.add_entity(T, "Customer", "Globex"))
    records: list[dict[str, Any]] = [
        {"name": "Acme Ltd", "tax": "GB1", "approved": "true", "customers": "Globex; 腾讯",
         "aka": "Acme", "chunk": "kb:row1"},
        {"name": "华为技术", "tax": "91440300", "approved": "false", "customers": ["Globex"]},
        {"name": "", "tax": "X"},
        {"name": "Bad Co", "approved": "perhaps"},
    ]
    mapping = {"type": "Supplier", "name": "name", "aliases": ["aka"], "chunk": "chunk",
               "properties": {"tax_id": "tax", "approved": "approved"},
               "relations": [{"field": "customers", "relation": "supplies",
                              "object_type": "Customer", "split": ";"}]}
    report = graph.add_records(T, records, mapping)
    assert {e.name for e in report.entities} == {"Acme Ltd", "Globex", "腾讯", "华为技术"}
    assert len(report.relations) == 3
    reasons = [r.reason for r in report.rejected]
    assert any("no 'name'" in r for r in reasons)
    assert any("'approved' of Supplier 'Bad Co' must be true or false" in r for r in reasons)
    acme = graph.find(T, "Acme")[0]
    assert acme.properties == {"tax_id": "GB1", "approved": True}
    assert acme.chunk_ids == ("kb:row1",)
    assert {r.chunk_id for r in graph.facts(T, acme)} == {"kb:row1"}
    assert report.to_json()["relations"] == 3


def test_the_ontology_is_kept_per_tenant_and_data_survives_reopening(
        database_url: str, ontology: Ontology) -> None:
    db = open_database(database_url)
    try:
        graph = KnowledgeGraph(db, ontology)
        _procurement(graph)
        graph.save_ontology(T, "procurement.yaml")
    finally:
        db.close()
    db = open_database(database_url)
    try:
        stored = KnowledgeGraph.stored_ontology(db, T)
        assert stored == ontology
        assert KnowledgeGraph.stored_ontology(db, "nobody") is None
        again = KnowledgeGraph(db, stored)
        assert [[r.relation for r in p] for p in again.paths(T, "华为技术", "腾讯")] == [
            ["supplies"]]
    finally:
        db.close()


def test_an_acronym_is_found_only_in_capitals(graph: KnowledgeGraph) -> None:
    it = _entity(graph.add_entity(T, "Organisation", "IT"))
    policy = _entity(graph.add_entity(T, "Policy", "AI Policy", aliases=["AI"]))
    assert graph.entities_in(T, "is it true that it pays?") == []
    found = graph.entities_in(T, "Does IT own it, and the AI policy?")
    assert [e.id for e in found] == [it.id, policy.id]
    assert [e.id for e in graph.entities_in(T, "ＡＩ治理")] == [policy.id]  # full-width, zh
    assert graph.entities_in(T, "what is ai") == []
    # a lower-case alias makes it findable either way
    _entity(graph.add_entity(T, "Policy", "AI Policy", aliases=["ai"]))
    assert [e.id for e in graph.entities_in(T, "what is ai")] == [policy.id]
    assert graph.find(T, "it")[0].id == it.id  # looking a name up is not matching prose


def test_concurrent_writers_leave_one_current_fact(postgres_url: str,
                                                   ontology: Ontology) -> None:
    """Two writers (a handle each, as two processes) state a supplier's bank account at once
    on PostgreSQL: the second waits for the first's transaction, then supersedes its fact —
    never two current accounts."""
    first, second = open_database(postgres_url), open_database(postgres_url)
    graph = KnowledgeGraph(first, ontology)
    _entity(graph.add_entity(T, "Supplier", "Acme Ltd"))
    for n in (1, 2):
        _entity(graph.add_entity(T, "Account", f"ACC-{n}", {"iban": f"GB0{n}"}))
    try:
        one, two = _while_waiting(
            first,
            lambda: _relation(graph.add_relation(T, "Acme Ltd", "bank_account", "ACC-1")),
            lambda: KnowledgeGraph(second, ontology).add_relation(
                T, "Acme Ltd", "bank_account", "ACC-2"))
        assert isinstance(two, Relation) and two.superseded_by is None
        current = [r for r in graph.facts(T, "Acme Ltd")]
        assert [r.id for r in current] == [two.id]
        old = next(r for r in graph.facts(T, "Acme Ltd", include_superseded=True)
                   if r.id == one.id)
        assert old.superseded_by == two.id
    finally:
        first.close()
        second.close()


def _while_waiting(first: Database, mine: Callable[[], Any], theirs: Callable[[], Any]
                   ) -> tuple[Any, Any]:
    """Run ``mine`` in a transaction of ``first``, then ``theirs`` in a thread (another
    handle: another process) until it waits for a lock the transaction holds; then commit.
    Returns both results (``theirs`` raising is re-raised)."""
    import threading
    import time

    results: list[Any] = []

    def run() -> None:
        try:
            results.append(theirs())
        except BaseException as exc:  # the thread's failure is the test's
            results.append(exc)

    with first.transaction():
        result = mine()
        thread = threading.Thread(target=run)
        thread.start()
        while thread.is_alive() and not first.query("SELECT 1 FROM pg_locks WHERE NOT granted"):
            time.sleep(0.01)  # until the other writer waits for this transaction
    thread.join()
    [other] = results
    if isinstance(other, BaseException):
        raise other
    return result, other


def _chunks(n: int) -> list[Chunk]:
    return [Chunk(id=f"kb:{i:03d}", tenant=T, document_id="doc", source="test",
                  text=f"Acme Ltd supplies Customer {i}.", position=i) for i in range(n)]


async def _mentions_acme(chunk: Chunk, ontology: Ontology) -> Candidates:
    """Every chunk names Acme Ltd (one entity mentioned everywhere) and a customer of its own."""
    customer = f"Customer {chunk.position}"
    return Candidates(entities=(EntityCandidate("Supplier", "Acme Ltd"),
                                EntityCandidate("Customer", customer)),
                      relations=(RelationCandidate("Acme Ltd", "supplies", customer),))


def test_mentions_are_rows_not_a_rewritten_list(graph: KnowledgeGraph,
                                                database: Database) -> None:
    """An entity found in many chunks gets one kg_mentions row per chunk; its own row is not
    rewritten by a mention that changes nothing else."""
    report = graph.extract(T, _chunks(40), _mentions_acme, batch=7)
    assert (len(report.entities), len(report.relations), report.rejected) == (80, 40, ())
    # in a report, an entity carries the chunk of that statement only
    assert [e.chunk_ids for e in report.entities[:4]] == [("kb:000",)] * 2 + [("kb:001",)] * 2
    acme = graph.find(T, "Acme Ltd")[0]
    assert acme.chunk_ids == tuple(c.id for c in _chunks(40))  # all of them, in order
    assert _count(database, "kg_mentions") == 80
    assert database.query_one("SELECT chunk_ids FROM kg_entities WHERE id = ?",
                              (acme.id,)) == ("[]",)
    stamp = database.query("SELECT updated_at FROM kg_entities WHERE id = ?", (acme.id,))
    graph.extract(T, [Chunk(id="kb:late", tenant=T, document_id="d", source="s", text="",
                            position=99)], _mentions_acme)
    assert database.query("SELECT updated_at FROM kg_entities WHERE id = ?",
                          (acme.id,)) == stamp
    assert graph.get(T, acme.id).chunk_ids[-1] == "kb:late"  # type: ignore[union-attr]
    # graph expansion reads the mentions: Acme's 41 chunks at distance 0
    near = graph.chunks_for(T, [acme.id], hops=0)
    assert len(near) == 41 and {score for _, score in near} == {1.0}
    assert graph.add_entity(T, "Supplier", "Acme Ltd", chunk_id="kb:000") == \
        graph.get(T, acme.id)  # a mention already known adds nothing


def test_extraction_commits_one_batch_of_chunks_at_a_time(database_url: str,
                                                          ontology: Ontology) -> None:
    """The facts of a batch of chunks are written together after the batch is extracted: an
    observer (another handle, as another process) sees them batch by batch, never midway."""
    writer, observer = open_database(database_url), open_database(database_url)
    graph = KnowledgeGraph(writer, ontology)
    seen: list[int] = []

    async def extractor(chunk: Chunk, ontology: Ontology) -> Candidates:
        row = observer.query_one("SELECT COUNT(*) FROM kg_mentions")
        seen.append(int(row[0]) if row else -1)
        return await _mentions_acme(chunk, ontology)

    try:
        report = graph.extract(T, _chunks(7), extractor, batch=3)
        assert len(report.relations) == 7
        # two mentions per chunk; chunks 0-2 land together, then 3-5, then 6
        assert seen == [0, 0, 0, 6, 6, 6, 12]
        with pytest.raises(ConfigError, match="batch must be at least 1"):
            graph.extract(T, _chunks(1), extractor, batch=0)
    finally:
        writer.close()
        observer.close()


def test_migration_3_moves_chunk_lists_to_mentions(database: Database,
                                                   ontology: Ontology) -> None:
    """A graph written by the list-per-entity schema (version 2) keeps its chunks, in order."""
    migrate(database, COMPONENT, MIGRATIONS[:2])
    id = entity_id(T, "Supplier", "Acme Ltd")
    stamp = "2026-01-01T00:00:00.000000+00:00"
    database.execute(
        "INSERT INTO kg_entities (tenant, id, type, name, norm, aliases, properties, chunk_ids, "
        "created_at, updated_at) VALUES (?, ?, 'Supplier', 'Acme Ltd', 'acme ltd', '[]', '{}', "
        "?, ?, ?)", (T, id, '["kb:b", "kb:a", "kb:c"]', stamp, stamp))
    database.execute("INSERT INTO kg_names (tenant, norm, entity_id) VALUES (?, 'acme ltd', ?)",
                     (T, id))
    graph = KnowledgeGraph(database, ontology)
    assert graph.get(T, id).chunk_ids == ("kb:b", "kb:a", "kb:c")  # type: ignore[union-attr]
    again = _entity(graph.add_entity(T, "Supplier", "Acme Ltd", chunk_id="kb:0"))
    assert again.chunk_ids == ("kb:b", "kb:a", "kb:c", "kb:0")
    assert _count(database, "kg_mentions") == 4
    assert {c for c, _ in graph.chunks_for(T, [id], hops=0)} == {"kb:a", "kb:b", "kb:c", "kb:0"}


@pytest.mark.parametrize("exists", [True, False], ids=["merge", "create"])
def test_concurrent_alias_merges_keep_both(postgres_url: str, ontology: Ontology,
                                           exists: bool) -> None:
    """Two writers (two handles, as two processes) add an alias to one entity at once on
    PostgreSQL — to an entity that exists, or both creating it: the second waits for the
    first's transaction, then merges into its row, so neither alias is lost."""
    first, second = open_database(postgres_url), open_database(postgres_url)
    graph = KnowledgeGraph(first, ontology)
    if exists:
        _entity(graph.add_entity(T, "Supplier", "Acme Ltd", {"tax_id": "GB1"}))
    try:
        _, two = _while_waiting(
            first,
            lambda: _entity(graph.add_entity(T, "Supplier", "Acme Ltd", {"tax_id": "GB2"},
                                             aliases=["艾克米"], chunk_id="kb:1")),
            lambda: KnowledgeGraph(second, ontology).add_entity(
                T, "Supplier", "Acme Ltd", {"country": "UK"}, aliases=["ACME UK"],
                chunk_id="kb:2"))
        assert isinstance(two, Entity), two
        acme = graph.find(T, "Acme Ltd")[0]
        assert acme.aliases == ("艾克米", "ACME UK")
        assert acme.properties == {"tax_id": "GB2", "country": "UK"}
        assert acme.chunk_ids == ("kb:1", "kb:2")
        assert [e.id for e in graph.entities_in(T, "ask ACME UK or 艾克米")] == [acme.id]
    finally:
        first.close()
        second.close()
