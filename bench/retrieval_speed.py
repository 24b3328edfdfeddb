"""Retrieval speed: ingest throughput and query latency at 10 k and 100 k chunks, lexical only
and lexical + graph, on SQLite (and PostgreSQL with ``--postgres``), and context shaping's cost
per model call.

The chunks are synthetic: paragraphs of sentences drawn (seeded) from the benchmark corpus —
the Chinese reference documents and the English docs snapshot — mixed zh/en, each sized to be
one chunk. Figures, each against a baseline measured in the same run:

- ingest, chunks/s (``KnowledgeBase.add``: loading, chunking, tokenising, the BM25 postings);
  baseline: the same chunk texts as rows of a bare table in one ``executemany``;
- graph build, chunks/s (rule extraction and the graph's writes), same baseline;
- query latency p50 / p99 (``Retriever.search``, k = 5) over the labelled questions and
  fragments of corpus sentences; baseline: a plain ``SELECT`` of 5 chunks by id;
- context shaping per call (``shape`` + ``render_packet`` over the 5 passages), first seen and
  the same packets again (a run's next model call), against the lexical query it follows.

The graph is built at every size (its mentions are rows of their own table).

Run: .venv/bin/python bench/retrieval_speed.py [--sizes 10000,100000] [--seeds DIR]
     [--postgres URL|auto [--copy [--postgres-only]]] [--queries N] [--keep DIR]

``--copy`` fills PostgreSQL with the rows of the SQLite database of the same size (built in the
run, or kept from an earlier one with ``--keep``) instead of ingesting through PostgreSQL: its
query figures then come without ingest or graph build figures. Query latency is timed for
lexical, lexical + graph, and lexical + graph without the ``chars`` list (the retriever before
it, on the same database).
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _kbcorpus as corpus
from _common import Figure, print_figures, scratch, timed_ms
from agentplane.knowledge.graph import KnowledgeGraph
from agentplane.knowledge.ontology import load_ontology
from agentplane.knowledge.retrieve import Retriever, passage_item
from agentplane.knowledge.shaping import render_packet, shape
from agentplane.knowledge.store import KnowledgeBase
from agentplane.knowledge.text import count_tokens
from agentplane.storage import Database, open_database
from retrieval_quality import build_graph

K = 5
PARAGRAPHS_PER_DOCUMENT = 50
_SENTENCE = re.compile(r"[^。！？!?\n]+[。！？!?]|[^.\n]{20,}?\.(?=\s)")


def sentences(files: Sequence[corpus.SourceFile]) -> tuple[list[str], list[str]]:
    """Chinese and English sentences of the corpus (no headings, links or table rows)."""
    zh: list[str] = []
    en: list[str] = []
    for f in files:
        for match in _SENTENCE.finditer(f.text):
            s = " ".join(match.group().split())
            if 12 <= len(s) <= 400 and not s.startswith(("|", "#", "-", "!", "`")):
                (zh if f.language == "zh" else en).append(s)
    return zh, en


def paragraphs(zh: Sequence[str], en: Sequence[str], seed: int = 16) -> Iterator[str]:
    """Endless paragraphs of 150–380 estimated tokens (one chunk each), alternately Chinese
    and English with a sentence of the other language now and then."""
    rng = random.Random(seed)
    n = 0
    while True:
        main, other = (zh, en) if n % 2 == 0 else (en, zh)
        parts: list[str] = []
        tokens = 0
        while tokens < 150:
            s = rng.choice(other if rng.random() < 0.1 else main)
            cost = count_tokens(s)
            if tokens + cost > 380:
                break
            parts.append(s)
            tokens += cost
        if parts:
            yield " ".join(parts)
            n += 1


def ingest(kb: KnowledgeBase, chunks: int, source: Iterator[str]) -> tuple[int, float, list[str]]:
    """Documents of synthetic paragraphs until ``chunks`` chunks are stored: the count, the
    seconds taken and the texts (for the baseline)."""
    stored = 0
    texts: list[str] = []
    seconds = 0.0
    n = 0
    while stored < chunks:
        batch = [next(source) for _ in range(min(PARAGRAPHS_PER_DOCUMENT, chunks - stored))]
        texts += batch
        started = time.perf_counter()
        stored += kb.add(corpus.TENANT, f"synthetic-{n:06d}.txt", "\n\n".join(batch),
                         media_type="text/plain").added
        seconds += time.perf_counter() - started
        n += 1
    return stored, seconds, texts


def bare_insert(db: Database, texts: Sequence[str]) -> float:
    """Seconds to write the texts as rows of a table with no index: the floor for ingest."""
    db.execute("CREATE TABLE bench_bare (id TEXT, tenant TEXT, text TEXT)")
    started = time.perf_counter()
    with db.transaction():
        db.executemany("INSERT INTO bench_bare VALUES (?, ?, ?)",
                       [(f"c{i}", corpus.TENANT, t) for i, t in enumerate(texts)])
    return time.perf_counter() - started


def queries(zh: Sequence[str], en: Sequence[str], count: int, seed: int = 7) -> list[str]:
    """The labelled questions, then fragments of corpus sentences (a few words or characters),
    alternately Chinese and English, up to ``count``."""
    rng = random.Random(seed)
    out = [q.question for q in corpus.load_questions()][:count]
    while len(out) < count:
        if len(out) % 2:
            words = rng.choice(en).split()
            start = rng.randrange(max(1, len(words) - 6))
            out.append(" ".join(words[start:start + rng.randint(3, 6)]))
        else:
            s = rng.choice(zh)
            start = rng.randrange(max(1, len(s) - 12))
            out.append(s[start:start + rng.randint(6, 12)])
    return out


def latencies(call: Callable[[str], object], asked: Sequence[str]) -> list[float]:
    return timed_ms(call, asked, warm=10)


def paired(first: Callable[[str], object], second: Callable[[str], object],
           asked: Sequence[str], warm: int = 10) -> tuple[list[float], list[float]]:
    """Milliseconds of two calls on each input, timed back to back in alternating order."""
    for q in asked[:warm]:
        first(q)
        second(q)
    times: tuple[list[float], list[float]] = ([], [])
    for n, q in enumerate(asked):
        for which in ((0, 1) if n % 2 == 0 else (1, 0)):
            started = time.perf_counter()
            (first, second)[which](q)
            times[which].append((time.perf_counter() - started) * 1000)
    return times


def p(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def build(db: Database, size: int, zh: Sequence[str], en: Sequence[str], label: str = ""
          ) -> tuple[KnowledgeBase, KnowledgeGraph, int, list[Figure]]:
    """The knowledge base and graph of ``size`` synthetic chunks, with the ingest and graph
    build figures; a database that already holds them (``--keep``) is used as it is."""
    kb = KnowledgeBase(db)
    stored = kb.index.size(corpus.TENANT)
    if stored >= size:
        return kb, KnowledgeGraph(db, load_ontology(corpus.ONTOLOGY)), stored, []
    stored, seconds, texts = ingest(kb, size, paragraphs(zh, en))
    floor = bare_insert(db, texts)
    at = f"{label or db.dialect} {stored / 1000:g}k"
    figures = [Figure("kb_speed", f"ingest {at}", stored / seconds, "chunks/s",
                      len(texts) / floor)]
    started = time.perf_counter()
    knowledge_graph = build_graph(db, kb)[0]
    figures.append(Figure("kb_speed", f"graph build {at}",
                          stored / (time.perf_counter() - started), "chunks/s",
                          len(texts) / floor))
    return kb, knowledge_graph, stored, figures


def copied(db: Database, url: str, sqlite_path: Path
           ) -> tuple[KnowledgeBase, KnowledgeGraph, int]:
    """The knowledge base and graph of the SQLite database at ``sqlite_path``, copied into the
    PostgreSQL database ``db`` (at ``url``) after the components' migrations made its tables."""
    from _pgcopy import copy_tables

    kb = KnowledgeBase(db)
    knowledge_graph = KnowledgeGraph(db, load_ontology(corpus.ONTOLOGY))
    started = time.perf_counter()
    rows = copy_tables(sqlite_path, url)
    print(f"copied {sum(rows.values()):,} rows of {len(rows)} tables into PostgreSQL in "
          f"{time.perf_counter() - started:.0f} s", file=sys.stderr)
    return kb, knowledge_graph, kb.index.size(corpus.TENANT)


def measure(db: Database, label: str, size: int, files: Sequence[corpus.SourceFile],
            n_queries: int, copy_from: tuple[str, Path] | None = None) -> list[Figure]:
    zh, en = sentences(files)
    if copy_from is not None:
        kb, knowledge_graph, stored = copied(db, *copy_from)
        figures: list[Figure] = []
        label += " (copied)"
    else:
        kb, knowledge_graph, stored, figures = build(db, size, zh, en, label)
    at = f"{label} {stored / 1000:g}k"
    retriever = Retriever(kb, knowledge_graph)
    words_only = Retriever(kb, knowledge_graph, weights={"chars": 0.0})
    asked = queries(zh, en, n_queries)
    ids = [str(r[0]) for r in db.query("SELECT id FROM kb_chunks WHERE tenant = ? LIMIT 1000",
                                       (corpus.TENANT,))]
    rng = random.Random(3)

    def plain(_: str) -> object:
        pick = rng.sample(ids, K)
        return db.query("SELECT id, text FROM kb_chunks WHERE tenant = ? AND id IN "
                        "(?, ?, ?, ?, ?)", (corpus.TENANT, *pick))

    base = latencies(plain, asked)
    both = ("lexical", "graph")
    lexical = latencies(lambda q: retriever.search(corpus.TENANT, q, k=K, modes=("lexical",)),
                        asked)
    # With and without the chars list, timed in turns on each query (the order alternating),
    # so that both see the same load of the shared machine.
    graph, without = paired(
        lambda q: retriever.search(corpus.TENANT, q, k=K, modes=both),
        lambda q: words_only.search(corpus.TENANT, q, k=K, modes=both), asked)
    for name, times in [("lexical", lexical), ("lexical+graph", graph),
                        ("lexical+graph without chars", without)]:
        figures.append(Figure("kb_speed", f"query p50 {name} {at}", p(times, 0.5), "ms",
                              p(base, 0.5)))
        figures.append(Figure("kb_speed", f"query p99 {name} {at}", p(times, 0.99), "ms",
                              p(base, 0.99), "< 50 ms at 100k" if stored >= 100_000 else ""))
    extra = [a - b for a, b in zip(graph, without, strict=True)]
    figures.append(Figure("kb_speed", f"chars list's cost per query, median {at}",
                          p(extra, 0.5), "ms", p(without, 0.5)))
    figures += shaping(retriever, asked, at)
    return figures


def shaping(retriever: Retriever, asked: Sequence[str], at: str) -> list[Figure]:
    """Context shaping per model call (the packet of k passages, rendered), against the
    lexical query that found them."""
    found = {q: retriever.search(corpus.TENANT, q, k=K, modes=("lexical",)) for q in asked}
    query_ms = latencies(lambda q: retriever.search(corpus.TENANT, q, k=K, modes=("lexical",)),
                         asked)

    def shaped(q: str) -> object:
        return render_packet(shape(q, [passage_item(x) for x in found[q]], budget_tokens=2000))

    times = latencies(shaped, asked)
    again = latencies(shaped, asked)  # the same packets again: a run's next model call
    return [Figure("kb_speed", f"context shaping per call {at}",
                   statistics.mean(times), "ms", statistics.mean(query_ms)),
            Figure("kb_speed", f"context shaping per call, passages seen before {at}",
                   statistics.mean(again), "ms", statistics.mean(query_ms))]


@contextmanager
def database(folder: Path, postgres: str | None, size: int) -> Iterator[tuple[str, Database]]:
    """:func:`database_at` without the URL."""
    with database_at(folder, postgres, size) as (label, db, _):
        yield label, db


@contextmanager
def database_at(folder: Path, postgres: str | None, size: int
                ) -> Iterator[tuple[str, Database, str]]:
    """A SQLite file in ``folder`` (fresh, or kept from an earlier run with ``--keep``), or a
    new database on a PostgreSQL server (``auto``: one started here), and its URL."""
    if postgres is None:
        path = folder / f"speed-{size}.db"
        db = open_database(str(path))
        try:
            yield "sqlite", db, str(path)
        finally:
            db.close()
        return
    from _pg import BenchServer, bench_server

    with (bench_server() if postgres == "auto" else nullcontext(BenchServer(postgres))
          ) as server:
        url = server.create_database("kbspeed")
        db = open_database(url)
        try:
            yield "postgres", db, url
        finally:
            db.close()


def run(sizes: Sequence[int] = (10_000, 100_000), *, seeds: str | None = None,
        postgres: str | None = None, n_queries: int = 300, slice_chars: int | None = None,
        keep: str | None = None, copy: bool = False, skip_sqlite: bool = False
        ) -> list[Figure]:
    files = corpus.load_corpus(corpus.seeds_dir(seeds), limit=slice_chars)
    figures: list[Figure] = []
    with scratch() if keep is None else nullcontext(Path(keep)) as folder:
        folder.mkdir(parents=True, exist_ok=True)
        for size in sizes:
            for backend in [None, postgres] if postgres else [None]:
                if backend is None and skip_sqlite and copy:
                    with database(folder, None, size) as (_, db):
                        build(db, size, *sentences(files))  # only to copy from
                    continue
                with database_at(folder, backend, size) as (label, db, url):
                    source = (url, folder / f"speed-{size}.db") if backend and copy else None
                    figures += measure(db, label, size, files, n_queries, source)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000", help="chunk counts, comma-separated")
    parser.add_argument("--seeds", help="the reference documents' folder")
    parser.add_argument("--postgres", help="also on PostgreSQL: a server URL whose user may "
                                           "create databases, or 'auto' to start one")
    parser.add_argument("--queries", type=int, default=300, help="queries per mode")
    parser.add_argument("--keep", metavar="DIR",
                        help="keep the SQLite databases in DIR and reuse them on the next run "
                             "(no ingest or graph build figures then)")
    parser.add_argument("--copy", action="store_true",
                        help="fill PostgreSQL by copying the SQLite database of the same size "
                             "(query figures only) instead of ingesting through PostgreSQL")
    parser.add_argument("--postgres-only", action="store_true",
                        help="with --copy: time only the PostgreSQL queries (the SQLite "
                             "database is built or kept only to copy from)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    print_figures(run(sizes, seeds=args.seeds, postgres=args.postgres, n_queries=args.queries,
                      keep=args.keep, copy=args.copy, skip_sqlite=args.postgres_only))


if __name__ == "__main__":
    main()
