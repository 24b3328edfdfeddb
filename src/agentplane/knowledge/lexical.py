"""A BM25 index kept in the database, per component and per tenant.

Any component keeps one over its own items (``LexicalIndex(db, "kb")``, ``"memory"``,
``"tools"``). The index is a postings table — one row per (term, item) with the term's count in
the item — with each term's document frequency and each tenant's item count and total length
kept beside it, all written in the caller's transaction. It is therefore always in step with the
items (adds and removes are exact), survives restarts with nothing to rebuild, and is the same
SQL on SQLite and PostgreSQL (``docs/knowledge-base.md`` gives the measurements that chose it
over SQLite FTS5 and an in-memory ``bm25s`` index).

Scoring is Okapi BM25 (k1 = 1.2, b = 0.75, Lucene's non-negative idf), summed in SQL. A query
whose terms are all rare is scored exactly. When common terms would make the database sum over
many postings, the rare terms choose the candidates (the best ``CANDIDATES`` of them by their
partial score) and the common terms' contributions are then added for those candidates only:
an item that matches *only* common terms can be missed, as in any two-phase top-k evaluation.

Each tenant's totals row records the tokeniser version (``TOKENIZER_VERSION``) its terms were
made with, so an index never mixes two tokenisations: an index built by another version is
rebuilt from the owner's texts (``texts=``, as the knowledge base does) or refused with
:class:`StaleIndexError` until its owner calls :meth:`LexicalIndex.rebuild`.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from typing import Any

from agentplane.errors import AgentplaneError
from agentplane.storage import Database, Migration, migrate

from .text import TOKENIZER_VERSION, tokens

COMPONENT = "lexical"
K1 = 1.2
B = 0.75
POSTINGS_BUDGET = 5_000
"""Postings a query may sum over in one pass; beyond this, the two-phase evaluation above."""
CANDIDATES = 100
"""Candidates the rare terms choose in a two-phase evaluation (at least ``4 × limit``)."""
PROBES = 2_000
"""At most this many (common term, candidate) probes per query (at least ``4 × limit``
candidates)."""
_BATCH = 500
"""Ids per ``IN (...)`` list (well under both back-ends' parameter limits)."""
_PAIRS = 1000
"""(term, item) pairs per probing query (3 parameters each)."""

_V1 = """
CREATE TABLE IF NOT EXISTS lexical_items (
    ix TEXT NOT NULL, tenant TEXT NOT NULL, item TEXT NOT NULL,
    length INTEGER NOT NULL, terms TEXT NOT NULL,
    PRIMARY KEY (ix, tenant, item));
CREATE TABLE IF NOT EXISTS lexical_postings (
    ix TEXT NOT NULL, tenant TEXT NOT NULL, term TEXT NOT NULL, item TEXT NOT NULL,
    tf INTEGER NOT NULL, length INTEGER NOT NULL,
    PRIMARY KEY (ix, tenant, term, item)){without_rowid};
CREATE TABLE IF NOT EXISTS lexical_terms (
    ix TEXT NOT NULL, tenant TEXT NOT NULL, term TEXT NOT NULL, df INTEGER NOT NULL,
    PRIMARY KEY (ix, tenant, term)){without_rowid};
CREATE TABLE IF NOT EXISTS lexical_stats (
    ix TEXT NOT NULL, tenant TEXT NOT NULL, items INTEGER NOT NULL, length BIGINT NOT NULL,
    PRIMARY KEY (ix, tenant))
"""

MIGRATIONS = (
    # Postings clustered by term (SQLite WITHOUT ROWID): a term's list is one range read.
    Migration(1, _V1.format(without_rowid=" WITHOUT ROWID"), postgresql=_V1.format(
        without_rowid=""), note="lexical_items, lexical_postings, lexical_terms, lexical_stats"),
    # The tokeniser version of each tenant's index; rows from before it (NULL) are version 1.
    Migration(2, "ALTER TABLE lexical_stats ADD COLUMN tokenizer TEXT",
              note="lexical_stats.tokenizer"),
)
_FIRST_VERSION = "1"
"""What an index written before versions were recorded was built with."""


class StaleIndexError(AgentplaneError):
    """An index's terms were made by another tokeniser version than this one's."""


def _batches(values: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(values), _BATCH):
        yield values[start:start + _BATCH]


def _marks(n: int) -> str:
    return ", ".join("?" * n)


class LexicalIndex:
    """BM25 over the items one component keeps, per tenant. ``add`` and ``remove`` join the
    caller's transaction when there is one (``with db.transaction(): ...``)."""

    def __init__(self, db: Database, name: str, *,
                 texts: Callable[[str], Iterable[tuple[str, str]]] | None = None) -> None:
        """``texts(tenant)`` gives every ``(id, text)`` the index should hold: with it, a
        tenant's index built by another tokeniser version is rebuilt on first use; without
        it, that index is refused (:class:`StaleIndexError`)."""
        self.db = db
        self.name = name
        self.texts = texts
        self._current: set[str] = set()  # tenants whose index is known to be this version's
        migrate(db, COMPONENT, MIGRATIONS)

    # -- writing ---------------------------------------------------------------------------

    def add(self, tenant: str, items: Sequence[tuple[str, str]]) -> None:
        """Index ``(id, text)`` pairs; an id already indexed is replaced."""
        self.add_terms(tenant, [(item, tokens(text)) for item, text in dict(items).items()])

    def add_terms(self, tenant: str, items: Sequence[tuple[str, Sequence[str]]]) -> None:
        """Index ``(id, terms)`` pairs whose text is already split into search terms (as
        :func:`~agentplane.knowledge.text.tokens` splits it; queries are split that way)."""
        if not items:
            return
        prepared = [(item, Counter(terms)) for item, terms in dict(items).items()]
        with self.db.transaction():
            self._lock(tenant)
            if tenant not in self._current:
                row = self.db.query_one("SELECT items, tokenizer FROM lexical_stats "
                                        "WHERE ix = ? AND tenant = ?", (self.name, tenant))
                assert row is not None  # _lock made it
                self._ensure_version(tenant, row[1], int(row[0]))
            self._remove([item for item, _ in prepared], tenant)
            postings: list[tuple[Any, ...]] = []
            rows: list[tuple[Any, ...]] = []
            df: Counter[str] = Counter()
            length = 0
            for item, counts in prepared:
                size = sum(counts.values())
                length += size
                rows.append((self.name, tenant, item, size,
                             json.dumps(sorted(counts), ensure_ascii=False)))
                postings.extend((self.name, tenant, term, item, tf, size)
                                for term, tf in counts.items())
                df.update(counts.keys())
            self.db.executemany(
                "INSERT INTO lexical_items(ix, tenant, item, length, terms) VALUES (?, ?, ?, ?, ?)",
                rows)
            postings.sort(key=lambda row: (row[2], row[3]))  # in key order: local B-tree writes
            self.db.executemany(
                "INSERT INTO lexical_postings(ix, tenant, term, item, tf, length) "
                "VALUES (?, ?, ?, ?, ?, ?)", postings)
            self._count(tenant, df, len(rows), length)

    def remove(self, tenant: str, ids: Sequence[str]) -> None:
        """Take items out of the index (ids not indexed are ignored)."""
        if ids:
            with self.db.transaction():
                self._lock(tenant)
                self._remove(list(dict.fromkeys(ids)), tenant)

    def _lock(self, tenant: str) -> None:
        """Lock the tenant's totals row before any term row: writers of one tenant's index
        then queue here instead of locking term rows in orders that can deadlock (a remove
        and an add in one transaction each lock their terms, then the totals)."""
        self.db.execute(
            "INSERT INTO lexical_stats(ix, tenant, items, length, tokenizer) "
            "VALUES (?, ?, 0, 0, ?) "
            "ON CONFLICT (ix, tenant) DO UPDATE SET items = lexical_stats.items",
            (self.name, tenant, TOKENIZER_VERSION))

    # -- tokeniser versions ----------------------------------------------------------------

    def _ensure_version(self, tenant: str, version: str | None, items: int) -> None:
        """Make sure ``tenant``'s index holds this tokeniser's terms: an empty index is
        stamped, a stale one rebuilt from ``texts`` or refused."""
        found = version or _FIRST_VERSION
        if found != TOKENIZER_VERSION:
            if items and self.texts is None:
                raise StaleIndexError(
                    f"lexical index {self.name!r} of tenant {tenant!r} holds terms of tokeniser "
                    f"version {found}, and this Agentplane splits text as version "
                    f"{TOKENIZER_VERSION}: its owner must rebuild it "
                    f"(LexicalIndex.rebuild with every item's text) before it is used again")
            if items:
                assert self.texts is not None
                self.rebuild(tenant, list(self.texts(tenant)))
            else:
                self.db.execute("UPDATE lexical_stats SET tokenizer = ? WHERE ix = ? AND "
                                "tenant = ?", (TOKENIZER_VERSION, self.name, tenant))
        self._current.add(tenant)

    def version(self, tenant: str) -> str | None:
        """The tokeniser version ``tenant``'s index was built with (None: nothing indexed)."""
        row = self.db.query_one("SELECT tokenizer FROM lexical_stats WHERE ix = ? AND "
                                "tenant = ?", (self.name, tenant))
        return None if row is None else str(row[0] or _FIRST_VERSION)

    def rebuild(self, tenant: str, items: Sequence[tuple[str, str]]) -> None:
        """Replace ``tenant``'s whole index by ``items`` (``(id, text)``), tokenised by this
        version, in one transaction."""
        with self.db.transaction():
            self._lock(tenant)
            for table in ("lexical_postings", "lexical_terms", "lexical_items"):
                self.db.execute(f"DELETE FROM {table} WHERE ix = ? AND tenant = ?",
                                (self.name, tenant))
            self.db.execute("UPDATE lexical_stats SET items = 0, length = 0, tokenizer = ? "
                            "WHERE ix = ? AND tenant = ?", (TOKENIZER_VERSION, self.name, tenant))
            self._current.add(tenant)
            for start in range(0, len(items), 1000):
                self.add(tenant, items[start:start + 1000])

    def _remove(self, ids: Sequence[str], tenant: str) -> None:
        df: Counter[str] = Counter()
        removed = length = 0
        for batch in _batches(ids):
            found = self.db.query(
                f"SELECT item, length, terms FROM lexical_items WHERE ix = ? AND tenant = ? "
                f"AND item IN ({_marks(len(batch))})", (self.name, tenant, *batch))
            for item, size, terms in found:
                names = json.loads(terms)
                self.db.executemany(
                    "DELETE FROM lexical_postings WHERE ix = ? AND tenant = ? AND term = ? "
                    "AND item = ?", [(self.name, tenant, term, item) for term in names])
                df.update({term: -1 for term in names})
                removed += 1
                length += int(size)
            if found:
                self.db.execute(
                    f"DELETE FROM lexical_items WHERE ix = ? AND tenant = ? "
                    f"AND item IN ({_marks(len(batch))})", (self.name, tenant, *batch))
        if removed:
            self._count(tenant, df, -removed, -length)

    def _count(self, tenant: str, df: Counter[str], items: int, length: int) -> None:
        self.db.executemany(
            "INSERT INTO lexical_terms(ix, tenant, term, df) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (ix, tenant, term) DO UPDATE SET df = lexical_terms.df + excluded.df",
            [(self.name, tenant, term, n) for term, n in sorted(df.items())])
        if items < 0:
            self.db.execute("DELETE FROM lexical_terms WHERE ix = ? AND tenant = ? AND df <= 0",
                            (self.name, tenant))
        self.db.execute(
            "INSERT INTO lexical_stats(ix, tenant, items, length) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (ix, tenant) DO UPDATE SET items = lexical_stats.items + excluded.items, "
            "length = lexical_stats.length + excluded.length",
            (self.name, tenant, items, length))

    # -- reading ---------------------------------------------------------------------------

    def size(self, tenant: str) -> int:
        """How many items of ``tenant`` are indexed."""
        row = self.db.query_one("SELECT items FROM lexical_stats WHERE ix = ? AND tenant = ?",
                                (self.name, tenant))
        return int(row[0]) if row else 0

    def search(self, tenant: str, query: str | Mapping[str, float], *, limit: int = 20,
               among: Collection[str] | None = None) -> list[tuple[str, float]]:
        """The best ``limit`` items for ``query``, as ``(id, score)`` best first; ``among``
        restricts the answer to those ids. ``query`` is text, or search terms with a weight
        each (a term's BM25 contribution is multiplied by it; text weighs each term 1)."""
        asked = (dict.fromkeys(tokens(query), 1.0) if isinstance(query, str)
                 else {t: float(w) for t, w in query.items() if w > 0})
        terms = sorted(asked)
        if not terms or limit <= 0 or (among is not None and not among):
            return []
        # One round trip: the tenant's totals (the row with an empty term) and each term's df.
        rows = self.db.query(
            "SELECT '', items, length, tokenizer FROM lexical_stats WHERE ix = ? AND tenant = ?"
            + " UNION ALL SELECT term, df, 0, NULL FROM lexical_terms "
              "WHERE ix = ? AND tenant = ? AND term = ?" * len(terms),
            [self.name, tenant, *(x for t in terms for x in (self.name, tenant, t))])
        found = {str(term): (int(a), int(b)) for term, a, b, _ in rows}
        stamp = [version for term, _, _, version in rows if term == ""]
        if stamp and (stamp[0] or _FIRST_VERSION) != TOKENIZER_VERSION:
            with self.db.transaction():
                self._lock(tenant)  # then read again: another writer may have rebuilt it
                row = self.db.query_one("SELECT items, tokenizer FROM lexical_stats "
                                        "WHERE ix = ? AND tenant = ?", (self.name, tenant))
                assert row is not None
                self._ensure_version(tenant, row[1], int(row[0]))
            return self.search(tenant, query, limit=limit, among=among)
        n, total = found.pop("", (0, 0))
        if not n:
            return []
        avgdl = max(total / n, 1.0)
        df = {term: d for term, (d, _) in found.items()}
        weights = {t: asked[t] * idf(n, d) for t, d in df.items() if d > 0}
        if not weights:
            return []
        if among is not None:
            scores = self._score_items(tenant, weights, list(dict.fromkeys(among)), avgdl)
            return _top(scores, limit)
        # Rarest first: they choose the candidates when the whole sum would be too large.
        order = sorted(weights, key=lambda t: (df[t], t))
        rare: list[str] = []
        postings = 0
        for term in order:
            if rare and postings + df[term] > POSTINGS_BUDGET:
                break
            rare.append(term)
            postings += df[term]
        common = order[len(rare):]
        # Candidates × common terms primary-key probes: capped, since on PostgreSQL each probe
        # is a round of its executor (400 candidates × 20 common terms took 250 ms).
        pool = limit if not common else max(4 * limit, min(CANDIDATES, PROBES // len(common)))
        scored = self._score_terms(tenant, {t: weights[t] for t in rare}, avgdl, pool)
        if common and scored:
            extra = self._score_items(tenant, {t: weights[t] for t in common},
                                      [item for item, _ in scored], avgdl)
            scored = [(item, score + extra.get(item, 0.0)) for item, score in scored]
        return _top(dict(scored), limit)

    def stats(self, tenant: str, terms: Collection[str]) -> tuple[int, dict[str, int]]:
        """How many items ``tenant``'s index holds, and in how many of them each of ``terms``
        occurs (terms in none are left out)."""
        wanted = sorted(set(terms))
        counts: dict[str, int] = {}
        for batch in _batches(wanted):
            counts.update((str(t), int(d)) for t, d in self.db.query(
                f"SELECT term, df FROM lexical_terms WHERE ix = ? AND tenant = ? "
                f"AND term IN ({_marks(len(batch))})", (self.name, tenant, *batch)))
        return self.size(tenant), {t: d for t, d in counts.items() if d > 0}

    def item_terms(self, tenant: str, items: Sequence[str]) -> dict[str, tuple[int, list[str]]]:
        """Each indexed item's length (in terms, repeats counted) and its distinct terms."""
        out: dict[str, tuple[int, list[str]]] = {}
        for batch in _batches(list(dict.fromkeys(items))):
            for item, length, terms in self.db.query(
                    f"SELECT item, length, terms FROM lexical_items WHERE ix = ? AND tenant = ? "
                    f"AND item IN ({_marks(len(batch))})", (self.name, tenant, *batch)):
                out[str(item)] = (int(length), [str(t) for t in json.loads(terms)])
        return out

    def _terms_sql(self, tenant: str, weights: dict[str, float], avgdl: float
                   ) -> tuple[str, list[Any]]:
        """Each term's BM25 contributions, one ``UNION ALL`` branch per term: every branch is a
        range read of one posting list by primary key, whatever the planner's statistics say
        (one ``term IN (...)`` lets PostgreSQL scan all of a tenant's postings instead)."""
        branches: list[str] = []
        params: list[Any] = []
        for term, idf in weights.items():
            branches.append("SELECT item, ? * tf / (tf + ? + ? * length) AS part "
                            "FROM lexical_postings WHERE ix = ? AND tenant = ? AND term = ?")
            # Floats bound as parameters keep PostgreSQL's arithmetic in double precision.
            params += [idf * (K1 + 1), K1 * (1 - B), K1 * B / avgdl, self.name, tenant, term]
        return " UNION ALL ".join(branches), params

    def _score_terms(self, tenant: str, weights: dict[str, float], avgdl: float,
                     limit: int) -> list[tuple[str, float]]:
        union, params = self._terms_sql(tenant, weights, avgdl)
        rows = self.db.query(f"SELECT item, SUM(part) AS score FROM ({union}) parts "
                             f"GROUP BY item ORDER BY score DESC, item LIMIT ?",
                             (*params, limit))
        return [(str(item), float(score)) for item, score in rows]

    @property
    def _probe(self) -> str:
        """The join from (term, item, weight) rows to their postings, as primary-key probes.
        PostgreSQL gets it as a LATERAL subquery: a plain join let its planner, with young
        statistics, hash the tenant's whole posting list instead (200 ms at 2 k items)."""
        where = ("p.ix = ? AND p.tenant = ? AND p.term = v.column1 AND p.item = v.column2")
        if self.db.dialect == "postgresql":
            # LIMIT 1 (a primary key finds one row anyway) keeps the planner from flattening
            # the subquery back into a join.
            return ("CROSS JOIN LATERAL (SELECT item, tf, length FROM lexical_postings p "
                    f"WHERE {where} LIMIT 1) p")
        return f"JOIN lexical_postings p ON {where}"

    def _score_items(self, tenant: str, weights: dict[str, float], items: Sequence[str],
                     avgdl: float) -> dict[str, float]:
        """Each item's score over ``weights``' terms (items without them are left out): one
        primary-key probe per (term, item), so a common term's long posting list is not read."""
        pairs = [(term, item) for item in dict.fromkeys(items) for term in weights]
        scores: dict[str, float] = {}
        for start in range(0, len(pairs), _PAIRS):
            batch = pairs[start:start + _PAIRS]
            values = ", ".join(["(?, ?, ?)"] * len(batch))
            rows = self.db.query(
                f"SELECT p.item, SUM(v.column3 * p.tf / (p.tf + ? + ? * p.length)) "
                f"FROM (VALUES {values}) v {self._probe} "
                f"GROUP BY p.item",
                (K1 * (1 - B), K1 * B / avgdl,
                 *(x for term, item in batch for x in (term, item, weights[term] * (K1 + 1))),
                 self.name, tenant))
            for item, score in rows:
                scores[str(item)] = scores.get(str(item), 0.0) + float(score)
        return scores


def idf(items: int, df: int) -> float:
    """BM25's inverse document frequency of a term found in ``df`` of ``items`` items
    (Lucene's form: never negative)."""
    return math.log(1 + (items - df + 0.5) / (df + 0.5))


def _top(scores: dict[str, float], limit: int) -> list[tuple[str, float]]:
    return sorted(scores.items(), key=lambda pair: (-pair[1], pair[0]))[:limit]
