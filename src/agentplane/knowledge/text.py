"""Search terms from mixed Chinese and English text, and a model-token estimate.

Text is normalised with NFKC first (full-width letters, digits and punctuation become their
ordinary forms). Runs of CJK characters are segmented by jieba in search mode, so ``人工智能``
yields ``人工``, ``智能`` and ``人工智能``; Latin words are lower-cased, stripped of accents
(``Café`` → ``cafe``) and reduced to their English stem by the Snowball stemmer (``restarts``,
``restarted`` → ``restart``); numbers are kept whole (``2026``, ``14.6``, ``3,200`` → ``3200``).
A Latin word ends where CJK characters begin, and the reverse (``AI芯片`` → ``ai``, ``芯片``).
Punctuation and a short list of stop-words (English function words, Chinese particles) are
dropped.

``TOKENIZER_VERSION`` names this tokenisation: an index built with another version holds other
terms, so :class:`~agentplane.knowledge.lexical.LexicalIndex` records it and never mixes two.

jieba is loaded on first use, never at import: it costs a second and prints to stderr, which
``agentplane --help`` must not pay. Its dictionary cache goes to the platform's cache directory,
not the working directory.
"""

from __future__ import annotations

import logging
import math
import re
import threading
import unicodedata
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff"
"""The CJK ideograph ranges, for a regular expression's character class."""
_CJK = CJK
_SPAN = re.compile(
    rf"(?P<cjk>[{_CJK}]+)"
    r"|(?P<num>\d+(?:[.,]\d+)*)"
    rf"|(?P<word>[^\W\d_{_CJK}]+)"
)
_WORD_DIGITS = re.compile(r"[^\W_]+")

# English function words: frequent in every chunk, so they cost index space and query time
# while adding almost nothing to a BM25 score.
_ENGLISH_STOP = (
    "a an and are as at be but by for from has have i in is it its of on or that the their "
    "then there these this to was were what when where which who why will with how do does "
    "did can could would should you your we our they them he she his her s t")
STOP_WORDS = frozenset(
    _ENGLISH_STOP.split()
    # Chinese particles and the commonest function characters.
    + list("的了是在和与及或也都就而之其被把吗呢吧啊么着过这那")
)

TOKENIZER_VERSION = "2"
"""Changes whenever :func:`tokens` would split some text differently (1: the first version;
2: Latin words end at CJK characters, English words are stemmed)."""

_lock = threading.Lock()
_jieba: Any = None
_stemmer: Any = None
_stem_lock = threading.Lock()


def cache_dir() -> Path:
    """Where Agentplane keeps caches it can rebuild (jieba's dictionary cache among them)."""
    import platformdirs

    return Path(platformdirs.user_cache_dir("agentplane", appauthor=False))


def _segmenter() -> Any:
    """jieba's tokenizer, initialised once, quietly, with its cache out of the cwd."""
    global _jieba
    if _jieba is not None:
        return _jieba
    with _lock:
        if _jieba is None:
            import jieba

            jieba.setLogLevel(logging.WARNING)
            tokenizer = jieba.Tokenizer()
            directory = cache_dir()
            try:
                directory.mkdir(parents=True, exist_ok=True)
                tokenizer.tmp_dir = str(directory)
            except OSError:  # an unwritable home: jieba falls back to the system temp dir
                pass
            tokenizer.initialize()
            _jieba = tokenizer
    return _jieba


@lru_cache(maxsize=65_536)
def stem(word: str) -> str:
    """The English Snowball stem of a lower-case word (``chains`` → ``chain``)."""
    global _stemmer
    with _stem_lock:  # a Snowball stemmer keeps its state in the object: one word at a time
        if _stemmer is None:
            import snowballstemmer

            _stemmer = snowballstemmer.stemmer("english")
        return str(_stemmer.stemWord(word))


def normalise(text: str) -> str:
    """NFKC (full-width forms to ordinary ones) and case-folded."""
    return unicodedata.normalize("NFKC", text).casefold()


def _plain(word: str) -> str:
    """A Latin word without accents (``café`` → ``cafe``)."""
    if word.isascii():
        return word
    decomposed = unicodedata.normalize("NFKD", word)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _terms(text: str) -> Iterator[str]:
    for match in _SPAN.finditer(normalise(text)):
        kind = match.lastgroup
        value = match.group()
        if kind == "cjk":
            for piece in _segmenter().cut_for_search(value, HMM=True):
                if piece.strip() and piece not in STOP_WORDS:
                    yield piece
        elif kind == "num":
            # 3,200 and 3200 are one number; a decimal point stays (14.6).
            yield value.replace(",", "")
        else:
            word = _plain(value)
            if word not in STOP_WORDS:  # stop-words are matched before stemming
                yield stem(word)


def tokens(text: str) -> list[str]:
    """Search terms of ``text``, in order, repeats kept (BM25 counts them)."""
    return list(_terms(text))


def count_tokens(text: str) -> int:
    """An estimate of how many model tokens ``text`` costs (for context budgets): one per CJK
    character, one per four characters of a Latin word or number (at least one), one per
    punctuation mark. Close to common BPE tokenizers for prose; not exact for any."""
    normal = unicodedata.normalize("NFKC", text)
    cjk = len(re.findall(f"[{_CJK}]", normal))
    rest = re.sub(f"[{_CJK}]", " ", normal)
    words = sum(max(1, math.ceil(len(w) / 4)) for w in _WORD_DIGITS.findall(rest))
    marks = sum(1 for c in rest if not c.isspace() and not (c.isalnum() or c == "_"))
    return cjk + words + marks
