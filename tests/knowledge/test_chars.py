"""The ``chars`` list: lexical candidates ranked again by the Chinese characters they share
with the question — a paraphrase word-level BM25 ranks too low, on both back-ends."""

from __future__ import annotations

import pytest

from agentplane.errors import ConfigError
from agentplane.knowledge.chars import char_grams, keep_other_scripts, rank
from agentplane.knowledge.retrieve import Retriever
from agentplane.knowledge.store import KnowledgeBase
from agentplane.knowledge.types import Chunk
from agentplane.storage import Database

T = "media"
QUESTION = "哪个模型第一次能生成带声音的视频？"
# The answer says 首次 / 有声视频 where the question says 第一次 / 带声音的视频: as words it
# shares only 生成 and 视频 with the question; as characters also 次, 声 and 有声's neighbours.
ANSWER = "Veo3 首次实现有声视频生成，画面与音轨同步输出。"
DISTRACTORS = {  # each shares more words with the question, but only its common ones
    "images.md": "这个模型第一次参加评测，能排进前十。",
    "ranking.md": "哪个模型第一次跑分就能拿第一？",
    "team.md": "团队第一次训练模型，能否成功还不确定。",
    "price.md": "模型第一次降价，个人用户也能试用。",
}
FILLER = [f"第{n}号仓库的{thing}库存盘点已经完成，账目核对无误。"
          for n, thing in enumerate(["钢材", "螺栓", "油漆", "木板", "玻璃", "水泥", "电缆",
                                     "管道", "砖块", "瓷砖"], start=1)]


@pytest.fixture
def kb(database: Database) -> KnowledgeBase:
    kb = KnowledgeBase(database)
    kb.add(T, "veo.md", ANSWER, media_type="text/markdown")
    for source, text in DISTRACTORS.items():
        kb.add(T, source, text, media_type="text/markdown")
    for n, text in enumerate(FILLER):
        kb.add(T, f"filler-{n}.md", text, media_type="text/markdown")
    kb.add(T, "en.md", "Video models that generate sound were first shown in 2025.",
           media_type="text/markdown")
    return kb


def _sources(retriever: Retriever, question: str, k: int = 3) -> list[str]:
    return [p.chunk.source for p in retriever.search(T, question, k=k, modes=("lexical",))]


def test_characters_lift_the_paraphrase_words_rank_too_low(kb: KnowledgeBase) -> None:
    words_only = Retriever(kb, weights={"chars": 0})
    plain = _sources(words_only, QUESTION, k=10)
    assert plain.index("veo.md") == len(DISTRACTORS)  # every distractor shares more words
    lists = Retriever(kb).search(T, QUESTION, k=10, modes=("lexical",))
    found = [p.chunk.source for p in lists]
    assert found.index("veo.md") < plain.index("veo.md")  # in the first four now
    assert all(p.via == ("lexical", "chars") for p in lists)
    # Characters alone rank it first: the distractors' shared characters (模型, 第一次) are
    # in every candidate, its own (声, 视频, 生成) in none of theirs.
    assert rank(QUESTION, [c for c, _ in kb.lexical(T, QUESTION, limit=10)], 1)[0].source \
        == "veo.md"


def test_a_question_without_chinese_gets_no_chars_list(kb: KnowledgeBase) -> None:
    found = Retriever(kb).search(T, "video models that generate sound", k=3)
    assert [p.chunk.source for p in found] == ["en.md"]
    assert found[0].via == ("lexical",)


def test_filters_hold_for_the_chars_list(kb: KnowledgeBase) -> None:
    allowed = ["veo.md", "team.md"]
    found = Retriever(kb).search(T, QUESTION, k=5, sources=allowed)
    assert sorted(p.chunk.source for p in found) == sorted(allowed)


def _chunk(id: str, text: str, title: str | None = None) -> Chunk:
    return Chunk(id=id, tenant=T, document_id="d", source="s", text=text, position=0,
                 title=title)


def test_grams_are_unigrams_without_stop_characters_and_bigrams() -> None:
    assert char_grams("有声的视频 video") == ["有", "有声", "声", "声的", "的视", "视", "视频",
                                             "频"]
    assert char_grams("only English 2025") == []


def test_rank_orders_by_shared_characters_and_keeps_ties_in_order() -> None:
    a = _chunk("a", "有声视频生成")
    b = _chunk("b", "图片生成")
    c = _chunk("c", "库存盘点")
    d = _chunk("d", "图片生成")
    assert [x.id for x in rank("带声音的视频", [b, c, a, d], 5)] == ["a"]
    assert [x.id for x in rank("生成有声视频", [b, a, d, a], 5)] == ["a", "b", "d"]
    assert [x.id for x in rank("生成有声视频", [b, a, d], 1)] == ["a"]
    assert rank("sound video", [a, b], 5) == []
    assert [x.id for x in rank("视频", [_chunk("e", "无关", title="视频指南"), b], 5)] == ["e"]


def test_char_pool_out_of_range_is_refused(kb: KnowledgeBase) -> None:
    with pytest.raises(ConfigError, match="char_pool"):
        Retriever(kb, char_pool=0)


def test_passages_in_other_scripts_keep_their_lexical_slots() -> None:
    """A Chinese question in a bilingual knowledge base: the character order re-ranks only the
    Chinese passages; an English passage lexical search found keeps its place, instead of
    falling behind every Chinese one (the characters cannot rank it)."""
    zh_a, zh_b, zh_c = (_chunk(f"zh-{n}", text) for n, text in
                        enumerate(["退款规则第三条", "退款超过五百元需主管批准", "仓库盘点"]))
    en = _chunk("en", "Refunds above 500 CNY need a supervisor.")
    lexical = [zh_a, en, zh_b, zh_c]
    ranked = [zh_b, zh_c, zh_a]  # the character order of the Chinese passages
    assert [c.id for c in keep_other_scripts(lexical, ranked, 4)] == [
        "zh-1", "en", "zh-2", "zh-0"]
    assert [c.id for c in keep_other_scripts(lexical, ranked, 2)] == ["zh-1", "en"]
    # a passage only the characters found (beyond the lexical list) still comes in at the end
    extra = _chunk("zh-9", "退款")
    assert [c.id for c in keep_other_scripts([en], [extra], 3)] == ["en", "zh-9"]
