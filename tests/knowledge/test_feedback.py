"""Pseudo-relevance feedback: a paraphrase passage plain BM25 cannot find, on both back-ends."""

from __future__ import annotations

import pytest

from agentplane.errors import ConfigError
from agentplane.knowledge.feedback import Feedback, expand
from agentplane.knowledge.retrieve import Retriever
from agentplane.knowledge.store import KnowledgeBase
from agentplane.knowledge.text import tokens
from agentplane.storage import Database

T = "ops"
# The question's words are in the how-to; the passage that says what the rollback keeps
# shares none of them, only the how-to's other words (rollback, previous release, restores).
HOWTO = ("To undo a broken deployment, run the rollback command: it restores the previous "
         "release within a minute.")
PARAPHRASE = "The rollback command restores the previous release and its database snapshot."
ZH_HOWTO = "新版客服机器人上线了吗？客服机器人已于三月正式面世，面向企业客户开放试用。"
ZH_PARAPHRASE = "该产品正式面世后，企业客户开放试用的名额在一周内全部用完。"
FILLER = [f"Invoice {n} for {thing} was paid by the finance team in week {n}."
          for n, thing in enumerate(["office chairs", "printer paper", "laptops", "coffee",
                                     "desks", "monitors", "cables", "lamps", "plants",
                                     "whiteboards", "keyboards", "headsets"], start=1)]
FILLER += [f"第{n}号仓库的{thing}库存盘点已经完成。"
           for n, thing in enumerate(["钢材", "螺栓", "油漆", "木板", "玻璃", "水泥", "电缆",
                                      "管道", "砖块", "瓷砖", "沙子", "石灰"], start=1)]


@pytest.fixture
def kb(database: Database) -> KnowledgeBase:
    kb = KnowledgeBase(database)
    texts = {"howto.md": HOWTO, "rollback.md": PARAPHRASE, "zh-howto.md": ZH_HOWTO,
             "zh-paraphrase.md": ZH_PARAPHRASE,
             **{f"filler-{n}.md": text for n, text in enumerate(FILLER)}}
    for source, text in texts.items():
        kb.add(T, source, text, media_type="text/markdown")
    return kb


def _sources(retriever: Retriever, query: str) -> list[str]:
    return [p.chunk.source for p in retriever.search(T, query, k=3, modes=("lexical",))]


@pytest.mark.parametrize(("question", "howto", "paraphrase"), [
    ("How do I undo a broken deployment?", "howto.md", "rollback.md"),
    ("新版客服机器人上线了吗", "zh-howto.md", "zh-paraphrase.md"),
])
def test_feedback_finds_the_paraphrase_plain_bm25_misses(
        kb: KnowledgeBase, question: str, howto: str, paraphrase: str) -> None:
    plain = _sources(Retriever(kb), question)
    assert plain[0] == howto
    assert paraphrase not in plain  # it shares no word with the question
    expanded = _sources(Retriever(kb, feedback=Feedback(docs=1, terms=5)), question)
    assert expanded[0] == howto  # the question's own words still decide the first place
    assert paraphrase in expanded


def test_expansion_comes_from_the_feedback_passage(kb: KnowledgeBase) -> None:
    question = "How do I undo a broken deployment?"
    first = kb.index.search(T, question, limit=5)
    terms = expand(kb.index, T, question, first, Feedback(docs=1, terms=3, original=0.5))
    own = set(tokens(question))
    added = {t: w for t, w in terms.items() if t not in own}
    assert all(terms[t] == 1.0 for t in own)
    assert len(added) == 3 and set(added) <= set(tokens(HOWTO)) - own
    # The expansion holds 1 - original of the weight: here as much as the question's terms.
    assert sum(added.values()) == pytest.approx(len(own))


def test_nothing_to_expand_keeps_the_question(kb: KnowledgeBase) -> None:
    assert expand(kb.index, T, "undo deployment", [], Feedback()) == {"undo": 1.0, "deploy": 1.0}
    assert expand(kb.index, T, "undo deployment", kb.index.search(T, "undo", limit=1),
                  Feedback(terms=0)) == {"undo": 1.0, "deploy": 1.0}
    # A word of every passage is never an expansion term (max_share).
    everywhere = Feedback(docs=1, terms=50, max_share=0.01)
    first = kb.index.search(T, "Invoice 3 printer", limit=1)
    assert set(expand(kb.index, T, "Invoice 3 printer", first, everywhere)) == set(
        tokens("Invoice 3 printer"))


def test_filters_apply_to_the_expanded_search(kb: KnowledgeBase) -> None:
    retriever = Retriever(kb, feedback=Feedback(docs=1, terms=5))
    question = "How do I undo a broken deployment?"

    def sources(allowed: list[str]) -> list[str]:
        return [p.chunk.source for p in retriever.search(T, question, k=3, sources=allowed)]

    assert sources(["howto.md", "rollback.md"]) == ["howto.md", "rollback.md"]
    # The expansion would find rollback.md; the filter still keeps it out.
    assert sources(["howto.md", "filler-1.md"]) == ["howto.md"]
    # Feedback reads only passages the filters admit: none here, so nothing is expanded.
    assert sources(["rollback.md"]) == []


@pytest.mark.parametrize("bad", [{"docs": 0}, {"terms": -1}, {"original": 0.0},
                                 {"original": 1.5}, {"max_share": 0.0}])
def test_settings_out_of_range_are_refused(bad: dict[str, float]) -> None:
    with pytest.raises(ConfigError, match="feedback settings out of range"):
        Feedback(**bad)  # type: ignore[arg-type]
