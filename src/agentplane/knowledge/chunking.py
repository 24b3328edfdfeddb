"""Documents into chunks: heading- and paragraph-aware, sentence boundaries respected.

Text arrives as Markdown-like lines (the loaders turn HTML headings into ``#`` lines). Each
heading starts a new section; the chunk keeps the heading path (``Guide > Refunds``) as its
title. Paragraphs are packed into chunks of about ``target`` model tokens (never above
``limit``); a paragraph too long for one chunk is split at sentence ends (``。！？；`` and
``. ! ? ;``), and a sentence too long for one at ``limit`` tokens' worth of characters. A chunk
after the first of its section repeats the last sentence(s) of the one before, up to
``overlap`` tokens, so a statement cut at a boundary is still found whole.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .text import count_tokens

TARGET = 400
LIMIT = 500
OVERLAP = 50

_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_SENTENCE = re.compile(r".+?(?:[。！？；]+[”’」』）)]*|[.!?;]+[\"')\]]*(?=\s)|$)", re.S)


@dataclass(frozen=True, slots=True)
class Piece:
    """One chunk's text and the heading path it sits under."""

    text: str
    title: str | None


def _sections(text: str) -> list[tuple[str | None, list[str]]]:
    """(heading path, paragraphs) in order."""
    path: list[tuple[int, str]] = []
    sections: list[tuple[str | None, list[str]]] = [(None, [])]
    paragraph: list[str] = []

    def flush() -> None:
        if paragraph:
            sections[-1][1].append("\n".join(paragraph).strip())
            paragraph.clear()

    fenced = False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        heading = None if fenced else _HEADING.match(line)
        if heading:
            flush()
            level = len(heading.group(1))
            path = [(lv, name) for lv, name in path if lv < level] + [(level, heading.group(2))]
            sections.append((" > ".join(name for _, name in path), []))
        elif not line.strip() and not fenced:
            flush()
        else:
            paragraph.append(line.rstrip())
    flush()
    return [(title, paras) for title, paras in sections if paras]


def sentences(paragraph: str) -> list[str]:
    """A paragraph's sentences, each keeping its closing mark."""
    return [s.strip() for s in _SENTENCE.findall(paragraph) if s.strip()]


def _hard_split(sentence: str, limit: int) -> list[str]:
    """A sentence longer than ``limit`` tokens, cut into pieces that fit."""
    pieces: list[str] = []
    rest = sentence
    while count_tokens(rest) > limit:
        low, high = 1, len(rest)
        while low < high:  # the longest prefix that fits
            mid = (low + high + 1) // 2
            if count_tokens(rest[:mid]) <= limit:
                low = mid
            else:
                high = mid - 1
        cut = rest.rfind(" ", 0, low)
        cut = cut if cut > low // 2 else low
        pieces.append(rest[:cut].strip())
        rest = rest[cut:].strip()
    return [*pieces, rest] if rest else pieces


def _units(paragraph: str, limit: int) -> list[str]:
    """A paragraph whole if it fits, else its sentences (each cut to fit)."""
    if count_tokens(paragraph) <= limit:
        return [paragraph]
    units: list[str] = []
    for sentence in sentences(paragraph):
        units.extend(_hard_split(sentence, limit))
    return units


def _tail(text: str, overlap: int) -> str:
    """The last sentences of ``text`` that fit in ``overlap`` tokens ('' when none do)."""
    kept: list[str] = []
    size = 0
    for sentence in reversed(sentences(text)):
        size += count_tokens(sentence)
        if size > overlap:
            break
        kept.insert(0, sentence)
    return _glue(kept)


def _glue(parts: list[str]) -> str:
    """Sentences of one paragraph rejoined: no space after a CJK mark, one after others."""
    out = ""
    for part in parts:
        out += part if not out or out[-1] in "。！？；”’」』）" else " " + part
    return out


def chunk_text(text: str, *, target: int = TARGET, limit: int = LIMIT,
               overlap: int = OVERLAP) -> list[Piece]:
    """Split ``text`` into chunks of about ``target`` model tokens (at most ``limit``)."""
    pieces: list[Piece] = []
    for title, paragraphs in _sections(text):
        body = ""  # the chunk being filled
        size = 0
        fresh = True  # nothing but the overlap in ``body``
        for paragraph in paragraphs:
            for index, unit in enumerate(_units(paragraph, limit)):
                cost = count_tokens(unit)
                if body and not fresh and size + cost > target:
                    pieces.append(Piece(body, title))
                    body = _tail(body, min(overlap, limit - cost))
                    size = count_tokens(body)
                    fresh = True
                if not body:
                    body = unit
                elif index == 0 and not fresh:
                    body += "\n\n" + unit
                else:
                    body = _glue([body, unit])
                size += cost
                fresh = False
        if body and not fresh:
            pieces.append(Piece(body, title))
    return pieces
