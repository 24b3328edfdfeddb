"""Which lexical engine the knowledge base uses: index time and query p50 / p99 at 10 k and
100 k chunks of mixed Chinese and English, for each candidate, on this machine.

Candidates (every one gets the same pre-segmented terms: ``knowledge.text.tokens``):

- ``postings/sqlite``, ``postings/postgresql``: ``LexicalIndex`` — BM25 summed in SQL over a
  postings table kept in the database (what Agentplane uses);
- ``fts5/sqlite``: SQLite FTS5 over the terms joined by spaces, ranked by its ``bm25()``;
- ``tsvector/postgresql``: PostgreSQL full text (``'simple'`` configuration over the joined
  terms, GIN index, ``ts_rank``; not BM25);
- ``bm25s/memory``: the ``bm25s`` library's sparse-matrix BM25 in memory (k1 = 1.2, Lucene's
  idf: the same formula as the postings), rebuilt from the terms after a restart or a change.

The chunks are the synthetic paragraphs of ``retrieval_speed.py`` (sentences of the corpus,
150–380 estimated tokens each); the queries are its labelled questions and sentence fragments.
Tokenising is measured once, apart, since every engine needs it. ``top-5 agreement`` is the
share of each engine's top 5 that ``bm25s`` (exact BM25) also ranks in its top 5. Baseline of
the latencies: a plain ``SELECT`` of 5 chunks by primary key from the same SQLite file.

Run: .venv/bin/python bench/lexical_engines.py [--sizes 10000,100000] [--queries 300]
     [--engines postings/sqlite,fts5/sqlite,...] [--postgres URL|auto|none] [--seeds DIR]
     [--keep-stop-words]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _kbcorpus as corpus
from _common import Figure, print_figures, scratch
from agentplane.knowledge.lexical import LexicalIndex
from agentplane.knowledge.text import tokens
from agentplane.storage import Database, open_database
from retrieval_speed import latencies, p, paragraphs, queries, sentences

ENGINES = ("postings/sqlite", "postings/postgresql", "fts5/sqlite", "tsvector/postgresql",
           "bm25s/memory")
TENANT = "bench"
K = 5
Search = Callable[[str], list[str]]


def postings(db: Database, terms: Sequence[list[str]]) -> tuple[float, Search]:
    index = LexicalIndex(db, "bench")
    started = time.perf_counter()
    for start in range(0, len(terms), 1000):  # a document's worth of chunks per transaction
        index.add_terms(TENANT, [(f"c{i}", terms[i])
                                 for i in range(start, min(start + 1000, len(terms)))])
    seconds = time.perf_counter() - started
    return seconds, lambda q: [i for i, _ in index.search(TENANT, q, limit=K)]


def _full_text(db: Database, terms: Sequence[list[str]], create: str, insert: str,
               select: str, quote: Callable[[str], str], join: str) -> tuple[float, Search]:
    """A database's own full-text engine over the terms joined by spaces: ``select`` gets the
    query's terms quoted and joined (an OR query), the tenant and ``K``."""
    db.script(create)
    started = time.perf_counter()
    for start in range(0, len(terms), 1000):
        with db.transaction():
            db.executemany(insert, [(TENANT, f"c{i}", " ".join(terms[i]))
                                    for i in range(start, min(start + 1000, len(terms)))])
    seconds = time.perf_counter() - started

    def search(q: str) -> list[str]:
        unique = sorted(set(tokens(q)))
        if not unique:
            return []
        match = join.join(quote(t) for t in unique)
        return [str(r[0]) for r in db.query(select, (match, TENANT, K))]

    return seconds, search


def fts5(db: Database, terms: Sequence[list[str]]) -> tuple[float, Search]:
    return _full_text(
        db, terms,
        "CREATE VIRTUAL TABLE bench_fts USING fts5(tenant UNINDEXED, item UNINDEXED, body, "
        "tokenize = \"unicode61 remove_diacritics 0 tokenchars '.'\")",
        "INSERT INTO bench_fts(tenant, item, body) VALUES (?, ?, ?)",
        "SELECT item FROM bench_fts WHERE bench_fts MATCH 'body: (' || ? || ')' "
        "AND tenant = ? ORDER BY bm25(bench_fts) LIMIT ?",
        lambda t: '"' + t.replace('"', '""') + '"', " OR ")


def tsvector(db: Database, terms: Sequence[list[str]]) -> tuple[float, Search]:
    return _full_text(
        db, terms,
        "CREATE TABLE bench_ts (tenant TEXT NOT NULL, item TEXT NOT NULL, "
        "body TSVECTOR NOT NULL); CREATE INDEX bench_ts_body ON bench_ts USING GIN (body)",
        "INSERT INTO bench_ts VALUES (?, ?, to_tsvector('simple', ?))",
        "SELECT item FROM bench_ts, to_tsquery('simple', ?) query WHERE tenant = ? "
        "AND body @@ query ORDER BY ts_rank(body, query) DESC LIMIT ?",
        lambda t: "'" + t.replace("'", "''") + "'", " | ")


def bm25s_memory(terms: Sequence[list[str]]) -> tuple[float, Search]:
    import bm25s

    started = time.perf_counter()
    vocabulary: dict[str, int] = {}
    ids = [[vocabulary.setdefault(t, len(vocabulary)) for t in doc] for doc in terms]
    retriever = bm25s.BM25(k1=1.2, b=0.75, method="lucene")
    retriever.index(bm25s.tokenization.Tokenized(ids=ids, vocab=vocabulary),
                    show_progress=False)
    seconds = time.perf_counter() - started

    def search(q: str) -> list[str]:
        wanted = [t for t in dict.fromkeys(tokens(q)) if t in vocabulary]
        if not wanted:
            return []
        scores = retriever.get_scores(wanted)
        top = scores.argsort()[::-1][:K]
        return [f"c{int(i)}" for i in top if scores[int(i)] > 0]

    return seconds, search


def db_url(db: Database, postgres: Any) -> str:
    """The URL of a bench database on the PostgreSQL server (with its credentials)."""
    name = str(db.query_one("SELECT current_database()")[0])  # type: ignore[index]
    return str(postgres.url).rsplit("/", 1)[0] + "/" + name


def restart(url: str, query: str, name: str) -> Figure:
    """After a restart: open the database and answer a first query — no index to rebuild."""
    started = time.perf_counter()
    db = open_database(url)
    try:
        LexicalIndex(db, "bench").search(TENANT, query, limit=K)
    finally:
        db.close()
    return Figure("lexical", name, (time.perf_counter() - started) * 1000, "ms",
                  goal="open + first query")


def agreement(results: dict[str, list[str]], exact: dict[str, list[str]]) -> float:
    shared = [len(set(results[q]) & set(exact[q])) / max(len(exact[q]), 1)
              for q in exact if exact[q]]
    return sum(shared) / max(len(shared), 1)


def measure(size: int, files: Sequence[corpus.SourceFile], asked: Sequence[str],
            engines: Sequence[str], postgres: Any, folder: Path) -> list[Figure]:
    zh, en = sentences(files)
    source = paragraphs(zh, en)
    texts = [next(source) for _ in range(size)]
    started = time.perf_counter()
    terms = [tokens(t) for t in texts]
    tokenising = time.perf_counter() - started
    at = f"{size // 1000}k"
    figures = [Figure("lexical", f"tokenise {at} chunks (jieba + Latin)", tokenising, "s",
                      goal=f"{sum(map(len, terms)) / size:.0f} terms/chunk")]
    plain = open_database(f"sqlite:///{folder / f'plain-{size}.db'}")
    plain.execute("CREATE TABLE chunks (id TEXT PRIMARY KEY, text TEXT NOT NULL)")
    with plain.transaction():
        plain.executemany("INSERT INTO chunks VALUES (?, ?)",
                          [(f"c{i}", t) for i, t in enumerate(texts)])
    picks = [f"c{(i * 7919) % size}" for i in range(K)]
    base = latencies(lambda _: plain.query(
        "SELECT id, text FROM chunks WHERE id IN (?, ?, ?, ?, ?)", picks), asked)
    results: dict[str, dict[str, list[str]]] = {}
    for engine in engines:
        kind, backend = engine.split("/")
        with ExitStack() as stack:
            if backend == "memory":
                seconds, search = bm25s_memory(terms)
            else:
                if backend == "postgresql":
                    if postgres is None:
                        continue
                    db = open_database(postgres.create_database(f"lex_{kind}"))
                else:
                    db = open_database(f"sqlite:///{folder / f'{kind}-{size}.db'}")
                stack.callback(db.close)
                build = {"postings": postings, "fts5": fts5, "tsvector": tsvector}[kind]
                seconds, search = build(db, terms)
            results[engine] = {q: search(q) for q in asked}
            times = latencies(search, asked)
            if kind == "postings":
                figures.append(restart(db.url if backend == "sqlite" else db_url(db, postgres),
                                       asked[0], f"{engine} restart {at}"))
        figures += [
            Figure("lexical", f"{engine} index {at}", size / seconds, "chunks/s",
                   goal=f"{seconds:.1f} s"),
            Figure("lexical", f"{engine} query p50 {at}", p(times, 0.5), "ms", p(base, 0.5)),
            Figure("lexical", f"{engine} query p99 {at}", p(times, 0.99), "ms", p(base, 0.99),
                   "< 50 ms at 100k" if size >= 100_000 else ""),
        ]
    if "bm25s/memory" in results:
        for engine, found in results.items():
            figures.append(Figure("lexical", f"{engine} top-5 agreement with exact {at}",
                                  agreement(found, results["bm25s/memory"]), "share"))
    plain.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument("--postgres", default="auto",
                        help="a server URL, 'auto' (start one) or 'none'")
    parser.add_argument("--seeds", help="the reference documents' folder")
    parser.add_argument("--keep-stop-words", action="store_true",
                        help="index and query the stop-words too (to measure what they cost)")
    args = parser.parse_args()
    if args.keep_stop_words:
        import agentplane.knowledge.text

        agentplane.knowledge.text.STOP_WORDS = frozenset()
    files = corpus.load_corpus(corpus.seeds_dir(args.seeds))
    zh, en = sentences(files)
    asked = queries(zh, en, args.queries)
    engines = [e for e in args.engines.split(",") if e]
    unknown = set(engines) - set(ENGINES)
    if unknown:
        parser.error(f"unknown engines {sorted(unknown)}; known: {', '.join(ENGINES)}")
    figures: list[Figure] = []
    with ExitStack() as stack:
        server: Any = None
        if args.postgres != "none" and any(e.endswith("/postgresql") for e in engines):
            from _pg import BenchServer, bench_server

            server = (BenchServer(args.postgres) if args.postgres != "auto"
                      else stack.enter_context(bench_server()))
        folder = stack.enter_context(scratch())
        for size in (int(s) for s in args.sizes.split(",")):
            figures += measure(size, files, asked, engines, server, folder)
            print_figures(figures)
            print(flush=True)


if __name__ == "__main__":
    main()
