"""The knowledge base: a tenant's documents as chunks that keep their provenance.

A document is identified by its tenant, its source and a hash of its content and provenance;
re-adding a source with the same content and provenance changes nothing, with anything else it
supersedes the source's current document (whose chunks leave search but stay readable, so old
context packets can still be explained). Each document is written in one transaction: a
document that fails to load or chunk leaves nothing behind. Chunks are searched by the lexical
index ``kb`` (``lexical.py``); filters by trust, source, validity and ingestion time apply to
what it finds.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agentplane.storage import Database, Migration, migrate

from . import loaders
from .chunking import chunk_text
from .lexical import LexicalIndex
from .loaders import IngestError
from .types import Chunk, TrustLevel

COMPONENT = "knowledge"
INDEX = "kb"

_V1 = """
CREATE TABLE IF NOT EXISTS kb_documents (
    id TEXT PRIMARY KEY, tenant TEXT NOT NULL, source TEXT NOT NULL, title TEXT,
    content_hash TEXT NOT NULL, media_type TEXT NOT NULL, trust TEXT NOT NULL, owner TEXT,
    ingested_at TEXT NOT NULL, valid_from TEXT, valid_until TEXT, chunks INTEGER NOT NULL,
    superseded_by TEXT, meta TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS kb_documents_source ON kb_documents(tenant, source);
CREATE TABLE IF NOT EXISTS kb_chunks (
    id TEXT PRIMARY KEY, tenant TEXT NOT NULL, document_id TEXT NOT NULL,
    position INTEGER NOT NULL, text TEXT NOT NULL, title TEXT, meta TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS kb_chunks_document ON kb_chunks(document_id, position)
"""
MIGRATIONS = (Migration(1, _V1, note="kb_documents, kb_chunks"),)

_DOC_COLUMNS = ("id, tenant, source, title, content_hash, media_type, trust, owner, ingested_at, "
                "valid_from, valid_until, chunks, superseded_by")
_CHUNK_SELECT = ("SELECT c.id, c.tenant, c.document_id, d.source, c.text, c.position, d.trust, "
                 "d.owner, d.ingested_at, d.valid_from, d.valid_until, c.title, c.meta "
                 "FROM kb_chunks c JOIN kb_documents d ON d.id = c.document_id ")


@dataclass(frozen=True, slots=True)
class Document:
    """One version of a source in a tenant's knowledge base."""

    id: str
    tenant: str
    source: str
    title: str | None
    content_hash: str
    """SHA-256 of the content as given (bytes, or the text's UTF-8)."""
    media_type: str
    trust: TrustLevel
    owner: str | None
    ingested_at: str
    """ISO-8601 UTC."""
    valid_from: str | None
    valid_until: str | None
    chunks: int
    superseded_by: str | None
    """The id of the document that replaced this one (None while it is current)."""


@dataclass(frozen=True, slots=True)
class IngestResult:
    """What one ``add`` did."""

    document: Document
    added: int
    """Chunks added to search."""
    removed: int
    """Chunks of the superseded document taken out of search."""
    unchanged: bool
    """The source already had this content and provenance: nothing was written."""
    superseded: str | None
    """The id of the document this one replaced."""


def _hash(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def chunk_id(tenant: str, document_id: str, position: int, text: str) -> str:
    """A chunk's stable id: derived from where it is and what it says."""
    return "kb:" + _hash(tenant, document_id, str(position), text)[:24]


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def timestamp(value: str | None, what: str) -> str | None:
    """An ISO-8601 date or time as UTC text that compares in time order (a date is its
    midnight UTC; a time without a zone is taken as UTC)."""
    if value is None or value == "":
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise IngestError(f"{what}: {value!r} is not an ISO-8601 date or time "
                          "(e.g. 2026-01-31 or 2026-01-31T09:00:00Z)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _document(row: Sequence[Any]) -> Document:
    return Document(str(row[0]), str(row[1]), str(row[2]), row[3], str(row[4]), str(row[5]),
                    row[6], row[7], str(row[8]), row[9], row[10], int(row[11]), row[12])


def _chunk(row: Sequence[Any]) -> Chunk:
    return Chunk(id=str(row[0]), tenant=str(row[1]), document_id=str(row[2]),
                 source=str(row[3]), text=str(row[4]), position=int(row[5]), trust=row[6],
                 owner=row[7], ingested_at=str(row[8]), valid_from=row[9], valid_until=row[10],
                 title=row[11], meta=json.loads(row[12]))


def _marks(n: int) -> str:
    return ", ".join("?" * n)


class KnowledgeBase:
    """A tenant-scoped store of documents and their chunks, with lexical search."""

    def __init__(self, db: Database) -> None:
        self.db = db
        migrate(db, COMPONENT, MIGRATIONS)
        # An index of another tokeniser version is rebuilt from the current chunks.
        self.index = LexicalIndex(db, INDEX, texts=self._indexed_texts)

    # -- adding ----------------------------------------------------------------------------

    def add(self, tenant: str, source: str, content: str | bytes, *,
            media_type: str | None = None, trust: TrustLevel = "trusted",
            owner: str | None = None, title: str | None = None, valid_from: str | None = None,
            valid_until: str | None = None, meta: Mapping[str, Any] | None = None
            ) -> IngestResult:
        """Add a document (text, Markdown, HTML, PDF; CSV and JSON go to ``add_records``)."""
        kind = loaders.media_type_for(source, media_type)
        if kind in loaders.RECORD_TYPES:
            records = loaders.load_records(content, kind, source)
            return self.add_records(tenant, source, records, key=None, trust=trust,
                                    owner=owner, title=title, valid_from=valid_from,
                                    valid_until=valid_until, meta=meta, media_type=kind,
                                    content=content)
        loaded = loaders.load(content, kind, source)
        pieces: list[tuple[str, str | None, Mapping[str, Any]]] = [
            (p.text, p.title, {}) for p in chunk_text(loaded.text)]
        if not pieces:
            raise IngestError(f"{source}: the document has no text to index")
        return self._write(tenant, source, content, kind, pieces, trust=trust, owner=owner,
                           title=title or loaded.title, valid_from=valid_from,
                           valid_until=valid_until, meta=meta)

    def add_records(self, tenant: str, source: str, records: Sequence[Mapping[str, Any]], *,
                    key: str | None = None, trust: TrustLevel = "trusted",
                    owner: str | None = None, title: str | None = None,
                    valid_from: str | None = None, valid_until: str | None = None,
                    meta: Mapping[str, Any] | None = None, media_type: str = loaders.JSON,
                    content: str | bytes | None = None) -> IngestResult:
        """Add structured records (CSV rows, JSON objects) as one document with one chunk per
        record: the chunk's text is the record's ``key: value`` lines, its ``meta`` the record;
        ``key`` names the field that identifies a record (it becomes the chunk's title)."""
        if not records:
            raise IngestError(f"{source}: no records to add")
        pieces: list[tuple[str, str | None, Mapping[str, Any]]] = []
        for number, record in enumerate(records, 1):
            if key is not None and key not in record:
                raise IngestError(f"{source}: record {number} has no field {key!r}")
            pieces.append((loaders.render_record(record),
                           None if key is None else str(record[key]), dict(record)))
        raw = content if content is not None else json.dumps(
            [dict(r) for r in records], ensure_ascii=False, sort_keys=True, default=str)
        return self._write(tenant, source, raw, media_type, pieces, trust=trust, owner=owner,
                           title=title, valid_from=valid_from, valid_until=valid_until,
                           meta=meta)

    def add_file(self, tenant: str, path: str | Path, **same: Any) -> IngestResult:
        """Add a file, read by its suffix (txt, md, html, pdf, csv, json, jsonl); its source is
        the path as given unless ``source=`` says otherwise."""
        file = Path(path)
        try:
            data = file.read_bytes()
        except OSError as exc:
            raise IngestError(f"{file}: cannot read it ({exc.strerror or exc})") from None
        source = str(same.pop("source", None) or file)
        media_type = same.pop("media_type", None) or loaders.media_type_for(file.name, file=True)
        return self.add(tenant, source, data, media_type=media_type, **same)

    def add_url(self, tenant: str, url: str, **same: Any) -> IngestResult:
        """Fetch ``url`` and add it (media type from the Content-Type header, else the
        suffix); its source is the URL unless ``source=`` says otherwise."""
        import httpx

        try:
            response = httpx.get(url, follow_redirects=True, timeout=30.0)
            response.raise_for_status()
        except httpx.HTTPError as exc:
            raise IngestError(f"{url}: could not fetch it ({exc})") from None
        source = str(same.pop("source", None) or url)
        media_type = same.pop("media_type", None) or loaders.media_type_for(
            url, response.headers.get("content-type"))
        return self.add(tenant, source, response.content, media_type=media_type, **same)

    def _write(self, tenant: str, source: str, content: str | bytes, media_type: str,
               pieces: Sequence[tuple[str, str | None, Mapping[str, Any]]], *,
               trust: TrustLevel, owner: str | None, title: str | None,
               valid_from: str | None, valid_until: str | None,
               meta: Mapping[str, Any] | None) -> IngestResult:
        if trust not in ("trusted", "untrusted"):
            raise IngestError(f"{source}: trust must be 'trusted' or 'untrusted', not {trust!r}")
        start = timestamp(valid_from, f"{source}: valid_from")
        end = timestamp(valid_until, f"{source}: valid_until")
        if start and end and end <= start:
            raise IngestError(f"{source}: valid_until ({valid_until}) is not after valid_from "
                              f"({valid_from})")
        body = content.encode() if isinstance(content, str) else content
        content_hash = hashlib.sha256(body).hexdigest()
        extra = json.dumps(dict(meta or {}), ensure_ascii=False, sort_keys=True, default=str)
        doc_id = "doc:" + _hash(tenant, source, content_hash, media_type, trust, owner or "",
                                title or "", start or "", end or "", extra)[:24]
        now = _now()
        with self.db.transaction():
            if self.db.dialect == "postgresql":  # one writer per source at a time
                self.db.query("SELECT pg_advisory_xact_lock(hashtext(?))",
                              (f"kb\x1f{tenant}\x1f{source}",))
            current = self._current(tenant, source)
            if current is not None and current.id == doc_id:
                return IngestResult(current, 0, 0, True, None)
            known = self.db.query_one("SELECT 1 FROM kb_documents WHERE id = ?", (doc_id,))
            if known:  # this version was superseded before: it becomes current again
                self.db.execute("UPDATE kb_documents SET superseded_by = NULL, ingested_at = ? "
                                "WHERE id = ?", (now, doc_id))
                rows = self.db.query("SELECT id, text, title FROM kb_chunks WHERE document_id = ?"
                                     " ORDER BY position", (doc_id,))
                items = [(str(i), _indexed(t, h)) for i, t, h in rows]
            else:
                items = self._insert(tenant, source, doc_id, content_hash, media_type, pieces,
                                     (trust, owner, title, start, end, extra, now))
            removed = 0
            if current is not None:
                self.db.execute("UPDATE kb_documents SET superseded_by = ? WHERE id = ?",
                                (doc_id, current.id))
                old = [str(r[0]) for r in self.db.query(
                    "SELECT id FROM kb_chunks WHERE document_id = ?", (current.id,))]
                self.index.remove(tenant, old)
                removed = len(old)
            self.index.add(tenant, items)
            document = self._current(tenant, source)
        assert document is not None
        return IngestResult(document, len(items), removed, False,
                            current.id if current else None)

    def _insert(self, tenant: str, source: str, doc_id: str, content_hash: str,
                media_type: str, pieces: Sequence[tuple[str, str | None, Mapping[str, Any]]],
                provenance: tuple[Any, ...]) -> list[tuple[str, str]]:
        trust, owner, title, start, end, extra, now = provenance
        self.db.execute(
            f"INSERT INTO kb_documents({_DOC_COLUMNS}, meta) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?)",
            (doc_id, tenant, source, title, content_hash, media_type, trust, owner, now, start,
             end, len(pieces), extra))
        rows = []
        items = []
        for position, (text, heading, record) in enumerate(pieces):
            cid = chunk_id(tenant, doc_id, position, text)
            rows.append((cid, tenant, doc_id, position, text, heading,
                         json.dumps(dict(record), ensure_ascii=False, default=str)))
            items.append((cid, _indexed(text, heading)))
        self.db.executemany(
            "INSERT INTO kb_chunks(id, tenant, document_id, position, text, title, meta) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
        return items

    # -- reading ---------------------------------------------------------------------------

    def _current(self, tenant: str, source: str) -> Document | None:
        row = self.db.query_one(
            f"SELECT {_DOC_COLUMNS} FROM kb_documents WHERE tenant = ? AND source = ? "
            "AND superseded_by IS NULL", (tenant, source))
        return _document(row) if row else None

    def documents(self, tenant: str, *, source: str | None = None,
                  include_superseded: bool = False) -> list[Document]:
        """A tenant's documents (current ones unless ``include_superseded``), by source and
        then newest first."""
        sql = f"SELECT {_DOC_COLUMNS} FROM kb_documents WHERE tenant = ?"
        params: list[Any] = [tenant]
        if source is not None:
            sql += " AND source = ?"
            params.append(source)
        if not include_superseded:
            sql += " AND superseded_by IS NULL"
        rows = self.db.query(sql + " ORDER BY source, ingested_at DESC, id", params)
        return [_document(r) for r in rows]

    def remove(self, tenant: str, document: str) -> int:
        """Delete a document (by id) or every version of a source (by name), chunks and all;
        returns the number of chunks deleted (0 when nothing matched)."""
        with self.db.transaction():
            ids = [str(r[0]) for r in self.db.query(
                "SELECT id FROM kb_documents WHERE tenant = ? AND (id = ? OR source = ?)",
                (tenant, document, document))]
            removed = 0
            for doc_id in ids:
                chunks = [str(r[0]) for r in self.db.query(
                    "SELECT id FROM kb_chunks WHERE document_id = ?", (doc_id,))]
                self.index.remove(tenant, chunks)
                removed += self.db.execute("DELETE FROM kb_chunks WHERE document_id = ?",
                                           (doc_id,))
                self.db.execute("DELETE FROM kb_documents WHERE id = ?", (doc_id,))
                # A version this one superseded is left without a successor: say it was removed.
                self.db.execute("UPDATE kb_documents SET superseded_by = ? "
                                "WHERE superseded_by = ?", ("removed", doc_id))
        return removed

    def chunks(self, tenant: str, ids: Sequence[str]) -> list[Chunk]:
        """The chunks with these ids, in the order asked (unknown ids are left out)."""
        found: dict[str, Chunk] = {}
        unique = list(dict.fromkeys(ids))
        for start in range(0, len(unique), 500):
            batch = unique[start:start + 500]
            rows = self.db.query(_CHUNK_SELECT + f"WHERE c.tenant = ? AND c.id IN "
                                 f"({_marks(len(batch))})", (tenant, *batch))
            found.update((str(r[0]), _chunk(r)) for r in rows)
        return [found[i] for i in unique if i in found]

    def document_chunks(self, tenant: str, document_id: str) -> list[Chunk]:
        """A document's chunks in order."""
        rows = self.db.query(_CHUNK_SELECT + "WHERE c.tenant = ? AND c.document_id = ? "
                             "ORDER BY c.position", (tenant, document_id))
        return [_chunk(r) for r in rows]

    def lexical(self, tenant: str, query: str, *, limit: int = 20,
                trust: TrustLevel | None = None, sources: Sequence[str] | None = None,
                valid_at: str | None = None, since: str | None = None
                ) -> list[tuple[Chunk, float]]:
        """Current chunks for ``query`` by BM25, best first, filtered by trust, sources,
        validity (``valid_at`` within the document's window) and ingestion (after ``since``)."""
        conditions: list[str] = []
        params: list[Any] = []
        if trust is not None:
            conditions.append("d.trust = ?")
            params.append(trust)
        if sources is not None:
            if not sources:
                return []
            conditions.append(f"d.source IN ({_marks(len(sources))})")
            params.extend(sources)
        moment = timestamp(valid_at, "valid_at")
        if moment is not None:
            conditions.append("(d.valid_from IS NULL OR d.valid_from <= ?) "
                              "AND (d.valid_until IS NULL OR d.valid_until > ?)")
            params.extend((moment, moment))
        after = timestamp(since, "since")
        if after is not None:
            conditions.append("d.ingested_at > ?")
            params.append(after)
        want = limit if not conditions else limit * 4
        while True:
            found = self.index.search(tenant, query, limit=want)
            chunks = self.chunks(tenant, [item for item, _ in found])
            if conditions and chunks:
                keep = self._passing([c.id for c in chunks], tenant, conditions, params)
                chunks = [c for c in chunks if c.id in keep]
            if len(chunks) >= limit or len(found) < want:
                scores = dict(found)
                return [(c, scores[c.id]) for c in chunks[:limit]]
            want *= 4

    def _indexed_texts(self, tenant: str) -> list[tuple[str, str]]:
        """Every chunk of ``tenant``'s current documents as the index sees it."""
        rows = self.db.query(
            "SELECT c.id, c.text, c.title FROM kb_chunks c JOIN kb_documents d "
            "ON d.id = c.document_id WHERE c.tenant = ? AND d.superseded_by IS NULL "
            "ORDER BY c.document_id, c.position", (tenant,))
        return [(str(i), _indexed(t, h)) for i, t, h in rows]

    def _passing(self, ids: list[str], tenant: str, conditions: list[str],
                 params: list[Any]) -> set[str]:
        passing: set[str] = set()
        for start in range(0, len(ids), 500):
            batch = ids[start:start + 500]
            rows = self.db.query(
                "SELECT c.id FROM kb_chunks c JOIN kb_documents d ON d.id = c.document_id "
                f"WHERE c.tenant = ? AND c.id IN ({_marks(len(batch))}) AND "
                + " AND ".join(conditions), (tenant, *batch, *params))
            passing.update(str(r[0]) for r in rows)
        return passing


def _indexed(text: str, title: str | None) -> str:
    """What the index sees of a chunk: its heading path too (a question often names it)."""
    return f"{title}\n{text}" if title else text
