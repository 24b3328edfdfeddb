"""Hybrid retrieval: lexical search, graph expansion and optional vectors, fused by rank.

Each retriever ranks a tenant's current chunks on its own:

- ``lexical`` — BM25 over jieba-segmented Chinese and plain English terms
  (:meth:`KnowledgeBase.lexical`);
- ``graph`` — the entities the question names (:meth:`KnowledgeGraph.entities_in`) and the
  chunks behind them and their neighbours (:meth:`KnowledgeGraph.chunks_for`). Each entity
  counts by how specific it is, like a term in BM25: ``log(1 + chunks / chunks it was found
  in)`` times the graph's nearness score; an entity found in more than :data:`GENERIC_SHARE`
  of the tenant's chunks (and more than :data:`GENERIC_MIN`) narrows nothing and is left out.
  Chunks scored alike are ordered by their BM25 score for the question;
- ``vector`` — cosine similarity of embeddings from an OpenAI-compatible endpoint, when an
  :class:`Embeddings` is configured (the offline path needs none: the mode is skipped).

With ``lexical``, a question with Chinese characters also gets the ``chars`` list: lexical
search's first candidates (and graph expansion's) ranked again by the character unigrams and
bigrams they share with the question (:mod:`.chars`), for paraphrases word-level BM25 cannot
match. Pseudo-relevance feedback (:mod:`.feedback`) can replace the lexical list with a search
expanded from its best passages; it is off by default (it did not help on the labelled set).

The lists are fused by reciprocal rank fusion: a chunk's score is the sum over the lists that
hold it of ``weight / (rrf_k + rank)`` (rank 1 = best), so a chunk that several retrievers
agree on rises, and no retriever's raw scores need to be comparable with another's. The same
filters (trust, sources, validity at a time, ingested since) apply to every retriever, and
chunks of superseded documents never come back. :class:`Passage.via` says which retrievers
found each passage.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from agentplane.errors import ConfigError

from .chars import char_grams, keep_other_scripts
from .chars import rank as rank_by_chars
from .feedback import Feedback, expand
from .store import KnowledgeBase, timestamp
from .types import Chunk, ContextItem, Passage, TrustLevel

if TYPE_CHECKING:
    from .embeddings import Embeddings
    from .graph import KnowledgeGraph
    from .vectors import VectorIndex

MODES = ("lexical", "graph", "vector")
LISTS = ("lexical", "chars", "graph", "vector")
"""The ranked lists fusion reads: the modes, and ``chars`` — lexical search's candidates ranked
again by the Chinese characters they share with the question (:mod:`.chars`), made whenever
``lexical`` is asked for and the question has CJK characters."""
RRF_K = 60
"""The rank-fusion constant: larger flattens the advantage of the very top ranks (60 is the
value of Cormack et al., 2009, which the RRF literature keeps)."""
WEIGHTS: Mapping[str, float] = {"lexical": 1.0, "chars": 1.0, "graph": 0.5, "vector": 1.0}
"""Each list's weight in the fused score (0 leaves a list out). Graph expansion says a chunk is
*about* something the question names, not that it answers it: at full weight its list
displaced lexical answers on the labelled question set; ``chars`` was chosen on half of that
set (docs/retrieval.md has the measurements)."""
CHAR_POOL = 20
"""Lexical search's candidates (with graph expansion's) that the ``chars`` list ranks again."""
DEPTH = 20
"""How many chunks each retriever contributes to the fusion."""
GRAPH_POOL = 200
"""The most chunks graph expansion proposes before filtering (its best scored)."""
HOPS = 1
"""How far graph expansion walks from the entities a question names."""
FEEDBACK: Feedback | None = None
"""Pseudo-relevance feedback for the lexical list (:mod:`.feedback`): off by default — on the
labelled question set it lowered recall@5 at every setting tried (docs/retrieval.md); give
``feedback=Feedback()`` to turn it on."""
GENERIC_SHARE = 0.02
GENERIC_MIN = 20
"""An entity linked to more chunks than both is too general to expand a question with."""


@dataclass(frozen=True, slots=True)
class Filters:
    """What every retriever's chunks must satisfy (the arguments of :meth:`Retriever.search`)."""

    trust: TrustLevel | None = None
    sources: frozenset[str] | None = None
    valid_at: str | None = None
    """Normalised (:func:`agentplane.knowledge.store.timestamp`): compares as text."""
    since: str | None = None

    @classmethod
    def of(cls, trust: TrustLevel | None, sources: Sequence[str] | None, valid_at: str | None,
           since: str | None) -> Filters:
        if trust not in (None, "trusted", "untrusted"):
            raise ConfigError(f"trust must be 'trusted' or 'untrusted' (got {trust!r})")
        if isinstance(sources, str):
            raise ConfigError(f"sources must be a list of sources, not the string {sources!r}")
        return cls(trust, frozenset(sources) if sources is not None else None,
                   timestamp(valid_at, "valid_at"), timestamp(since, "since"))

    def admit(self, chunk: Chunk) -> bool:
        """The same conditions as :meth:`KnowledgeBase.lexical` applies in SQL."""
        if self.trust is not None and chunk.trust != self.trust:
            return False
        if self.sources is not None and chunk.source not in self.sources:
            return False
        if self.valid_at is not None and (
                (chunk.valid_from is not None and chunk.valid_from > self.valid_at)
                or (chunk.valid_until is not None and chunk.valid_until <= self.valid_at)):
            return False
        return self.since is None or chunk.ingested_at > self.since


def fuse(lists: Mapping[str, Sequence[Chunk]], weights: Mapping[str, float], rrf_k: float,
         k: int) -> list[Passage]:
    """Reciprocal rank fusion of ranked chunk lists (best first) into the top ``k`` passages;
    ties go to the chunk with the better single rank, then to the smaller id."""
    score: dict[str, float] = {}
    best: dict[str, int] = {}
    via: dict[str, list[str]] = {}
    chunks: dict[str, Chunk] = {}
    for mode in LISTS:
        for rank, chunk in enumerate(lists.get(mode, ()), start=1):
            if mode in via.get(chunk.id, ()):
                continue  # a list that repeats a chunk counts it once, at its best rank
            chunks.setdefault(chunk.id, chunk)
            score[chunk.id] = score.get(chunk.id, 0.0) + weights.get(mode, 0.0) / (rrf_k + rank)
            best[chunk.id] = min(best.get(chunk.id, rank), rank)
            via.setdefault(chunk.id, []).append(mode)
    order = sorted(score, key=lambda i: (-score[i], best[i], i))
    return [Passage(chunks[i], score[i], tuple(via[i])) for i in order[:k]]


class Retriever:
    """Hybrid search over a tenant's knowledge base (see the module docstring).

    ``weights``: per list (missing ones keep :data:`WEIGHTS`); ``rrf_k``: the fusion
    constant; ``depth``: chunks each retriever contributes; ``hops``: graph expansion's reach;
    ``feedback``: pseudo-relevance feedback for the lexical list (off by default);
    ``char_pool``: lexical candidates the ``chars`` list ranks again.
    Vectors are kept in ``kb``'s database (``knowledge_vectors``) and computed by
    :meth:`index_vectors` for chunks that have none yet.
    """

    def __init__(self, kb: KnowledgeBase, graph: KnowledgeGraph | None = None,
                 embeddings: Embeddings | None = None, *,
                 weights: Mapping[str, float] | None = None, rrf_k: float = RRF_K,
                 depth: int = DEPTH, hops: int = HOPS,
                 feedback: Feedback | None = FEEDBACK, char_pool: int = CHAR_POOL) -> None:
        unknown = sorted(set(weights or {}) - set(LISTS))
        if unknown:
            raise ConfigError(f"retrieval weights name unknown retrievers {unknown}; "
                              f"known: {', '.join(LISTS)}")
        self.weights = {**WEIGHTS, **(weights or {})}
        if any(w < 0 for w in self.weights.values()) or rrf_k < 0 or depth < 1 or \
                char_pool < 1:
            raise ConfigError(f"retrieval settings out of range: weights {self.weights} must "
                              f"be ≥ 0, rrf_k ({rrf_k}) ≥ 0, depth ({depth}) ≥ 1 and "
                              f"char_pool ({char_pool}) ≥ 1")
        self.kb = kb
        self.graph = graph
        self.embeddings = embeddings
        self.rrf_k = rrf_k
        self.depth = depth
        self.hops = hops
        self.feedback = feedback
        self.char_pool = char_pool
        self._vectors: VectorIndex | None = None

    @property
    def vectors(self) -> VectorIndex:
        """The vector table (created on first use)."""
        if self._vectors is None:
            from .vectors import VectorIndex

            self._vectors = VectorIndex(self.kb.db)
        return self._vectors

    # -- search -------------------------------------------------------------------------------

    def search(self, tenant: str, query: str, *, k: int = 5, modes: Sequence[str] = MODES,
               trust: TrustLevel | None = None, sources: Sequence[str] | None = None,
               valid_at: str | None = None, since: str | None = None) -> list[Passage]:
        """The ``k`` best passages for ``query``, fused from ``modes``; filters apply to each.
        Blocking (vectors need an HTTP call: the runtime uses :meth:`asearch`)."""
        filters, wanted = self._prepare(k, modes, trust, sources, valid_at, since)
        if not query.strip():
            return []
        lists = self._local_lists(tenant, query, filters, wanted)
        if "vector" in wanted and self.embeddings is not None:
            (vector,) = self.embeddings.embed([query])
            lists["vector"] = self._vector_list(tenant, vector, filters)
        return fuse(lists, self.weights, self.rrf_k, k)

    async def asearch(self, tenant: str, query: str, *, k: int = 5,
                      modes: Sequence[str] = MODES, trust: TrustLevel | None = None,
                      sources: Sequence[str] | None = None, valid_at: str | None = None,
                      since: str | None = None) -> list[Passage]:
        """:meth:`search` for an event loop: the query's embedding is fetched without
        blocking it (the database reads are short and stay synchronous)."""
        filters, wanted = self._prepare(k, modes, trust, sources, valid_at, since)
        if not query.strip():
            return []
        lists = self._local_lists(tenant, query, filters, wanted)
        if "vector" in wanted and self.embeddings is not None:
            (vector,) = await self.embeddings.aembed([query])
            lists["vector"] = self._vector_list(tenant, vector, filters)
        return fuse(lists, self.weights, self.rrf_k, k)

    def _prepare(self, k: int, modes: Sequence[str], trust: TrustLevel | None,
                 sources: Sequence[str] | None, valid_at: str | None, since: str | None
                 ) -> tuple[Filters, frozenset[str]]:
        wanted = frozenset(modes)
        if not wanted or not wanted <= set(MODES) or isinstance(modes, str):
            raise ConfigError(f"retrieval modes must be some of {', '.join(MODES)} "
                              f"(got {modes!r})")
        if k < 1:
            raise ConfigError(f"k must be at least 1 (got {k})")
        return Filters.of(trust, sources, valid_at, since), wanted

    def _local_lists(self, tenant: str, query: str, filters: Filters, wanted: frozenset[str]
                     ) -> dict[str, list[Chunk]]:
        lists: dict[str, list[Chunk]] = {}
        by_chars = "lexical" in wanted and self.weights["chars"] > 0 and bool(char_grams(query))
        found: list[tuple[Chunk, float]] = []
        if "lexical" in wanted:
            found = self.kb.lexical(
                tenant, query, limit=max(self.depth, self.char_pool) if by_chars else self.depth,
                trust=filters.trust,
                sources=sorted(filters.sources) if filters.sources is not None else None,
                valid_at=filters.valid_at, since=filters.since)
            first = found[:self.depth]
            lists["lexical"] = [chunk for chunk, _ in first]
            if self.feedback is not None and first:
                lists["lexical"] = self._feedback_list(tenant, query, first, filters)
        if "graph" in wanted and self.graph is not None:
            lists["graph"] = self._graph_list(tenant, query, filters)
        if by_chars:
            ranked = rank_by_chars(
                query, [chunk for chunk, _ in found] + lists.get("graph", []), self.depth)
            lists["chars"] = keep_other_scripts(lists.get("lexical", []), ranked, self.depth)
        return lists

    def _feedback_list(self, tenant: str, query: str, found: Sequence[tuple[Chunk, float]],
                       filters: Filters) -> list[Chunk]:
        """The lexical list searched again with the question expanded from its first pass's
        best passages (:mod:`.feedback`); the first pass when nothing was added."""
        assert self.feedback is not None
        terms = expand(self.kb.index, tenant, query, [(c.id, s) for c, s in found],
                       self.feedback)
        if all(weight == 1.0 for weight in terms.values()):
            return [chunk for chunk, _ in found]
        want = self.depth * 2
        while True:
            ranked = [item for item, _ in self.kb.index.search(tenant, terms, limit=want)]
            chunks = self._first_admitted(tenant, ranked, filters)
            if len(chunks) >= self.depth or len(ranked) < want:
                return chunks
            want *= 4

    def _graph_list(self, tenant: str, query: str, filters: Filters) -> list[Chunk]:
        assert self.graph is not None
        # Entities without their chunk ids: how specific each is is counted in SQL, at most
        # up to the generic limit, so a question naming "AI" (found in a third of all
        # chunks) reads none of its tens of thousands of mentions.
        named = [e.id for e in self.graph.entities_in(tenant, query, mentions=False)]
        if not named:
            return []
        total = max(self.kb.index.size(tenant), 1)
        generic = int(max(GENERIC_MIN, GENERIC_SHARE * total))
        score: dict[str, float] = {}
        for entity, own in self.graph.mention_counts(tenant, named, cap=generic + 1).items():
            if own > generic:
                continue
            specific = math.log(1 + total / max(own, 1))
            for chunk_id, near in self.graph.chunks_for(tenant, [entity], self.hops,
                                                        max_mentions=generic):
                score[chunk_id] = score.get(chunk_id, 0.0) + specific * near
        if not score:
            return []
        pool = sorted(score, key=lambda i: (-score[i], i))[:GRAPH_POOL]
        bm25 = dict(self.kb.index.search(tenant, query, limit=len(pool), among=pool))
        # Rounded: sums of the same terms in another order must tie, for BM25 to decide.
        order = sorted(pool, key=lambda i: (-round(score[i], 9), -bm25.get(i, 0.0), i))
        return self._first_admitted(tenant, order, filters)

    def _first_admitted(self, tenant: str, ids: Sequence[str], filters: Filters
                        ) -> list[Chunk]:
        """The first :attr:`depth` of ``ids`` that :meth:`_admitted` keeps, read a slice at a
        time (a pool of 200 chunks is not read whole when its first 40 suffice)."""
        out: list[Chunk] = []
        step = self.depth * 2
        for start in range(0, len(ids), step):
            out += self._admitted(tenant, ids[start:start + step], filters)
            if len(out) >= self.depth:
                break
        return out[:self.depth]

    def _vector_list(self, tenant: str, vector: Sequence[float], filters: Filters
                     ) -> list[Chunk]:
        assert self.embeddings is not None
        want = self.depth * 4
        while True:
            found = self.vectors.search(tenant, self.embeddings.model, vector, limit=want)
            chunks = self._admitted(tenant, [i for i, _ in found], filters)
            if len(chunks) >= self.depth or len(found) < want:
                return chunks[:self.depth]
            want *= 4

    def _admitted(self, tenant: str, ids: Sequence[str], filters: Filters) -> list[Chunk]:
        """The chunks of ``ids`` (in order) that are current and pass ``filters``."""
        chunks = [c for c in self.kb.chunks(tenant, ids) if filters.admit(c)]
        current = self._current(tenant, {c.document_id for c in chunks})
        return [c for c in chunks if c.document_id in current]

    def _current(self, tenant: str, documents: set[str]) -> set[str]:
        """Which of ``documents`` are current (not superseded): a lookup by primary key in
        the knowledge base's table, instead of listing every document of the tenant."""
        wanted = sorted(documents)
        current: set[str] = set()
        for start in range(0, len(wanted), 500):
            batch = wanted[start:start + 500]
            current.update(str(r[0]) for r in self.kb.db.query(
                "SELECT id FROM kb_documents WHERE tenant = ? AND superseded_by IS NULL AND "
                f"id IN ({', '.join('?' * len(batch))})", (tenant, *batch)))
        return current

    # -- vectors ------------------------------------------------------------------------------

    def _pending(self, tenant: str) -> tuple[list[Chunk], set[str]]:
        """Current chunks without a vector of the configured model, and vectors of chunks
        that are no longer current (superseded or removed)."""
        if self.embeddings is None:
            raise ConfigError("no embeddings endpoint is configured: give the Retriever an "
                              "Embeddings to index vectors (retrieval works without them)")
        live: list[Chunk] = []
        for document in self.kb.documents(tenant):
            live += self.kb.document_chunks(tenant, document.id)
        have = self.vectors.has(tenant, self.embeddings.model)
        return [c for c in live if c.id not in have], have - {c.id for c in live}

    def _store(self, tenant: str, chunks: Sequence[Chunk], vectors: Sequence[Sequence[float]],
               stale: set[str]) -> int:
        assert self.embeddings is not None
        self.vectors.put(tenant, self.embeddings.model,
                         [(c.id, v) for c, v in zip(chunks, vectors, strict=True)])
        self.vectors.remove(tenant, stale)
        return len(chunks)

    def index_vectors(self, tenant: str) -> int:
        """Embed the tenant's current chunks that have no vector yet (and forget the vectors
        of chunks no longer current); returns how many were embedded. Run after ingesting."""
        missing, stale = self._pending(tenant)
        assert self.embeddings is not None
        vectors = self.embeddings.embed([_embedded_text(c) for c in missing])
        return self._store(tenant, missing, vectors, stale)

    async def aindex_vectors(self, tenant: str) -> int:
        """:meth:`index_vectors` without blocking an event loop on HTTP."""
        missing, stale = self._pending(tenant)
        assert self.embeddings is not None
        vectors = await self.embeddings.aembed([_embedded_text(c) for c in missing])
        return self._store(tenant, missing, vectors, stale)


def _embedded_text(chunk: Chunk) -> str:
    """What is embedded of a chunk: its heading path too, as the lexical index sees it."""
    return f"{chunk.title}\n{chunk.text}" if chunk.title else chunk.text


def passage_item(p: Passage) -> ContextItem:
    """A retrieved passage as a context item for :func:`~agentplane.knowledge.shaping.shape`.

    Its time is when the chunk became valid (else when it was ingested). A chunk takes part in
    conflict detection only when its ``meta`` states a fact — ``subject``, ``relation`` and
    ``value`` (e.g. a record ingested with those fields) —; its text is never parsed for one.
    """
    chunk = p.chunk
    meta = chunk.meta
    fact = [meta.get(name) for name in ("subject", "relation", "value")]
    subject, relation, value = (
        [str(x) for x in fact] if all(isinstance(x, str | int | float) and not isinstance(
            x, bool) for x in fact) else [None, None, None])
    return ContextItem(id=chunk.id, kind="chunk", text=chunk.text, source=chunk.source,
                       trust=chunk.trust, score=p.score,
                       time=chunk.valid_from or chunk.ingested_at or None,
                       valid_until=chunk.valid_until, subject=subject, relation=relation,
                       value=value)
