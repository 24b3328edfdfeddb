"""The BM25 index in the database, on SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest

from agentplane.knowledge.lexical import LexicalIndex, StaleIndexError
from agentplane.knowledge.text import TOKENIZER_VERSION, tokens
from agentplane.storage import Database, open_database

DOCS = [
    ("a", "退款需要在三十天内申请，客户必须提供发票。"),
    ("b", "Refunds are paid within five working days of approval."),
    ("c", "人工智能平台的价格在2026年上涨了14.6%。"),
    ("d", "The invoice must name the supplier and the amount."),
    ("e", "Supplier onboarding needs a signed contract and a bank account."),
]


@pytest.fixture
def index(database: Database) -> LexicalIndex:
    ix = LexicalIndex(database, "kb")
    ix.add("t1", DOCS)
    return ix


def ids(found: list[tuple[str, float]]) -> list[str]:
    return [i for i, _ in found]


def test_chinese_and_english_queries_find_their_items(index: LexicalIndex) -> None:
    assert ids(index.search("t1", "退款 发票"))[0] == "a"
    assert ids(index.search("t1", "智能"))[0] == "c"  # a part of 人工智能
    assert ids(index.search("t1", "价格上涨 14.6"))[0] == "c"
    assert ids(index.search("t1", "refunds approval"))[0] == "b"
    assert set(ids(index.search("t1", "supplier"))) == {"d", "e"}


def test_scores_are_best_first_and_limited(index: LexicalIndex) -> None:
    found = index.search("t1", "supplier invoice amount", limit=2)
    assert ids(found) == ["d", "e"]
    assert found[0][1] > found[1][1] > 0


def test_no_match_and_empty_queries_give_nothing(index: LexicalIndex) -> None:
    assert index.search("t1", "zebra") == []
    assert index.search("t1", "。，the") == []
    assert index.search("t1", "supplier", limit=0) == []


def test_tenants_are_isolated(index: LexicalIndex) -> None:
    assert index.search("t2", "supplier") == []
    index.add("t2", [("x", "supplier of tea")])
    assert ids(index.search("t2", "supplier")) == ["x"]
    assert "x" not in ids(index.search("t1", "supplier"))
    assert index.size("t1") == 5 and index.size("t2") == 1


def test_indexes_of_different_components_are_separate(database: Database,
                                                      index: LexicalIndex) -> None:
    memory = LexicalIndex(database, "memory")
    assert memory.search("t1", "supplier") == []
    memory.add("t1", [("m1", "supplier prefers email")])
    assert ids(memory.search("t1", "supplier")) == ["m1"]
    assert "m1" not in ids(index.search("t1", "supplier"))


def test_remove_takes_items_out_and_keeps_statistics_exact(index: LexicalIndex,
                                                           database: Database) -> None:
    index.remove("t1", ["d", "missing"])
    assert ids(index.search("t1", "supplier")) == ["e"]
    assert index.size("t1") == 4
    df = database.query_one("SELECT df FROM lexical_terms WHERE ix = 'kb' AND tenant = 't1' "
                            "AND term = 'supplier'")
    assert df is not None and int(df[0]) == 1
    # A term no item has any more leaves the vocabulary.
    assert database.query_one("SELECT df FROM lexical_terms WHERE term = 'invoice'") is None
    index.remove("t1", [i for i, _ in DOCS])
    assert index.size("t1") == 0
    assert database.query("SELECT * FROM lexical_postings") == []


def test_re_adding_an_id_replaces_its_text(index: LexicalIndex) -> None:
    index.add("t1", [("b", "Refunds are now paid in cash.")])
    assert ids(index.search("t1", "cash")) == ["b"]
    assert index.search("t1", "approval") == []
    assert index.size("t1") == 5


def test_among_restricts_the_answer(index: LexicalIndex) -> None:
    assert ids(index.search("t1", "supplier", among=["e", "a"])) == ["e"]
    assert index.search("t1", "supplier", among=[]) == []


def test_the_index_survives_reopening(database_url: str) -> None:
    first = open_database(database_url)
    LexicalIndex(first, "kb").add("t1", DOCS)
    first.close()
    second = open_database(database_url)
    try:
        assert ids(LexicalIndex(second, "kb").search("t1", "退款"))[0] == "a"
    finally:
        second.close()


def test_a_failed_transaction_leaves_the_index_unchanged(index: LexicalIndex,
                                                         database: Database) -> None:
    def add_then_fail() -> None:
        with database.transaction():
            index.add("t1", [("z", "zebra crossing")])
            raise RuntimeError("the caller's write failed")

    with pytest.raises(RuntimeError):
        add_then_fail()
    assert index.search("t1", "zebra") == []
    assert index.size("t1") == 5


def test_common_terms_are_scored_in_two_phases(database: Database,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    import agentplane.knowledge.lexical as lexical

    ix = LexicalIndex(database, "kb")
    ix.add("t", [(f"i{n}", f"order {n} shipped" + (" urgent" if n % 7 == 0 else ""))
                 for n in range(60)])
    exact = ix.search("t", "urgent order", limit=5)
    monkeypatch.setattr(lexical, "POSTINGS_BUDGET", 10)  # "order" (60 postings) is common
    monkeypatch.setattr(lexical, "CANDIDATES", 5)
    assert ix.search("t", "urgent order", limit=5) == exact
    assert all(int(i[1:]) % 7 == 0 for i in ids(exact))


def test_among_larger_than_one_batch(database: Database) -> None:
    ix = LexicalIndex(database, "kb")
    ix.add("t", [(f"i{n:04d}", f"item {n} teapot") for n in range(1200)])
    among = [f"i{n:04d}" for n in range(0, 1200, 2)]  # 600 ids: two batches
    found = ix.search("t", "teapot", limit=1000, among=among)
    assert sorted(ids(found)) == sorted(among)


# -- tokeniser versions: an index never mixes two tokenisations ------------------------------

def _old_index(database: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tenant t1's index as a previous tokeniser (no stemming, version "1") built it."""
    import agentplane.knowledge.lexical as lexical

    with monkeypatch.context() as patch:
        patch.setattr(lexical, "TOKENIZER_VERSION", "1")
        patch.setattr(lexical, "tokens", lambda text: text.lower().replace(".", "").split())
        LexicalIndex(database, "kb").add("t1", DOCS)


def _terms(database: Database, item: str) -> list[str]:
    row = database.query_one("SELECT terms FROM lexical_items WHERE ix = 'kb' AND tenant = 't1' "
                             "AND item = ?", (item,))
    assert row is not None
    return list(json.loads(row[0]))


def test_a_new_index_records_the_tokeniser_version(index: LexicalIndex) -> None:
    assert index.version("t1") == TOKENIZER_VERSION
    assert index.version("nobody") is None


def test_an_index_of_another_tokeniser_is_refused_without_its_texts(
        database: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    _old_index(database, monkeypatch)
    before = _terms(database, "b")
    ix = LexicalIndex(database, "kb")
    with pytest.raises(StaleIndexError, match=r"'kb' of tenant 't1'.* version 1.*rebuild"):
        ix.search("t1", "refund")
    with pytest.raises(StaleIndexError):
        ix.add("t1", [("f", "Refunds of refunds")])
    assert _terms(database, "b") == before and ix.size("t1") == 5  # nothing mixed in
    assert LexicalIndex(database, "kb").search("t2", "refund") == []  # other tenants unaffected


def test_an_index_of_another_tokeniser_is_rebuilt_from_its_texts(
        database: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    _old_index(database, monkeypatch)
    assert "refunds" in _terms(database, "b")
    ix = LexicalIndex(database, "kb", texts=lambda tenant: DOCS)
    assert ids(ix.search("t1", "refund paid"))[0] == "b"  # stemmed query, stemmed index
    assert ix.version("t1") == TOKENIZER_VERSION
    for item, text in DOCS:
        assert _terms(database, item) == sorted(set(tokens(text)))
    assert ix.size("t1") == 5


def test_a_write_rebuilds_a_stale_index_before_adding(
        database: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    _old_index(database, monkeypatch)
    ix = LexicalIndex(database, "kb", texts=lambda tenant: DOCS)
    ix.add("t1", [("f", "Suppliers are paid monthly")])
    assert ix.size("t1") == 6 and ix.version("t1") == TOKENIZER_VERSION
    assert _terms(database, "e") == sorted(set(tokens(DOCS[4][1])))
    assert set(ids(ix.search("t1", "supplier"))) == {"d", "e", "f"}


def test_an_index_from_before_versions_were_recorded_counts_as_version_1(
        index: LexicalIndex, database: Database) -> None:
    database.execute("UPDATE lexical_stats SET tokenizer = NULL")
    with pytest.raises(StaleIndexError, match="version 1"):
        LexicalIndex(database, "kb").search("t1", "supplier")


def test_an_empty_index_of_another_version_is_only_restamped(database: Database) -> None:
    ix = LexicalIndex(database, "kb")
    ix.add("t1", [("a", "teapot")])
    ix.remove("t1", ["a"])
    database.execute("UPDATE lexical_stats SET tokenizer = '1'")
    fresh = LexicalIndex(database, "kb")
    fresh.add("t1", [("b", "teapots")])
    assert fresh.version("t1") == TOKENIZER_VERSION and ids(fresh.search("t1", "teapot")) == ["b"]
