"""The vector table: one embedding per chunk and model, searched by cosine similarity.

Vectors live in the one database (component ``knowledge_vectors``) as base64 text of
little-endian float32, scaled to unit length when stored, so cosine similarity is a dot
product. Search is brute force in pure Python over the tenant's vectors, held in memory per
process and reloaded when another write bumped the tenant's generation (one small query per
search tells). That is fine for thousands of chunks; numpy is not a dependency of Agentplane
and an approximate index is not needed at this size (docs/retrieval.md has the figures).
"""

from __future__ import annotations

import base64
import math
import operator
import sys
import threading
from array import array
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from agentplane.errors import AgentplaneError
from agentplane.storage import Database, Migration, migrate

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


class VectorError(AgentplaneError):
    """A vector does not fit the ones stored (another length) or is not usable (all zeros)."""


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


@dataclass
class _Loaded:
    generation: int
    ids: list[str]
    vectors: list[array[float]]


class VectorIndex:
    """Chunk vectors of every tenant and embedding model, kept in ``db``."""

    def __init__(self, db: Database) -> None:
        migrate(db, COMPONENT, MIGRATIONS)
        self.db = db
        self._cache: dict[tuple[str, str], _Loaded] = {}
        self._lock = threading.Lock()

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
        if len(query) != len(loaded.vectors[0]):
            raise VectorError(f"the query vector has {len(query)} dimensions, the stored "
                              f"vectors of {model!r} {len(loaded.vectors[0])}: index again "
                              "after changing the embedding model")
        q = unit(query)
        wanted = set(among) if among is not None else None
        scored = [(sum(map(operator.mul, q, v)), chunk_id)
                  for chunk_id, v in zip(loaded.ids, loaded.vectors, strict=True)
                  if wanted is None or chunk_id in wanted]
        scored.sort(key=lambda s: (-s[0], s[1]))
        return [(chunk_id, score) for score, chunk_id in scored[:limit]]

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
        with self._lock:
            loaded = self._cache.get((tenant, model))
            if loaded is None or loaded.generation != generation:
                rows = self.db.query(
                    "SELECT chunk_id, vector FROM knowledge_vectors WHERE tenant = ? AND"
                    " model = ? ORDER BY chunk_id", (tenant, model))
                loaded = _Loaded(generation, [str(r[0]) for r in rows],
                                 [unpack(str(r[1])) for r in rows])
                self._cache[(tenant, model)] = loaded
            return loaded
