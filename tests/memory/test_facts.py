"""Factual memory: explicit supersession, write keys that make a write happen once, and an
untrusted fact that never silently replaces a trusted one."""

from __future__ import annotations

import pytest

from agentplane.knowledge.shaping import render_packet, shape
from agentplane.memory import InvalidMemoryError, Memory, MemoryStore, memory_item

T = "acme"


def _iban(memories: MemoryStore, value: str, trust: str = "trusted", **kw: object) -> Memory:
    return memories.remember_fact(T, "supplier:globex", "iban", value, source="erp",
                                  trust=trust, created_by="user:ops", **kw)  # type: ignore[arg-type]


def test_a_newer_fact_supersedes_the_older_one_explicitly(memories: MemoryStore) -> None:
    old = _iban(memories, "DE01 1111")
    new = _iban(memories, "DE02 2222")
    assert new.supersedes == old.id
    stored_old = memories.get(T, old.id)
    assert stored_old is not None
    assert stored_old.status == "superseded"
    assert stored_old.superseded_by == new.id
    assert [m.id for m in memories.list(T, subject="supplier:globex", status="active")] == [new.id]
    recalled = memories.recall(T, "globex iban")
    assert [m.id for m, _ in recalled] == [new.id]
    assert recalled[0][0].value == "DE02 2222"
    # A superseded fact leaves the lexical index too.
    assert old.id not in {i for i, _ in memories.index.search(T, "globex iban")}
    # Remembering what is known already (same value, as trusted) changes nothing.
    assert _iban(memories, "DE02 2222") == new
    assert _iban(memories, "DE02 2222", trust="untrusted") == new
    assert len(memories.list(T)) == 2
    # Another relation of the same subject is left alone.
    other = memories.remember_fact(T, "supplier:globex", "language", "de", source="erp",
                                   trust="trusted", created_by="user:ops")
    assert memories.get(T, new.id).status == "active"  # type: ignore[union-attr]
    assert other.supersedes is None


def test_a_write_key_makes_a_write_happen_once(memories: MemoryStore) -> None:
    first = memories.write(Memory(id="", tenant=T, kind="experiential", text="refund went fine",
                                  subject="customer:7"), key="run:r1/summary")
    again = memories.write(Memory(id="", tenant=T, kind="experiential", text="something else",
                                  subject="customer:7"), key="run:r1/summary")
    assert again == first
    assert len(memories.list(T)) == 1
    # A replayed fact write neither adds a row nor supersedes the fact it wrote itself.
    fact = _iban(memories, "DE01 1111", key="run:r2/remember.1")
    replay = _iban(memories, "DE01 1111", key="run:r2/remember.1")
    assert replay == fact
    assert memories.get(T, fact.id).status == "active"  # type: ignore[union-attr]
    assert len(memories.list(T, kind="factual")) == 1
    # The same key in another tenant is another write.
    elsewhere = memories.write(Memory(id="", tenant="other", kind="experiential", text="x"),
                               key="run:r1/summary")
    assert elsewhere.id != first.id
    assert memories.get(T, elsewhere.id) is None


def test_an_untrusted_fact_is_kept_beside_the_trusted_one(memories: MemoryStore) -> None:
    trusted = _iban(memories, "DE01 1111")
    injected = _iban(memories, "XX99 6666", trust="untrusted")
    assert injected.supersedes is None
    assert memories.get(T, trusted.id).status == "active"  # type: ignore[union-attr]
    recalled = memories.recall(T, "globex iban")
    assert {m.id: m.trust for m, _ in recalled} == {trusted.id: "trusted",
                                                    injected.id: "untrusted"}
    # Context shaping keeps the trusted value and tells the model the sources disagree.
    packet = shape("globex iban", [memory_item(m, s) for m, s in recalled], budget_tokens=500)
    assert [i.id for i in packet.items] == [trusted.id]
    assert packet.items[0].trust == "trusted"
    assert len(packet.conflicts) == 1
    assert packet.conflicts[0].kept == trusted.id
    assert packet.conflicts[0].dropped == (injected.id,)
    rendered = render_packet(packet)
    assert "sources disagree on supplier:globex's iban" in rendered
    assert f"[{injected.id}] (memory" not in rendered  # not shown as context, only as disputed
    # A later untrusted fact replaces the earlier untrusted one, never the trusted one.
    second = _iban(memories, "XX88 7777", trust="untrusted")
    assert second.supersedes == injected.id
    assert memories.get(T, injected.id).status == "superseded"  # type: ignore[union-attr]
    assert memories.get(T, trusted.id).status == "active"  # type: ignore[union-attr]
    # A new trusted fact supersedes every active one, naming the trusted one it replaces.
    fixed = _iban(memories, "DE03 3333")
    assert fixed.supersedes == trusted.id
    assert [m.id for m in memories.list(T, subject="supplier:globex", status="active")] == [
        fixed.id]
    assert memories.get(T, second.id).superseded_by == fixed.id  # type: ignore[union-attr]


def test_memory_item_carries_the_fact_and_its_trust(memories: MemoryStore) -> None:
    fact = memories.remember_fact(T, "customer:7", "credit_limit", {"eur": 500}, source="crm",
                                  trust="untrusted", created_by="agent:desk",
                                  valid_from="2026-01-01")
    item = memory_item(fact, 1.5)
    assert (item.id, item.kind, item.trust, item.score) == (fact.id, "memory", "untrusted", 1.5)
    assert (item.subject, item.relation, item.value) == ("customer:7", "credit_limit",
                                                         '{"eur":500}')
    assert item.time == "2026-01-01T00:00:00.000000Z"
    summary = memories.write(Memory(id="", tenant=T, kind="experiential", text="a run",
                                    subject="customer:7", relation="run"))
    plain = memory_item(summary)
    assert (plain.subject, plain.relation, plain.value) == (None, None, None)


def test_validity_bounds_recall(memories: MemoryStore) -> None:
    past = memories.remember_fact(T, "customer:1", "tier", "gold", source="crm",
                                  trust="trusted", created_by="user:a",
                                  valid_until="2020-01-01T00:00:00Z")
    future = memories.remember_fact(T, "customer:2", "tier", "gold", source="crm",
                                    trust="trusted", created_by="user:a",
                                    valid_from="2999-01-01")
    now = memories.remember_fact(T, "customer:3", "tier", "gold", source="crm",
                                 trust="trusted", created_by="user:a")
    assert [m.id for m, _ in memories.recall(T, "tier gold")] == [now.id]
    at_2019 = memories.recall(T, "tier gold", now="2019-06-01")
    assert {m.id for m, _ in at_2019} == {past.id, now.id}
    assert future.valid_from == "2999-01-01T00:00:00.000000Z"


def test_bad_input_is_refused_saying_what(memories: MemoryStore) -> None:
    with pytest.raises(InvalidMemoryError, match="valid_from 'yesterday'"):
        _iban(memories, "x", valid_from="yesterday")
    with pytest.raises(InvalidMemoryError, match="kind 'semantic'"):
        memories.write(Memory(id="", tenant=T, kind="semantic", text="x"))  # type: ignore[arg-type]
    with pytest.raises(InvalidMemoryError, match="confidence"):
        _iban(memories, "x", confidence=1.5)
    with pytest.raises(InvalidMemoryError, match="value is not JSON"):
        memories.write(Memory(id="", tenant=T, kind="experiential", text="x", value={1, 2}))
    with pytest.raises(InvalidMemoryError, match="needs a subject and a relation"):
        memories.remember_fact(T, "", "iban", "x", source="s", trust="trusted", created_by="u")
    assert memories.list(T) == []


def test_a_fact_written_as_a_memory_supersedes_too(memories: MemoryStore) -> None:
    def fact(value: str) -> Memory:
        return Memory(id="", tenant=T, kind="factual", text=f"customer 7 speaks {value}",
                      subject="customer:7", relation="language", value=value, source="crm")

    first = memories.write(fact("de"))
    second = memories.write(fact("zh"), key="import:1")
    assert second.supersedes == first.id
    assert memories.write(fact("fr"), key="import:1") == second
    assert [m.value for m in memories.list(T, status="active")] == ["zh"]
