"""The vector table: one embedding per chunk and model, searched by cosine similarity.

Vectors live in the one database (component ``knowledge_vectors``) as base64 text of
little-endian float32, scaled to unit length when stored, so cosine similarity is a dot
product. Search is brute force over the tenant's vectors, held in memory per process and
reloaded when another write bumped the tenant's generation (one small query per search tells):
with numpy when it is installed (a matrix product), else in pure Python, which is fine for a
few thousand chunks (docs/retrieval.md has the figures). numpy (the ``vectors`` extra) is not
a dependency of the core, so it is looked up at run time rather than imported.
"""

from __future__ import annotations

import base64
import importlib
import math
import operator
import sys
import threading
import weakref
from array import array
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

from agentplane.storage import Database, Migration, migrate

from .embeddings import EmbeddingError

COMPONENT = "knowledge_vectors"

MIGRATIONS = [Migration(1, """
CREATE TABLE IF NOT EXISTS knowledge_vectors (
    tenant TEXT NOT NULL,
    model TEXT NOT NULL,
    chunk_id TEXT NOT NULL,
    dimensions INTEGER NOT NULL,
    vector TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (tenant, model, chunk_id)
);
-- Bumped by every write: a process's in-memory copy of a tenant's vectors is current while
-- the generation it loaded is.
CREATE TABLE IF NOT EXISTS knowledge_vector_generations (
    tenant TEXT NOT NULL,
    model TEXT NOT NULL,
    generation INTEGER NOT NULL,
    PRIMARY KEY (tenant, model)
)
""", note="chunk embeddings per tenant and model")]


class VectorError(EmbeddingError):
    """A vector does not fit the ones stored (another length) or is not usable (all zeros).
    An :class:`EmbeddingError`: to a caller, vector search is unavailable either way."""


def pack(vector: Sequence[float]) -> str:
    """``vector`` as base64 text of little-endian float32."""
    values = array("f", vector)
    if sys.byteorder == "big":
        values.byteswap()
    return base64.b64encode(values.tobytes()).decode("ascii")


def unpack(text: str) -> array[float]:
    """The vector :func:`pack` wrote."""
    values = array("f")
    values.frombytes(base64.b64decode(text))
    if sys.byteorder == "big":
        values.byteswap()
    return values


def unit(vector: Sequence[float]) -> list[float]:
    """``vector`` scaled to length 1 (refused when it has no length)."""
    norm = math.sqrt(math.fsum(x * x for x in vector))
    if not norm or not math.isfinite(norm):
        raise VectorError("an all-zero or non-finite vector has no direction to compare")
    return [x / norm for x in vector]


@cache
def numpy_module() -> Any | None:
    """numpy if it is installed (typed loosely: it is optional, and not a dependency)."""
    try:
        return importlib.import_module("numpy")
    except ImportError:
        return None


@dataclass
class _Loaded:
    generation: int
    ids: list[str]
    vectors: list[array[float]]
    dimensions: int
    matrix: Any = None
    """With numpy: the vectors as one float32 matrix, a row per id."""


_CACHES: weakref.WeakKeyDictionary[Database, dict[tuple[str, str, bool], _Loaded]] = (
    weakref.WeakKeyDictionary())
"""Per database handle: each tenant's and model's vectors as last loaded (and how)."""
_LOCK = threading.Lock()


class VectorIndex:
    """Chunk vectors of every tenant and embedding model, kept in ``db``."""

    def __init__(self, db: Database, *, use_numpy: bool | None = None) -> None:
        """``use_numpy``: None uses it when it is installed; False always searches in pure
        Python."""
        migrate(db, COMPONENT, MIGRATIONS)
        self.db = db
        self._np = numpy_module() if use_numpy is not False else None
        if use_numpy and self._np is None:
            raise VectorError("use_numpy=True, but numpy is not installed")
        # Shared by every index on this handle (a server makes a retriever per request).
        with _LOCK:
            self._cache = _CACHES.setdefault(db, {})

    def has(self, tenant: str, model: str) -> set[str]:
        """Ids of the chunks with a vector of ``model``."""
        return {str(r[0]) for r in self.db.query(
            "SELECT chunk_id FROM knowledge_vectors WHERE tenant = ? AND model = ?",
            (tenant, model))}

    def put(self, tenant: str, model: str, vectors: Sequence[tuple[str, Sequence[float]]]
            ) -> None:
        """Store (replace) the vectors of chunks, scaled to unit length."""
        if not vectors:
            return
        sizes = {len(v) for _, v in vectors}
        stored = self._dimensions(tenant, model)
        if len(sizes) != 1 or (stored is not None and sizes != {stored}):
            raise VectorError(f"vectors of {model!r} for tenant {tenant!r} must all have the "
                              f"same length (stored: {stored}, given: {sorted(sizes)})")
        now = datetime.now(UTC).isoformat()
        rows = [(tenant, model, chunk_id, len(v), pack(unit(v)), now) for chunk_id, v in vectors]
        with self.db.transaction():
            self.db.executemany(
                "INSERT INTO knowledge_vectors(tenant, model, chunk_id, dimensions, vector,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (tenant, model, chunk_id)"
                " DO UPDATE SET dimensions = excluded.dimensions, vector = excluded.vector,"
                " created_at = excluded.created_at", rows)
            self._bump(tenant, model)

    def remove(self, tenant: str, chunk_ids: Collection[str]) -> int:
        """Forget the vectors (of every model) of ``chunk_ids``; returns how many went."""
        ids = list(chunk_ids)
        if not ids:
            return 0
        removed = 0
        with self.db.transaction():
            models = [str(r[0]) for r in self.db.query(
                "SELECT DISTINCT model FROM knowledge_vectors WHERE tenant = ?", (tenant,))]
            for start in range(0, len(ids), 500):
                part = ids[start:start + 500]
                marks = ", ".join("?" * len(part))
                removed += self.db.execute(
                    f"DELETE FROM knowledge_vectors WHERE tenant = ? AND chunk_id IN ({marks})",
                    (tenant, *part))
            for model in models:
                self._bump(tenant, model)
        return removed

    def search(self, tenant: str, model: str, query: Sequence[float], *, limit: int = 20,
               among: Collection[str] | None = None) -> list[tuple[str, float]]:
        """(chunk id, cosine similarity) of the ``limit`` nearest vectors, best first;
        ``among`` narrows the search to those chunk ids."""
        loaded = self._load(tenant, model)
        if not loaded.ids or limit <= 0:
            return []
        if len(query) != loaded.dimensions:
            raise VectorError(f"the query vector has {len(query)} dimensions, the stored "
                              f"vectors of {model!r} {loaded.dimensions}: index again "
                              "after changing the embedding model")
        q = unit(query)
        rows: list[int] | None = None
        if among is not None:
            wanted = set(among)
            rows = [n for n, chunk_id in enumerate(loaded.ids) if chunk_id in wanted]
        if self._np is not None:
            scored = self._numpy_scores(loaded, q, rows, limit)
        else:
            scored = [(sum(map(operator.mul, q, loaded.vectors[n])), loaded.ids[n])
                      for n in (range(len(loaded.ids)) if rows is None else rows)]
        scored.sort(key=lambda s: (-s[0], s[1]))
        return [(chunk_id, score) for score, chunk_id in scored[:limit]]

    def _numpy_scores(self, loaded: _Loaded, q: list[float], rows: list[int] | None,
                      limit: int) -> list[tuple[float, str]]:
        np: Any = self._np
        matrix = loaded.matrix if rows is None else loaded.matrix[rows]
        ids = loaded.ids if rows is None else [loaded.ids[n] for n in rows]
        # einsum runs in this thread; a BLAS matrix product spreads over threads that, on a
        # busy machine, wait on each other (measured 0.4-30 ms against einsum's steady 1-2 ms
        # at 10 k x 256).
        scores = np.einsum("ij,j->i", matrix, np.asarray(q, dtype=np.float32))
        if len(ids) > limit:  # the best `limit` (ties at the edge all kept, cut after sorting)
            edge = np.partition(scores, -limit)[-limit]
            picked = np.nonzero(scores >= edge)[0].tolist()
        else:
            picked = range(len(ids))
        return [(float(scores[i]), ids[i]) for i in picked]

    # -- internals ------------------------------------------------------------------------------

    def _dimensions(self, tenant: str, model: str) -> int | None:
        row = self.db.query_one("SELECT dimensions FROM knowledge_vectors WHERE tenant = ? AND"
                                " model = ? LIMIT 1", (tenant, model))
        return int(row[0]) if row else None

    def _bump(self, tenant: str, model: str) -> None:
        self.db.execute(
            "INSERT INTO knowledge_vector_generations(tenant, model, generation) VALUES (?, ?, 1)"
            " ON CONFLICT (tenant, model) DO UPDATE SET"
            " generation = knowledge_vector_generations.generation + 1", (tenant, model))

    def _generation(self, tenant: str, model: str) -> int:
        row = self.db.query_one("SELECT generation FROM knowledge_vector_generations WHERE"
                                " tenant = ? AND model = ?", (tenant, model))
        return int(row[0]) if row else 0

    def _load(self, tenant: str, model: str) -> _Loaded:
        generation = self._generation(tenant, model)
        key = (tenant, model, self._np is not None)
        with _LOCK:
            loaded = self._cache.get(key)
            if loaded is None or loaded.generation != generation:
                rows = self.db.query(
                    "SELECT chunk_id, dimensions, vector FROM knowledge_vectors WHERE"
                    " tenant = ? AND model = ? ORDER BY chunk_id", (tenant, model))
                ids = [str(r[0]) for r in rows]
                size = int(rows[0][1]) if rows else 0
                loaded = _Loaded(generation, ids, [], size)
                if self._np is not None and rows:
                    raw = b"".join(base64.b64decode(str(r[2])) for r in rows)
                    loaded.matrix = self._np.frombuffer(raw, dtype="<f4").reshape(len(ids), size)
                else:
                    loaded.vectors = [unpack(str(r[2])) for r in rows]
                self._cache[key] = loaded
            return loaded
