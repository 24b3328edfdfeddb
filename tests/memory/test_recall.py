"""Recall: lexical ranking in Chinese and English, filters, and tenants kept apart."""

from __future__ import annotations

from agentplane.memory import Memory, MemoryStore
from agentplane.memory.store import EXACT_AMONG

T = "acme"

_EXPERIENCES = {
    "invoice": "Supplier Globex invoice 4411 needed approval because the amount was over the "
               "limit; finance approved it.",
    "refund": "Customer 7 asked for a refund of a damaged kettle; refunded in full.",
    "outage": "The payment gateway timed out twice; the run retried and completed.",
    "发票": "供应商环球公司的发票金额超过限额，需要财务审批后才能付款。",
    "退款": "客户投诉水壶损坏，申请退款，已全额退款。",
    "合同": "合同续签时法务要求补充保密条款。",
}


def _seed(memories: MemoryStore) -> dict[str, str]:
    ids = {}
    for name, text in _EXPERIENCES.items():
        ids[name] = memories.write(Memory(id="", tenant=T, kind="experiential", text=text,
                                          source=f"run:{name}")).id
    return ids


def test_recall_ranks_by_similarity_in_english_and_chinese(memories: MemoryStore) -> None:
    ids = _seed(memories)
    english = memories.recall(T, "Globex sent another invoice over the limit", limit=3)
    assert english[0][0].id == ids["invoice"]
    assert english[0][1] > (english[1][1] if len(english) > 1 else 0.0)
    assert memories.recall(T, "refund for a broken kettle")[0][0].id == ids["refund"]
    chinese = memories.recall(T, "这张发票需要审批吗", limit=3)
    assert chinese[0][0].id == ids["发票"]
    assert memories.recall(T, "客户要求退款")[0][0].id == ids["退款"]
    assert memories.recall(T, "合同 保密条款", limit=1)[0][0].id == ids["合同"]
    assert memories.recall(T, "kubernetes") == []
    assert len(memories.recall(T, "invoice", limit=1)) == 1


def test_recall_filters_by_kind_subject_and_trust(memories: MemoryStore) -> None:
    fact = memories.remember_fact(T, "customer:7", "preferred_language", "zh",
                                  text="customer 7 prefers Chinese", source="crm",
                                  trust="trusted", created_by="user:a")
    note = memories.write(Memory(id="", tenant=T, kind="experiential",
                                 text="customer 7 was refunded", subject="customer:7",
                                 trust="untrusted"))
    other = memories.write(Memory(id="", tenant=T, kind="experiential",
                                  text="customer 8 was refunded", subject="customer:8"))
    assert {m.id for m, _ in memories.recall(T, "customer")} == {fact.id, note.id, other.id}
    assert [m.id for m, _ in memories.recall(T, "customer", kinds=["factual"])] == [fact.id]
    assert memories.recall(T, "customer", kinds=[]) == []
    assert {m.id for m, _ in memories.recall(T, "customer", subject="customer:7")} == {
        fact.id, note.id}
    assert note.id not in {m.id for m, _ in memories.recall(T, "customer",
                                                            include_untrusted=False)}
    # No query: the newest of those that qualify, unscored.
    newest = memories.recall(T, "", subject="customer:7", limit=1)
    assert newest == [(note, 0.0)]


def test_tenants_never_see_each_others_memories(memories: MemoryStore) -> None:
    mine = memories.write(Memory(id="", tenant=T, kind="experiential", text="refund kettle"))
    memories.write(Memory(id="", tenant="globex", kind="experiential", text="refund kettle"))
    assert [m.id for m, _ in memories.recall(T, "refund kettle")] == [mine.id]
    assert [m.id for m in memories.list(T)] == [mine.id]
    theirs = memories.list("globex")[0]
    assert memories.get(T, theirs.id) is None


def test_recall_finds_the_best_that_qualify_beyond_the_first_pool(memories: MemoryStore) -> None:
    # More strong matches about one customer than recall first asks the index for: the one
    # weak match about another customer must still be found when recall is limited to it.
    for n in range(60):
        memories.write(Memory(id="", tenant=T, kind="experiential", subject="customer:1",
                              text=f"kettle refund kettle refund case {n}"))
    weak = memories.write(Memory(id="", tenant=T, kind="experiential", subject="customer:2",
                                 text="a long note about shipping, invoices, the warehouse, "
                                      "a courier delay, and finally a kettle"))
    assert [m.id for m, _ in memories.recall(T, "kettle refund", subject="customer:2")] == [
        weak.id]
    best = memories.recall(T, "kettle refund", limit=3)
    assert [m.subject for m, _ in best] == ["customer:1"] * 3
    assert [s for _, s in best] == sorted((s for _, s in best), reverse=True)


def test_recall_widens_its_pool_when_many_qualify(memories: MemoryStore) -> None:
    # Strong untrusted matches fill the first pool; the trusted memories that qualify (more
    # than the store scores one by one) rank lower and are found by widening the pool.
    with memories.db.transaction():
        for n in range(60):
            memories.write(Memory(id="", tenant=T, kind="experiential", trust="untrusted",
                                  text=f"kettle refund kettle refund {n}"))
        trusted = [memories.write(Memory(
            id="", tenant=T, kind="experiential",
            text=f"note {n}: " + "shipping delay " * (n % 7 + 1) + "kettle")).id
            for n in range(EXACT_AMONG + 20)]
    found = memories.recall(T, "kettle refund", include_untrusted=False, limit=5)
    exact = memories.index.search(T, "kettle refund", limit=5, among=trusted)
    assert [(m.id, s) for m, s in found] == exact
    assert all(m.trust == "trusted" for m, _ in found)


def test_an_index_of_another_tokeniser_version_is_rebuilt_from_the_memories(
        memories: MemoryStore) -> None:
    ids = _seed(memories)
    memories.delete(T, ids["outage"], by="user:ops", reason="wrong")
    db = memories.db
    # As an earlier tokeniser left it: another version and none of today's terms.
    db.execute("UPDATE lexical_stats SET tokenizer = '1'")
    db.execute("DELETE FROM lexical_postings")
    db.execute("DELETE FROM lexical_terms")
    again = MemoryStore(db)
    assert [m.id for m, _ in again.recall(T, "refund for a broken kettle", limit=1)] == [
        ids["refund"]]
    assert [m.id for m, _ in again.recall(T, "发票审批", limit=1)] == [ids["发票"]]
    assert again.index.size(T) == len(_EXPERIENCES) - 1  # the deleted one stays out
