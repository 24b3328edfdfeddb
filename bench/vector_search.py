"""Vector search per query: brute-force cosine over a tenant's chunk vectors (SQLite).

Seeded random unit vectors (the test embedding's 256 dimensions) stand for chunk embeddings;
each query asks for the 80 nearest (the retriever's depth × 4). Figures: the first search of a
process (it loads the vectors from the database) and the median / p99 of the following ones,
searched with numpy (when installed), against the pure-Python search measured in the same run
on the same vectors. Loading and the pure-Python pass grow linearly with the vectors.

Run: .venv/bin/python bench/vector_search.py [--sizes 1000,10000] [--queries 30]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Figure, print_figures, scratch
from agentplane.knowledge.vectors import VectorIndex, numpy_module
from agentplane.storage import open_database

DIMENSIONS = 256
LIMIT = 80


def timings(index: VectorIndex, model: str, queries: list[list[float]]) -> list[float]:
    out = []
    for q in queries:
        started = time.perf_counter()
        index.search("t", model, q, limit=LIMIT)
        out.append((time.perf_counter() - started) * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description="vector search per query")
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--queries", type=int, default=30)
    args = parser.parse_args()
    if numpy_module() is None:
        sys.exit("numpy is not installed: only the pure-Python search would run")
    rng = random.Random(16)
    figures: list[Figure] = []
    with scratch() as folder:
        db = open_database(str(folder / "vectors.db"))
        try:
            writer = VectorIndex(db)
            for size in (int(s) for s in args.sizes.split(",")):
                model = f"bench-{size}"
                writer.put("t", model, [(f"kb:{n:07}", [rng.gauss(0, 1) for _ in range(
                    DIMENSIONS)]) for n in range(size)])
                queries = [[rng.gauss(0, 1) for _ in range(DIMENSIONS)]
                           for _ in range(args.queries)]
                fast, pure = VectorIndex(db, use_numpy=True), VectorIndex(db, use_numpy=False)
                first = timings(fast, model, queries[:1]) + timings(pure, model, queries[:1])
                a, b = sorted(timings(fast, model, queries)), sorted(timings(pure, model, queries))
                at = f"{size // 1000}k x {DIMENSIONS}"
                figures += [
                    Figure("vectors", f"first search (loads) numpy {at}", first[0], "ms",
                           first[1]),
                    Figure("vectors", f"search p50 numpy {at}", a[len(a) // 2], "ms",
                           b[len(b) // 2]),
                    Figure("vectors", f"search p99 numpy {at}", a[int(0.99 * (len(a) - 1))],
                           "ms", b[int(0.99 * (len(b) - 1))])]
        finally:
            db.close()
    print("baseline: the pure-Python search of the same vectors")
    print_figures(figures)


if __name__ == "__main__":
    main()
