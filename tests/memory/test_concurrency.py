"""Two processes' worth of writers on one database: facts about one subject and relation never
end up with two active trusted values, and one write key is written once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from agentplane.memory import Memory, MemoryStore
from agentplane.storage import open_database

T = "acme"
WRITERS, EACH = 4, 8


def _stores(url: str) -> list[MemoryStore]:
    return [MemoryStore(open_database(url)) for _ in range(WRITERS)]


def test_concurrent_facts_leave_one_active(database_url: str) -> None:
    stores = _stores(database_url)
    try:
        def write(n: int) -> list[str]:
            return [stores[n].remember_fact(T, "supplier:globex", "iban", f"DE{n}{i}",
                                            source=f"writer {n}", trust="trusted",
                                            created_by="user:ops").id for i in range(EACH)]

        with ThreadPoolExecutor(WRITERS) as pool:
            written = [i for ids in pool.map(write, range(WRITERS)) for i in ids]
        facts = {m.id: m for m in stores[0].list(T, limit=1000)}
        assert set(facts) == set(written)
        active = [m for m in facts.values() if m.status == "active"]
        assert len(active) == 1
        # Every other fact was superseded by a fact that exists, and each supersedes link
        # points at a fact that says it was superseded by it.
        for m in facts.values():
            if m.status == "superseded":
                assert m.superseded_by in facts
                assert facts[m.superseded_by].supersedes == m.id
        assert sum(1 for m in facts.values() if m.supersedes is None) == 1
    finally:
        for s in stores:
            s.db.close()


def test_one_write_key_is_written_once(database_url: str) -> None:
    stores = _stores(database_url)
    try:
        def write(n: int) -> str:
            return stores[n].write(Memory(id="", tenant=T, kind="experiential",
                                          text=f"summary from writer {n}"),
                                   key="run:r1/summary").id

        with ThreadPoolExecutor(WRITERS) as pool:
            ids = set(pool.map(write, range(WRITERS)))
        assert len(ids) == 1
        assert len(stores[0].list(T)) == 1
        assert stores[0].index.size(T) == 1
    finally:
        for s in stores:
            s.db.close()
