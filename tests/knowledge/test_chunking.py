"""Chunking: headings, paragraphs, sentence boundaries in both scripts, size and overlap."""

from __future__ import annotations

from itertools import pairwise

from agentplane.knowledge.chunking import chunk_text, sentences
from agentplane.knowledge.text import count_tokens


def test_headings_give_each_chunk_its_path() -> None:
    text = "Intro line.\n\n# Guide\n\nA.\n\n## Refunds\n\nB.\n\n### 退款\n\nC.\n\n## Tea\n\nD.\n"
    assert [(p.title, p.text) for p in chunk_text(text)] == [
        (None, "Intro line."), ("Guide", "A."), ("Guide > Refunds", "B."),
        ("Guide > Refunds > 退款", "C."), ("Guide > Tea", "D.")]


def test_a_heading_inside_a_code_fence_is_text() -> None:
    text = "# Real\n\n```\n# not a heading\n```\n"
    [piece] = chunk_text(text)
    assert piece.title == "Real" and "# not a heading" in piece.text


def test_sentences_end_at_chinese_and_latin_marks() -> None:
    assert sentences("第一句。第二句！真的吗？是的；Done. Next one! Really?") == [
        "第一句。", "第二句！", "真的吗？", "是的；", "Done.", "Next one!", "Really?"]
    assert sentences("He said “好。” Then left.") == ["He said “好。”", "Then left."]


def test_paragraphs_are_packed_up_to_the_target() -> None:
    paragraph = "Refunds are paid within five working days of approval."  # 14 tokens
    text = "\n\n".join([paragraph] * 20)
    pieces = chunk_text(text, target=60, limit=80, overlap=0)
    assert len(pieces) == 5
    assert all(count_tokens(p.text) <= 80 for p in pieces)
    assert all(p.text.count(paragraph) == 4 for p in pieces)


def test_a_long_chinese_paragraph_splits_at_sentence_ends_with_overlap() -> None:
    text = "".join(f"第{n}条规定退款需要在三十天内申请。" for n in range(60))
    pieces = chunk_text(text, target=100, limit=120, overlap=20)
    assert len(pieces) > 3
    for before, after in pairwise(pieces):
        assert before.text.endswith("。") and after.text.startswith("第")
        last = sentences(before.text)[-1]
        assert after.text.startswith(last)  # the overlap repeats the last sentence
    assert all(count_tokens(p.text) <= 120 for p in pieces)
    joined = "".join(p.text for p in pieces)
    assert all(f"第{n}条" in joined for n in range(60))


def test_a_sentence_longer_than_the_limit_is_cut() -> None:
    text = " ".join(["word"] * 300)  # no sentence end at all
    pieces = chunk_text(text, target=50, limit=60, overlap=0)
    assert all(count_tokens(p.text) <= 60 for p in pieces)
    assert sum(p.text.count("word") for p in pieces) == 300


def test_empty_text_has_no_chunks() -> None:
    assert chunk_text("") == [] and chunk_text("\n\n  \n") == []
