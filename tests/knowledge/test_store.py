"""The knowledge base on SQLite and PostgreSQL: ingest, supersede, remove, filters, tenants."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from agentplane.knowledge.loaders import IngestError
from agentplane.knowledge.store import KnowledgeBase, chunk_id
from agentplane.knowledge.text import TOKENIZER_VERSION
from agentplane.storage import Database, open_database

from .pdfs import encrypted_pdf, text_pdf

GUIDE = """# Refunds

Refunds are paid within five working days of approval.

## 退款

退款需要在三十天内申请，客户必须提供发票。
"""


@pytest.fixture
def kb(database: Database) -> KnowledgeBase:
    return KnowledgeBase(database)


def found(kb: KnowledgeBase, query: str, tenant: str = "t1", **filters: object) -> list[str]:
    return [c.id for c, _ in kb.lexical(tenant, query, **filters)]  # type: ignore[arg-type]


def test_a_document_becomes_chunks_with_provenance(kb: KnowledgeBase) -> None:
    result = kb.add("t1", "guide.md", GUIDE, trust="untrusted", owner="ops",
                    valid_from="2026-01-01", valid_until="2027-01-01T00:00:00+08:00")
    doc = result.document
    assert (result.added, result.removed, result.unchanged, result.superseded) == (2, 0, False,
                                                                                    None)
    assert doc.id.startswith("doc:") and doc.chunks == 2 and doc.media_type == "text/markdown"
    assert doc.valid_from == "2026-01-01T00:00:00.000000Z"
    assert doc.valid_until == "2026-12-31T16:00:00.000000Z"
    chunks = kb.document_chunks("t1", doc.id)
    assert [c.title for c in chunks] == ["Refunds", "Refunds > 退款"]
    first = chunks[0]
    assert first.id == chunk_id("t1", doc.id, 0, first.text) and first.id.startswith("kb:")
    assert (first.source, first.trust, first.owner, first.document_id) == ("guide.md",
                                                                          "untrusted", "ops",
                                                                          doc.id)
    assert first.ingested_at == doc.ingested_at and first.valid_from == doc.valid_from
    assert kb.chunks("t1", [chunks[1].id, "kb:missing", chunks[0].id]) == [chunks[1], chunks[0]]


def test_chinese_and_english_queries(kb: KnowledgeBase) -> None:
    doc = kb.add("t1", "guide.md", GUIDE).document
    chunks = kb.document_chunks("t1", doc.id)
    assert found(kb, "退款 发票")[0] == chunks[1].id
    assert found(kb, "how fast are refunds paid")[0] == chunks[0].id
    assert found(kb, "zebra") == []


def test_same_content_again_changes_nothing(kb: KnowledgeBase, database: Database) -> None:
    first = kb.add("t1", "guide.md", GUIDE)
    again = kb.add("t1", "guide.md", GUIDE.encode())
    assert again.unchanged and again.added == 0 and again.document == first.document
    assert len(kb.documents("t1", include_superseded=True)) == 1
    assert database.query_one("SELECT COUNT(*) FROM kb_chunks") == (2,)


def test_changed_content_supersedes_the_old_document(kb: KnowledgeBase) -> None:
    old = kb.add("t1", "guide.md", GUIDE).document
    old_chunks = kb.document_chunks("t1", old.id)
    new = kb.add("t1", "guide.md", GUIDE.replace("five", "ten"))
    assert (new.superseded, new.removed, new.added) == (old.id, 2, 2)
    assert found(kb, "five working days") != [old_chunks[0].id]
    assert all(c not in found(kb, "refunds 退款") for c in (x.id for x in old_chunks))
    assert [d.id for d in kb.documents("t1")] == [new.document.id]
    history = kb.documents("t1", include_superseded=True)
    assert {(d.id, d.superseded_by) for d in history} == {(old.id, new.document.id),
                                                         (new.document.id, None)}
    # Old chunks stay readable: an old context packet can still be explained.
    assert kb.chunks("t1", [old_chunks[0].id])[0].text == old_chunks[0].text
    # Going back to the first content makes the first version current again.
    back = kb.add("t1", "guide.md", GUIDE)
    assert back.document.id == old.id and back.superseded == new.document.id
    assert old_chunks[0].id in found(kb, "five working days")


def test_changed_provenance_is_a_new_version(kb: KnowledgeBase) -> None:
    kb.add("t1", "guide.md", GUIDE)
    result = kb.add("t1", "guide.md", GUIDE, trust="untrusted")
    assert not result.unchanged and result.superseded is not None
    assert {c.trust for c, _ in kb.lexical("t1", "refunds")} == {"untrusted"}


def test_remove_by_id_or_source(kb: KnowledgeBase) -> None:
    first = kb.add("t1", "guide.md", GUIDE).document
    kb.add("t1", "guide.md", GUIDE + "\nMore.")
    kb.add("t1", "other.txt", "Refunds for other things.")
    assert kb.remove("t1", "guide.md") == 4  # both versions' chunks
    assert kb.documents("t1", source="guide.md", include_superseded=True) == []
    assert kb.document_chunks("t1", first.id) == []
    assert {c.source for c, _ in kb.lexical("t1", "refunds")} == {"other.txt"}
    doc = kb.documents("t1")[0]
    assert kb.remove("t1", doc.id) == 1
    assert kb.remove("t1", "nothing") == 0
    assert kb.lexical("t1", "refunds") == []


def test_tenants_are_isolated(kb: KnowledgeBase) -> None:
    a = kb.add("t1", "guide.md", GUIDE).document
    kb.add("t2", "guide.md", GUIDE.replace("five", "ten"))
    assert {c.tenant for c, _ in kb.lexical("t2", "refunds")} == {"t2"}
    assert kb.chunks("t2", [c.id for c in kb.document_chunks("t1", a.id)]) == []
    assert kb.remove("t2", a.id) == 0
    assert kb.documents("t1")[0].id == a.id


def test_filters_trust_sources_validity_and_since(kb: KnowledgeBase) -> None:
    kb.add("t1", "policy-2025.md", "Refund window is 14 days.", valid_from="2025-01-01",
           valid_until="2026-01-01")
    kb.add("t1", "policy-2026.md", "Refund window is 30 days.", valid_from="2026-01-01")
    web = kb.add("t1", "forum.html", "<p>Refund window is 90 days, trust me.</p>",
                 trust="untrusted").document

    def sources(**filters: object) -> set[str]:
        return {c.source for c, _ in kb.lexical("t1", "refund window", **filters)}  # type: ignore[arg-type]

    assert sources() == {"policy-2025.md", "policy-2026.md", "forum.html"}
    assert sources(trust="trusted") == {"policy-2025.md", "policy-2026.md"}
    assert sources(trust="untrusted") == {"forum.html"}
    assert sources(sources=["forum.html", "policy-2025.md"]) == {"forum.html", "policy-2025.md"}
    assert sources(sources=[]) == set()
    assert sources(valid_at="2025-06-01") == {"policy-2025.md", "forum.html"}
    assert sources(valid_at="2026-01-01T00:00:00Z") == {"policy-2026.md", "forum.html"}
    assert sources(since=web.ingested_at) == set()
    assert sources(since="2000-01-01") == {"policy-2025.md", "policy-2026.md", "forum.html"}
    with pytest.raises(IngestError, match="valid_at: 'yesterday' is not an ISO-8601"):
        kb.lexical("t1", "refund", valid_at="yesterday")


def test_filters_look_past_the_first_page(kb: KnowledgeBase) -> None:
    kb.add_records("t1", "noise.json", [{"n": n, "text": "refund refund noise"}
                                        for n in range(30)])
    kb.add("t1", "rare.md", "A refund, once.", trust="untrusted")
    hits = kb.lexical("t1", "refund", limit=2, trust="untrusted")
    assert [c.source for c, _ in hits] == ["rare.md"]


def test_records_one_chunk_each_with_the_record_as_meta(kb: KnowledgeBase) -> None:
    records = [{"id": "S1", "name": "Acme", "city": "Paris"},
               {"id": "S2", "name": "北方公司", "city": "北京"}]
    result = kb.add_records("t1", "suppliers", records, key="id", owner="buyers")
    chunks = kb.document_chunks("t1", result.document.id)
    assert [c.text for c in chunks] == ["id: S1\nname: Acme\ncity: Paris",
                                        "id: S2\nname: 北方公司\ncity: 北京"]
    assert [c.title for c in chunks] == ["S1", "S2"] and chunks[1].meta == records[1]
    assert found(kb, "北京")[0] == chunks[1].id
    assert kb.add_records("t1", "suppliers", list(records), key="id", owner="buyers").unchanged
    with pytest.raises(IngestError, match="suppliers: record 2 has no field 'code'"):
        kb.add_records("t1", "suppliers", [{"code": 1}, {"id": 2}], key="code")


def test_files_of_each_kind(kb: KnowledgeBase, tmp_path: Path) -> None:
    tmp_path = tmp_path / "docs"
    tmp_path.mkdir()
    (tmp_path / "a.txt").write_text("Plain text about invoices.", encoding="utf-8")
    (tmp_path / "b.md").write_text(GUIDE, encoding="utf-8")
    (tmp_path / "c.html").write_text("<title>Page</title><h1>Tea</h1><p>Green tea.</p>",
                                     encoding="utf-8")
    (tmp_path / "d.pdf").write_bytes(text_pdf(["Shipping takes 3 days."]))
    (tmp_path / "e.csv").write_text("sku,item\nX1,Teapot\nX2,Kettle\n", encoding="utf-8")
    (tmp_path / "f.json").write_text(json.dumps([{"sku": "Y1", "item": "Cup"}]),
                                     encoding="utf-8")
    added = {p.name: kb.add_file("t1", p) for p in sorted(tmp_path.iterdir())}
    assert {n: r.added for n, r in added.items()} == {"a.txt": 1, "b.md": 2, "c.html": 1,
                                                      "d.pdf": 1, "e.csv": 2, "f.json": 1}
    assert added["c.html"].document.title == "Page"
    assert added["e.csv"].document.media_type == "text/csv"
    assert kb.lexical("t1", "shipping")[0][0].source == str(tmp_path / "d.pdf")
    assert kb.lexical("t1", "kettle")[0][0].meta == {"sku": "X2", "item": "Kettle"}
    named = kb.add_file("t1", tmp_path / "a.txt", source="handbook")
    assert named.document.source == "handbook"


@pytest.mark.parametrize(("name", "content", "message"), [
    ("bad.txt", b"caf\xe9", r"bad\.txt: not UTF-8 text"),
    ("locked.pdf", None, r"locked\.pdf: the PDF is encrypted"),
    ("broken.pdf", b"%PDF-1.4 nothing", r"broken\.pdf: not a readable PDF"),
    ("rows.csv", b"1,2\n3,4\n", r"rows\.csv: the CSV has no header"),
    ("empty.md", b"  \n\n", r"empty\.md: the document has no text"),
])
def test_bad_files_are_refused_and_leave_nothing(kb: KnowledgeBase, database: Database,
                                                 tmp_path: Path, name: str,
                                                 content: bytes | None, message: str) -> None:
    kb.add("t1", "kept.md", GUIDE)
    file = tmp_path / "in" / name
    file.parent.mkdir()
    file.write_bytes(content if content is not None else encrypted_pdf(["x"]))
    with pytest.raises(IngestError, match=message):
        kb.add_file("t1", file)
    assert [d.source for d in kb.documents("t1", include_superseded=True)] == ["kept.md"]
    assert database.query_one("SELECT COUNT(*) FROM kb_chunks") == (2,)


def test_missing_file_and_bad_provenance(kb: KnowledgeBase, tmp_path: Path) -> None:
    with pytest.raises(IngestError, match=r"nope\.md: cannot read it"):
        kb.add_file("t1", tmp_path / "nope.md")
    with pytest.raises(IngestError, match=r"valid_until .* is not after valid_from"):
        kb.add("t1", "x.md", "text", valid_from="2026-02-01", valid_until="2026-01-01")
    with pytest.raises(IngestError, match="trust must be 'trusted' or 'untrusted'"):
        kb.add("t1", "x.md", "text", trust="maybe")  # type: ignore[arg-type]
    assert kb.documents("t1") == []


def test_a_failed_write_rolls_back_the_whole_document(kb: KnowledgeBase,
                                                      database: Database) -> None:
    kb.add("t1", "guide.md", GUIDE)
    def add_then_fail() -> None:
        with database.transaction():
            kb.add("t1", "guide.md", GUIDE.replace("five", "ten"))
            raise RuntimeError("the caller failed after adding")

    with pytest.raises(RuntimeError):
        add_then_fail()
    assert len(kb.documents("t1", include_superseded=True)) == 1
    assert found(kb, "five working days")
    assert database.query_one("SELECT COUNT(*) FROM kb_chunks") == (2,)


def _in_threads(database_url: str, write: Callable[[KnowledgeBase, str], None],
                args: list[str]) -> list[BaseException]:
    """Run ``write(kb, arg)`` for each arg at once, each on a handle of its own; returns
    what they raised."""
    import threading

    errors: list[BaseException] = []

    def run(arg: str) -> None:
        handle = open_database(database_url)
        try:
            write(KnowledgeBase(handle), arg)
        except BaseException as exc:  # reported by the caller
            errors.append(exc)
        finally:
            handle.close()

    threads = [threading.Thread(target=run, args=(arg,)) for arg in args]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def test_two_writers_of_one_source_leave_one_current_version(database_url: str) -> None:
    import threading

    KnowledgeBase(open_database(database_url)).add("t1", "guide.md", GUIDE)
    barrier = threading.Barrier(2)

    def write(kb: KnowledgeBase, text: str) -> None:
        barrier.wait()
        kb.add("t1", "guide.md", text)

    assert _in_threads(database_url, write,
                       [GUIDE.replace("five", word) for word in ("six", "seven")]) == []
    check = open_database(database_url)
    try:
        kb = KnowledgeBase(check)
        assert len(kb.documents("t1")) == 1
        assert len(kb.documents("t1", include_superseded=True)) == 3
        current = kb.documents("t1")[0]
        assert {c.document_id for c, _ in kb.lexical("t1", "refunds 退款")} == {current.id}
    finally:
        check.close()


def test_writers_of_different_sources_run_side_by_side(database_url: str) -> None:
    def write(kb: KnowledgeBase, source: str) -> None:
        for n in range(6):  # each add after the first supersedes: a remove and an add
            kb.add("t1", source, GUIDE.replace("five", f"{n} and {source}"))

    KnowledgeBase(open_database(database_url))  # tables first: writers only write
    assert _in_threads(database_url, write, [f"guide-{n}.md" for n in range(3)]) == []
    check = open_database(database_url)
    try:
        kb = KnowledgeBase(check)
        assert len(kb.documents("t1")) == 3
        assert kb.index.size("t1") == 6
        assert {c.source for c, _ in kb.lexical("t1", "refunds", limit=10)} == {
            "guide-0.md", "guide-1.md", "guide-2.md"}
    finally:
        check.close()


def test_an_index_of_another_tokeniser_version_is_rebuilt_from_the_chunks(
        database: Database) -> None:
    kb = KnowledgeBase(database)
    kb.add("t1", "guide.md", GUIDE)
    kb.add("t1", "old.md", "Refunds used to take a month.")
    kb.add("t1", "old.md", "Refunds take a week now.")  # supersedes: its chunks leave search
    # As an earlier tokeniser left it: another version and none of today's terms.
    database.execute("UPDATE lexical_stats SET tokenizer = '1'")
    database.execute("DELETE FROM lexical_postings")
    database.execute("DELETE FROM lexical_terms")
    again = KnowledgeBase(database)
    hits = [c for c, _ in again.lexical("t1", "refunds")]
    assert {c.source for c in hits} == {"guide.md", "old.md"}
    assert not any("month" in c.text for c in hits)
    assert again.index.size("t1") == len(hits) == 3  # the current chunks only
    assert again.index.version("t1") == TOKENIZER_VERSION
