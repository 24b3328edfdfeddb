"""The retrieval benchmarks' question set is well-formed, and both benchmarks run end to end on
a tiny slice of the corpus (real SQLite files, a real PostgreSQL database, real HTTP to the
loopback embedding server). Nothing here asserts on time."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import _kbcorpus as corpus
import retrieval_quality
import retrieval_speed
from agentplane.storage import open_database


@pytest.fixture(scope="module")
def seeds() -> Path:
    try:
        return corpus.seeds_dir()
    except corpus.CorpusError as exc:  # the reference documents live outside the repository
        pytest.skip(str(exc))


def test_the_question_set_is_large_enough_and_half_chinese() -> None:
    questions = corpus.load_questions()
    languages = Counter(q.language for q in questions)
    assert len(questions) >= 60
    assert languages["zh"] == languages["en"] == len(questions) // 2
    assert len({q.id for q in questions}) == len(questions)
    for q in questions:
        assert q.question.strip() and q.evidence and q.entities, q.id
        # a question is asked in other words than its passage: no evidence string copied whole
        assert not any(corpus.comparable(e) in corpus.comparable(q.question)
                       for e in q.evidence), q.id


def test_every_evidence_string_is_in_the_corpus(seeds: Path) -> None:
    files = {f.source: corpus.comparable(f.text) for f in corpus.load_corpus(seeds)}
    english = [f for f in files if f.endswith(".md")]
    assert 15 <= len(english) <= 25
    for q in corpus.load_questions():
        assert q.document in files, f"{q.id}: no document {q.document}"
        for evidence in q.evidence:
            assert any(corpus.comparable(evidence) in text for text in files.values()), \
                f"{q.id}: evidence {evidence!r} is in no document"
        assert any(corpus.comparable(e) in files[q.document] for e in q.evidence), q.id


def test_a_malformed_question_set_is_refused_with_where(tmp_path: Path) -> None:
    bad = tmp_path / "questions.yaml"
    bad.write_text("questions:\n  - {id: q1, language: fr, question: x, evidence: [y], "
                   "document: d}\n", encoding="utf-8")
    with pytest.raises(corpus.CorpusError, match=r"questions\[0\].*language"):
        corpus.load_questions(bad)
    bad.write_text("questions:\n  - {id: q1, language: en, question: x, document: d}\n",
                   encoding="utf-8")
    with pytest.raises(corpus.CorpusError, match="missing evidence"):
        corpus.load_questions(bad)


def test_relevance_ignores_markup_and_line_breaks_and_scores_ranks() -> None:
    question = corpus.Question("q", "en", "?", ("third of `--lease` (default 30 s)",), (), "d")
    assert corpus.relevant(question, "renews every third of\n**`--lease`** (default 30 s).")
    assert not corpus.relevant(question, "renews every third of the lease (default 60 s)")
    assert corpus.first_relevant(question, ["no", "third of --lease (default 30 s)"]) == 2
    scores = corpus.score([1, None, 3, 7], k=5)
    assert scores.recall == pytest.approx(2 / 4)
    assert scores.mrr == pytest.approx((1 + 1 / 3) / 4)


def test_the_quality_bench_runs_on_a_tiny_slice(seeds: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    # The first two questions of each language have their evidence in the first 4,000
    # characters of their documents, so a slice that size can answer them.
    figures = retrieval_quality.run(str(seeds), questions=2, slice_chars=4000, misses=True)
    by_name = {f.name: f for f in figures}
    for mode in ("lexical", "lexical+graph", "lexical+vector *", "all three *"):
        for language in ("zh", "en", "all"):
            recall = by_name[f"recall@5 {mode} {language}"]
            mrr = by_name[f"MRR@5 {mode} {language}"]
            assert 0 <= mrr.value <= recall.value <= 1
    assert by_name["recall@5 lexical all"].value >= 0.75
    assert by_name["recall@5 lexical+graph all"].baseline == \
        by_name["recall@5 lexical all"].value
    out = capsys.readouterr().out
    assert "deterministic test embedding, not a model" in out
    assert "graph" in out and "entities" in out


def test_the_speed_bench_runs_on_sqlite_and_postgresql(seeds: Path, tmp_path: Path,
                                                       postgres_url: str) -> None:
    files = corpus.load_corpus(seeds, limit=20_000)
    for label, url in (("sqlite", str(tmp_path / "speed.db")), ("postgres", postgres_url)):
        db = open_database(url)
        try:
            figures = retrieval_speed.measure(db, label, 120, files, 15)
            stored = db.query_one("SELECT COUNT(*) FROM kb_chunks")
        finally:
            db.close()
        assert stored is not None and stored[0] >= 120
        names = [f.name for f in figures]
        at = f"{label} {stored[0] / 1000:g}k"
        for name in (f"ingest {at}", f"graph build {at}", f"query p50 lexical {at}",
                     f"query p99 lexical+graph {at}", f"context shaping per call {at}",
                     f"context shaping per call, passages seen before {at}"):
            assert name in names, (name, names)
        # The chars list's cost is a median of paired differences: it may be 0 or below.
        assert all(f.value > 0 for f in figures if "cost per query" not in f.name)
        assert all(f.baseline is not None and f.baseline > 0 for f in figures)
        assert f"chars list's cost per query, median {at}" in names
