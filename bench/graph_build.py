"""Knowledge-graph build time at 10 k, 50 k and 100 k chunks: chunks/s per size, so a
super-linear build shows as a falling rate.

The chunks are the retrieval speed bench's synthetic paragraphs (sentences of the Chinese
reference documents and the English docs snapshot, seeded), made into ``Chunk`` values
directly (no knowledge base: ingest is not what is measured). The benchmark's rules
(``bench/data/kb/rules.yaml``) extract each chunk's candidates once, before timing; the timed
part is ``KnowledgeGraph.extract`` replaying them: the ontology checks and the graph's writes.
Common entities recur in tens of thousands of chunks, which is what made the per-entity list
of chunk ids quadratic.

Baseline, in the same run and database: the same rows (one per entity mention, one per
relation) into bare tables with no index, in one ``executemany`` each — the floor for writing
what the graph writes.

Run: .venv/bin/python bench/graph_build.py [--sizes 10000,50000,100000] [--seeds DIR]
     [--postgres URL|auto] [--batch N]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from itertools import islice
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _kbcorpus as corpus
from _common import Figure, print_figures, scratch
from agentplane.knowledge.extract import Candidates, load_rules
from agentplane.knowledge.graph import EXTRACT_BATCH, KnowledgeGraph
from agentplane.knowledge.ontology import Ontology, load_ontology
from agentplane.knowledge.types import Chunk
from agentplane.storage import Database
from retrieval_speed import database, paragraphs, sentences


def synthetic(size: int, seeds: str | None, slice_chars: int | None = None) -> list[Chunk]:
    """``size`` one-paragraph chunks, alternately Chinese and English."""
    zh, en = sentences(corpus.load_corpus(corpus.seeds_dir(seeds), limit=slice_chars))
    return [Chunk(id=f"kb:{n:07d}", tenant=corpus.TENANT, document_id=f"doc-{n // 50:05d}",
                  source=f"synthetic-{n // 50:05d}.txt", text=text, position=n % 50)
            for n, text in enumerate(islice(paragraphs(zh, en), size))]


def candidates(chunks: Sequence[Chunk], ontology: Ontology) -> dict[str, Candidates]:
    rules = load_rules(corpus.RULES, ontology)
    return {c.id: rules.extract(c.text) for c in chunks}


def bare_rows(db: Database, chunks: Sequence[Chunk], found: dict[str, Candidates]) -> float:
    """Seconds to write one row per entity mention and per relation into bare tables."""
    db.script("CREATE TABLE bench_mentions (tenant TEXT, type TEXT, name TEXT, chunk TEXT);"
              "CREATE TABLE bench_facts (tenant TEXT, subject TEXT, relation TEXT, object TEXT, "
              "chunk TEXT)")
    mentions = [(corpus.TENANT, e.type, e.name, c.id) for c in chunks
                for e in found[c.id].entities]
    facts = [(corpus.TENANT, r.subject, r.relation, r.object, c.id) for c in chunks
             for r in found[c.id].relations]
    started = time.perf_counter()
    with db.transaction():
        db.executemany("INSERT INTO bench_mentions VALUES (?, ?, ?, ?)", mentions)
        if facts:
            db.executemany("INSERT INTO bench_facts VALUES (?, ?, ?, ?, ?)", facts)
    return time.perf_counter() - started


def measure(db: Database, label: str, chunks: Sequence[Chunk], found: dict[str, Candidates],
            ontology: Ontology, batch: int) -> list[Figure]:
    graph = KnowledgeGraph(db, ontology)

    async def replay(chunk: Chunk, ontology: Ontology) -> Candidates:
        return found[chunk.id]

    started = time.perf_counter()
    report = graph.extract(corpus.TENANT, chunks, replay, batch=batch)
    seconds = time.perf_counter() - started
    baseline = bare_rows(db, chunks, found)
    size = len(chunks)
    row = db.query_one("SELECT COUNT(*) FROM kg_entities")
    print(f"{label} {size:>7,} chunks: {seconds:8.1f} s, {size / seconds:8.0f} chunks/s "
          f"(bare rows {size / baseline:,.0f} chunks/s); {row[0] if row else 0:,} entities, "
          f"{len(report.entities):,} mentions, {len(report.relations):,} relations, "
          f"{len(report.rejected):,} rejected", flush=True)
    return [Figure("graph_build", f"graph build, {label}, {size // 1000} k chunks",
                   size / seconds, "chunks/s", size / baseline)]


def run(sizes: Sequence[int] = (10_000, 50_000, 100_000), *, seeds: str | None = None,
        postgres: str | None = None, batch: int = EXTRACT_BATCH,
        slice_chars: int | None = None) -> list[Figure]:
    ontology = load_ontology(corpus.ONTOLOGY)
    chunks = synthetic(max(sizes), seeds, slice_chars)
    started = time.perf_counter()
    found = candidates(chunks, ontology)
    print(f"rule extraction (not timed below): {len(chunks):,} chunks in "
          f"{time.perf_counter() - started:.1f} s", flush=True)
    figures: list[Figure] = []
    with scratch() as folder:
        for size in sizes:
            for backend in [None, postgres] if postgres else [None]:
                with database(folder, backend, size) as (label, db):
                    figures += measure(db, label, chunks[:size], found, ontology, batch)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,50000,100000",
                        help="chunk counts, comma-separated")
    parser.add_argument("--seeds", help="the reference documents' folder")
    parser.add_argument("--postgres", help="also on PostgreSQL: a server URL whose user may "
                                           "create databases, or 'auto' to start one")
    parser.add_argument("--batch", type=int, default=EXTRACT_BATCH,
                        help="chunks per transaction of the graph's writes")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    print_figures(run(sizes, seeds=args.seeds, postgres=args.postgres, batch=args.batch))


if __name__ == "__main__":
    main()
