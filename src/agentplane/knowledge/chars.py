"""Character n-grams for Chinese: lexical search's candidates ranked again by the characters
they share with the question.

Chinese words are made of characters that carry meaning on their own, and a question often
names a thing with other words than the passage that answers it: 带声音的视频 / 有声视频,
第一次 / 首次. Word-level BM25 (jieba's words) sees no match; the characters (声, 视频, 次)
still do. Chinese retrieval has long combined words with character unigrams and bigrams for
this reason (Nie, Gao, Zhang & Zhou, 2000; Kwok, 1997).

Here the characters do not get an index of their own: lexical search's first ``pool``
candidates (and graph expansion's) are scored by BM25 over the question's CJK character
unigrams (stop characters left out) and bigrams, with document frequencies counted within that
candidate pool, and the order this gives is one more ranked list for rank fusion (``chars``,
:data:`agentplane.knowledge.retrieve.WEIGHTS`). A question without CJK characters has no such
list. Nothing is listed per word: the only knowledge used is that a Chinese character means
something by itself.

Counting is ``str.count`` of each question n-gram in each candidate's text (C speed), so a
repeated pair is counted without overlaps (哈哈哈 holds 哈哈 once).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

from .lexical import K1, B, idf
from .text import CJK, STOP_WORDS, normalise
from .types import Chunk

_RUN = re.compile(f"[{CJK}]+")


def char_grams(text: str) -> list[str]:
    """The CJK character unigrams (stop characters left out) and bigrams of ``text``, each
    once, in order of appearance (Latin words and numbers give none)."""
    grams: dict[str, None] = {}
    for match in _RUN.finditer(normalise(text)):
        run = match.group()
        for i, char in enumerate(run):
            if char not in STOP_WORDS:
                grams[char] = None
            if i + 1 < len(run):
                grams[run[i:i + 2]] = None
    return list(grams)


def rank(question: str, candidates: Sequence[Chunk], limit: int) -> list[Chunk]:
    """The best ``limit`` of ``candidates`` (each id once) by BM25 over ``question``'s
    character n-grams, document frequencies counted within the candidates; candidates that
    share none are left out, ties keep the candidates' order. Empty when the question has no
    CJK characters.

    A candidate's length is its text's length in characters (BM25 needs it only relative to
    the other candidates'); its text is read as stored (NFKC changes no CJK character but the
    rare compatibility ideographs)."""
    grams = char_grams(question)
    unique = list({c.id: c for c in reversed(candidates)}.values())[::-1]
    if not grams or not unique or limit <= 0:
        return []
    texts = [f"{c.title}\n{c.text}" if c.title else c.text for c in unique]
    counts = [{g: n for g in grams if (n := t.count(g))} for t in texts]
    average = max(sum(map(len, texts)) / len(texts), 1.0)
    df: Counter[str] = Counter()
    for found in counts:
        df.update(found.keys())
    weights = {g: idf(len(unique), d) for g, d in df.items()}
    scores: list[tuple[float, int]] = []
    for n, (found, text) in enumerate(zip(counts, texts, strict=True)):
        if not found:
            continue
        norm = K1 * (1 - B + B * len(text) / average)
        scores.append((sum(weights[g] * tf * (K1 + 1) / (tf + norm)
                           for g, tf in found.items()), n))
    scores.sort(key=lambda pair: (-pair[0], pair[1]))
    return [unique[n] for _, n in scores[:limit]]


def keep_other_scripts(lexical: Sequence[Chunk], ranked: Sequence[Chunk], limit: int
                       ) -> list[Chunk]:
    """The ``chars`` list as fusion reads it: ``lexical``'s order with its Chinese passages
    replaced, slot by slot, by ``ranked`` (the character order), and passages without CJK text
    left in their lexical slots — so a bilingual knowledge base's English passages are not
    pushed down for a Chinese question merely because characters cannot rank them."""
    rest = iter(c for c in ranked if _RUN.search(c.text))
    placed: dict[str, Chunk] = {}
    for chunk in lexical:
        if not _RUN.search(chunk.text):
            placed.setdefault(chunk.id, chunk)
            continue
        for candidate in rest:
            if candidate.id not in placed:
                placed[candidate.id] = candidate
                break
    for candidate in [*rest, *ranked]:
        if len(placed) >= limit:
            break
        placed.setdefault(candidate.id, candidate)
    return list(placed.values())[:limit]
