"""Search terms from Chinese and English text, and the model-token estimate."""

from __future__ import annotations

import subprocess
import sys

from agentplane.knowledge.text import STOP_WORDS, count_tokens, tokens


def test_chinese_runs_are_segmented_in_search_mode() -> None:
    terms = tokens("人工智能的发展")
    assert {"人工", "智能", "人工智能", "发展"} <= set(terms)
    assert "的" not in terms  # a particle is a stop-word


def test_latin_words_are_lower_cased_and_plain() -> None:
    assert tokens("The Café’s PRICE rose") == ["cafe", "price", "rose"]


def test_full_width_forms_are_normalised() -> None:
    assert tokens("ＡＢＣ １２３") == tokens("abc 123") == ["abc", "123"]


def test_numbers_are_kept_whole() -> None:
    assert tokens("grew 14.6% in 2026 to 3,200 units") == ["grew", "14.6", "2026", "3200",
                                                           "unit"]


def test_mixed_text_keeps_order_and_repeats() -> None:
    terms = tokens("Agentplane 支持 agentplane")
    assert terms[0] == terms[-1] == "agentplan"  # stemmed
    assert "支持" in terms


def test_punctuation_and_stop_words_are_dropped() -> None:
    assert tokens("。，！？ — the of and …") == []
    assert "the" in STOP_WORDS and "了" in STOP_WORDS


def test_count_tokens_estimates_both_scripts() -> None:
    assert count_tokens("") == 0
    assert count_tokens("人工智能") == 4
    assert count_tokens("hello world") == 4  # two words of five letters: two tokens each
    assert count_tokens("退款。refund!") == 2 + 1 + 2 + 1


def test_importing_the_module_does_not_load_jieba() -> None:
    code = ("import sys, agentplane.knowledge.text, agentplane.knowledge.store; "
            "print('jieba' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


def test_segmenting_prints_nothing_and_caches_outside_the_cwd(tmp_path: object) -> None:
    code = "from agentplane.knowledge.text import tokens; print(tokens('人工智能'))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=str(tmp_path))
    assert out.stderr == ""
    assert "人工智能" in out.stdout
    assert list(tmp_path.iterdir()) == []  # type: ignore[attr-defined]


def test_a_latin_word_ends_where_chinese_begins_and_the_reverse() -> None:
    assert tokens("AI芯片") == ["ai", "芯片"]
    assert tokens("ChatGPT面世") == ["chatgpt", "面世"]
    assert tokens("高端GPU芯片") == ["高端", "gpu", "芯片"]


def test_english_words_are_stemmed_for_index_and_query_alike() -> None:
    assert tokens("restarts restarted restarting") == ["restart"] * 3
    assert tokens("chains") == tokens("chain") == ["chain"]
    assert tokens("The Drives") == ["drive"]
    # stop-words are matched before stemming ("does" is not kept as "doe")
    assert tokens("does it") == []
