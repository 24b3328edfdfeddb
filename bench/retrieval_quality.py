"""Retrieval quality on the labelled question set: recall@5 and MRR@5, per language and overall,
for lexical search alone, lexical + graph expansion, lexical + vectors, and all three.

The knowledge base is built from the five Chinese reference documents (``../shared/seeds/``,
or ``--seeds DIR`` / ``AGENTPLANE_KB_SEEDS``) and the English snapshot of our docs
(``bench/data/kb/en/``); the graph from its chunks with the general rules of
``bench/data/kb/rules.yaml``. Vectors come from a loopback server with a DETERMINISTIC TEST
EMBEDDING (hashed character n-grams, ``tests/knowledge/embedding_server.py``), NOT A MODEL: the
vector figures show the fusion at work, never an embedding model's quality.

A retrieved chunk is relevant when it contains one of the question's evidence strings
(``bench/_kbcorpus.py``). Lexical only is the baseline each other mode is compared with.

Run: .venv/bin/python bench/retrieval_quality.py [--seeds DIR] [--misses] [--no-vectors]
     [--questions N] [--slice CHARS]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import _kbcorpus as corpus
from _common import Figure, print_figures, scratch
from _kbcorpus import Question, Scores, SourceFile
from agentplane.knowledge.embeddings import Embeddings
from agentplane.knowledge.extract import load_rules
from agentplane.knowledge.graph import KnowledgeGraph
from agentplane.knowledge.ontology import load_ontology
from agentplane.knowledge.retrieve import Retriever
from agentplane.knowledge.store import KnowledgeBase
from agentplane.knowledge.text import tokens
from agentplane.storage import Database, open_database

K = 5
MODES: dict[str, tuple[str, ...]] = {
    "lexical": ("lexical",),
    "lexical+graph": ("lexical", "graph"),
    "lexical+vector": ("lexical", "vector"),
    "all three": ("lexical", "graph", "vector"),
}
VECTOR_LABEL = "deterministic test embedding, not a model"


@dataclass
class Built:
    """A knowledge base (and its graph) built from the corpus, with what building cost."""

    kb: KnowledgeBase
    graph: KnowledgeGraph
    chunks: int = 0
    entities: int = 0
    relations: int = 0
    seconds: dict[str, float] = field(default_factory=dict)


def ingest(db: Database, files: Sequence[SourceFile], tenant: str = corpus.TENANT
           ) -> tuple[KnowledgeBase, int]:
    """Every corpus file into a new knowledge base; returns it and the chunks stored."""
    kb = KnowledgeBase(db)
    chunks = 0
    for f in files:
        result = kb.add(tenant, f.source, f.text, media_type=f.media_type, title=f.source)
        chunks += result.added
    return kb, chunks


def build_graph(db: Database, kb: KnowledgeBase, tenant: str = corpus.TENANT
                ) -> tuple[KnowledgeGraph, int, int]:
    """The graph of the corpus' chunks, by the benchmark's ontology and rules."""
    ontology = load_ontology(corpus.ONTOLOGY)
    rules = load_rules(corpus.RULES, ontology)
    graph = KnowledgeGraph(db, ontology)
    entities = relations = 0
    for document in kb.documents(tenant):
        report = graph.extract(tenant, kb.document_chunks(tenant, document.id), rules)
        entities += len(report.entities)
        relations += len(report.relations)
    return graph, entities, relations


def build(db: Database, files: Sequence[SourceFile]) -> Built:
    started = time.perf_counter()
    kb, chunks = ingest(db, files)
    ingested = time.perf_counter()
    graph, entities, relations = build_graph(db, kb)
    done = time.perf_counter()
    return Built(kb, graph, chunks, entities, relations,
                 {"ingest": ingested - started, "graph": done - ingested})


@contextmanager
def test_embeddings() -> Iterator[Embeddings]:
    """A loopback server with the deterministic test embedding, and a client for it."""
    from tests.knowledge.embedding_server import MODEL, EmbeddingServer

    with EmbeddingServer() as server:
        yield Embeddings(server.base_url, MODEL)


@dataclass
class Outcome:
    """One question under one mode: the rank of the first relevant chunk (or None) and what
    came back (source, text) best first."""

    question: Question
    rank: int | None
    found: list[tuple[str, str]]


def evaluate(retriever: Retriever, questions: Sequence[Question], modes: tuple[str, ...]
             ) -> list[Outcome]:
    out = []
    for q in questions:
        passages = retriever.search(corpus.TENANT, q.question, k=K, modes=modes)
        found = [(p.chunk.source, p.chunk.text) for p in passages]
        out.append(Outcome(q, corpus.first_relevant(q, [t for _, t in found]), found))
    return out


def scores_by_language(outcomes: Sequence[Outcome]) -> dict[str, Scores]:
    groups = {"zh": [o for o in outcomes if o.question.language == "zh"],
              "en": [o for o in outcomes if o.question.language == "en"], "all": outcomes}
    return {lang: corpus.score((o.rank for o in group), K) for lang, group in groups.items()}


def answerable(kb: KnowledgeBase, questions: Sequence[Question]) -> list[Question]:
    """Questions none of whose evidence lies whole inside one stored chunk (a chunking loss:
    no retriever can find them)."""
    texts = [c.text for d in kb.documents(corpus.TENANT)
             for c in kb.document_chunks(corpus.TENANT, d.id)]
    return [q for q in questions if not any(corpus.relevant(q, t) for t in texts)]


def print_misses(mode: str, outcomes: Sequence[Outcome], retriever: Retriever) -> None:
    """Each question the mode missed: what it asked, the search terms it became, what it
    wanted, what came back, and where lexical search alone ranks the answer among its first
    50."""
    for o in outcomes:
        if o.rank is not None:
            continue
        deep = retriever.search(corpus.TENANT, o.question.question, k=50, modes=("lexical",))
        rank = corpus.first_relevant(o.question, [p.chunk.text for p in deep])
        print(f"\n[{mode}] MISS {o.question.id} ({o.question.document}): {o.question.question}")
        print(f"    evidence: {' | '.join(o.question.evidence)}")
        print(f"    query terms: {' '.join(tokens(o.question.question))}")
        print(f"    lexical rank of the answer in the first 50: {rank or 'not found'}")
        for n, (source, text) in enumerate(o.found, start=1):
            print(f"    {n}. {source}: {' '.join(text.split())[:90]}")


def run(seeds: str | None = None, *, vectors: bool = True, misses: bool = False,
        questions: int | None = None, slice_chars: int | None = None,
        quiet: bool = False) -> list[Figure]:
    files = corpus.load_corpus(corpus.seeds_dir(seeds), limit=slice_chars)
    asked = corpus.load_questions()
    if questions is not None:
        asked = [q for q in asked if q.language == "zh"][:questions] + \
            [q for q in asked if q.language == "en"][:questions]
    with scratch() as folder:
        db = open_database(str(folder / "kb.db"))
        try:
            built = build(db, files)
            lost = answerable(built.kb, asked)
            modes = {m: v for m, v in MODES.items() if vectors or "vector" not in v}
            results: dict[str, dict[str, Scores]] = {}
            with _maybe_embeddings(vectors) as embeddings:
                retriever = Retriever(built.kb, built.graph, embeddings)
                if embeddings is not None:
                    started = time.perf_counter()
                    retriever.index_vectors(corpus.TENANT)
                    built.seconds["vectors"] = time.perf_counter() - started
                for mode, chosen in modes.items():
                    outcomes = evaluate(retriever, asked, chosen)
                    results[mode] = scores_by_language(outcomes)
                    if misses and mode in ("lexical", "lexical+graph"):
                        print_misses(mode, outcomes, retriever)
        finally:
            db.close()
    if not quiet:
        _report(built, asked, lost, results)
    return _figures(results)


@contextmanager
def _maybe_embeddings(wanted: bool) -> Iterator[Embeddings | None]:
    if not wanted:
        yield None
        return
    with test_embeddings() as embeddings:
        yield embeddings


def _report(built: Built, asked: Sequence[Question], lost: Sequence[Question],
            results: dict[str, dict[str, Scores]]) -> None:
    timing = ", ".join(f"{k} {v:.1f} s" for k, v in built.seconds.items())
    print(f"corpus: {built.chunks} chunks, graph {built.entities} entities / {built.relations} "
          f"relations ({timing}); {len(asked)} questions")
    if lost:
        print(f"evidence cut by chunk boundaries (unanswerable): {', '.join(q.id for q in lost)}")
    print(f"\n{'mode':<16} {'recall@5 zh':>12} {'en':>6} {'all':>6}   "
          f"{'MRR@5 zh':>9} {'en':>6} {'all':>6}")
    for mode, by in results.items():
        label = f"{mode} *" if "vector" in mode or mode == "all three" else mode
        print(f"{label:<16} {by['zh'].recall:12.3f} {by['en'].recall:6.3f} "
              f"{by['all'].recall:6.3f}   {by['zh'].mrr:9.3f} {by['en'].mrr:6.3f} "
              f"{by['all'].mrr:6.3f}")
    if any("vector" in m for m in results):
        print(f"* vectors: {VECTOR_LABEL}")
    print()


def _figures(results: dict[str, dict[str, Scores]]) -> list[Figure]:
    base = results["lexical"]
    figures = []
    for mode, by in results.items():
        note = " *" if "vector" in mode or mode == "all three" else ""
        for lang in ("zh", "en", "all"):
            goal = "≥ 0.9" if mode == "lexical+graph" and lang == "all" else ""
            figures.append(Figure("kb_quality", f"recall@5 {mode}{note} {lang}", by[lang].recall,
                                  "ratio", base[lang].recall if mode != "lexical" else None,
                                  goal))
            figures.append(Figure("kb_quality", f"MRR@5 {mode}{note} {lang}", by[lang].mrr,
                                  "ratio", base[lang].mrr if mode != "lexical" else None))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", help=f"the reference documents' folder (or "
                                        f"${corpus.SEEDS_ENV}; default ../shared/seeds)")
    parser.add_argument("--misses", action="store_true",
                        help="print every question lexical and lexical+graph miss, and why")
    parser.add_argument("--no-vectors", action="store_true", help="skip the vector modes")
    parser.add_argument("--questions", type=int, help="only the first N questions per language")
    parser.add_argument("--slice", type=int, dest="slice_chars",
                        help="only the first CHARS characters of each document")
    args = parser.parse_args()
    figures = run(args.seeds, vectors=not args.no_vectors, misses=args.misses,
                  questions=args.questions, slice_chars=args.slice_chars)
    print_figures(figures)


if __name__ == "__main__":
    main()
