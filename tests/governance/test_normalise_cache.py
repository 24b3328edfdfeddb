"""A text is indexed once while it recurs (knowledge-base passages, memories, tool results
seen by run after run), and a long one is never kept."""

from __future__ import annotations

from agentplane.governance import normalise
from agentplane.governance.normalise import CACHED_TEXT_CHARS, index_text


def test_a_recurring_text_is_indexed_once_and_alike() -> None:
    text = "Refunds above 500 CNY go to IBAN DE89370400440532013000 by 2026-12-03."
    first = index_text(text)
    assert index_text(text) is first
    assert first == normalise._index_text(text)  # the same forms as indexing it afresh
    assert {"500", "2026-12-03"} <= first.forms


def test_a_long_text_is_indexed_each_time_and_not_kept() -> None:
    text = "pay DE89370400440532013000 " * (CACHED_TEXT_CHARS // 20)
    assert len(text) > CACHED_TEXT_CHARS
    before = normalise._index_cached.cache_info().currsize
    assert index_text(text) is not index_text(text)
    assert index_text(text) == normalise._index_text(text)
    assert normalise._index_cached.cache_info().currsize == before
