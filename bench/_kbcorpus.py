"""The retrieval benchmarks' corpus and labelled questions (``bench/data/kb/``).

Chinese: the five reference documents in ``../shared/seeds/`` relative to the repository (or
``--seeds DIR`` / ``AGENTPLANE_KB_SEEDS``); they are read from there, never copied into the
repository. English: the frozen snapshot of this project's docs in ``bench/data/kb/en/``.

A retrieved chunk is relevant to a question when it contains one of the question's evidence
strings. Both are compared after NFKC, with Markdown markup characters removed and whitespace
collapsed, so a loader that strips ``**`` or re-flows lines does not change what is relevant.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "bench" / "data" / "kb"
QUESTIONS = DATA / "questions.yaml"
ENGLISH = DATA / "en"
ONTOLOGY = DATA / "ontology.yaml"
RULES = DATA / "rules.yaml"
SEEDS_ENV = "AGENTPLANE_KB_SEEDS"
TENANT = "bench"

_MARKUP = re.compile(r"[`*_#|>\\]")
_SPACE = re.compile(r"\s+")


class CorpusError(Exception):
    """The corpus or the question set is missing or malformed (the message says where)."""


@dataclass(frozen=True)
class Question:
    id: str
    language: str
    question: str
    evidence: tuple[str, ...]
    entities: tuple[str, ...]
    document: str


@dataclass(frozen=True)
class SourceFile:
    """One document of the corpus: its source label, language and text."""

    source: str
    language: str
    text: str
    media_type: str


def comparable(text: str) -> str:
    """``text`` as evidence is compared: NFKC, no Markdown markup, whitespace collapsed."""
    return _SPACE.sub(" ", _MARKUP.sub("", unicodedata.normalize("NFKC", text))).strip()


def seeds_dir(option: str | None = None) -> Path:
    """The folder of the Chinese reference documents: ``option``, else the environment
    variable, else ``../shared/seeds`` next to the repository."""
    chosen = option or os.environ.get(SEEDS_ENV)
    folder = Path(chosen) if chosen else ROOT.parent / "shared" / "seeds"
    if not folder.is_dir() or not any(folder.glob("*.txt")):
        raise CorpusError(f"no reference documents (*.txt) in {folder}: pass --seeds DIR or set "
                          f"{SEEDS_ENV}")
    return folder


def load_questions(path: Path = QUESTIONS) -> list[Question]:
    """The labelled questions, checked for shape (``CorpusError`` names the entry)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    entries = data.get("questions") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise CorpusError(f"{path}: expected a mapping with a list under 'questions'")
    out: list[Question] = []
    seen: set[str] = set()
    for n, entry in enumerate(entries):
        where = f"{path}: questions[{n}]"
        if not isinstance(entry, dict):
            raise CorpusError(f"{where}: expected a mapping")
        missing = [k for k in ("id", "language", "question", "evidence", "document")
                   if not entry.get(k)]
        if missing:
            raise CorpusError(f"{where}: missing {', '.join(missing)}")
        if entry["id"] in seen:
            raise CorpusError(f"{where}: duplicate id {entry['id']!r}")
        if entry["language"] not in ("zh", "en"):
            raise CorpusError(f"{where}: language must be zh or en, not {entry['language']!r}")
        evidence = entry["evidence"]
        if not isinstance(evidence, list) or not all(isinstance(e, str) and e.strip()
                                                     for e in evidence):
            raise CorpusError(f"{where}: evidence must be a list of non-empty strings")
        seen.add(entry["id"])
        out.append(Question(str(entry["id"]), entry["language"], str(entry["question"]),
                            tuple(evidence), tuple(str(e) for e in entry.get("entities") or ()),
                            str(entry["document"])))
    return out


def load_corpus(seeds: Path, *, limit: int | None = None) -> list[SourceFile]:
    """Every document: the seeds (Chinese, plain text) then the English docs (Markdown).
    ``limit`` keeps only the first ``limit`` characters of each (a tiny slice for tests)."""
    files = [(p, "zh", "text/plain") for p in sorted(seeds.glob("*.txt"))]
    files += [(p, "en", "text/markdown") for p in sorted(ENGLISH.glob("*.md"))
              if p.name != "README.md"]
    out = []
    for path, language, media_type in files:
        text = path.read_text(encoding="utf-8")
        out.append(SourceFile(path.name, language, text[:limit] if limit else text, media_type))
    return out


def relevant(question: Question, text: str) -> bool:
    """Whether a chunk's text answers the question (contains one of its evidence strings)."""
    body = comparable(text)
    return any(comparable(e) in body for e in question.evidence)


def first_relevant(question: Question, texts: Sequence[str]) -> int | None:
    """The 1-based rank of the first relevant text, or ``None``."""
    for rank, text in enumerate(texts, start=1):
        if relevant(question, text):
            return rank
    return None


@dataclass(frozen=True)
class Scores:
    """Recall@k (share of questions with a relevant chunk in the top k) and MRR@k."""

    questions: int
    recall: float
    mrr: float


def score(ranks: Iterable[int | None], k: int) -> Scores:
    found = list(ranks)
    if not found:
        return Scores(0, 0.0, 0.0)
    hits = [r for r in found if r is not None and r <= k]
    return Scores(len(found), len(hits) / len(found), sum(1 / r for r in hits) / len(found))
