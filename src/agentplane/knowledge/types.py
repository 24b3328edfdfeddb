"""The shapes the context layer hands upward: chunks, retrieved passages, context packets."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

TrustLevel = Literal["trusted", "untrusted"]
"""Whether text may carry instructions from outside (the same words as tools' ``trust``)."""


@dataclass(frozen=True, slots=True)
class Chunk:
    """A piece of an ingested document, with the provenance it keeps for ever."""

    id: str
    """Stable id, cited in context packets (e.g. ``kb:3f2a…``)."""
    tenant: str
    document_id: str
    source: str
    """Where the document came from: a file name, URL, tool name or API caller's label."""
    text: str
    position: int
    """Order of the chunk in its document (0-based)."""
    trust: TrustLevel = "trusted"
    owner: str | None = None
    ingested_at: str = ""
    """ISO-8601 UTC."""
    valid_from: str | None = None
    valid_until: str | None = None
    title: str | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Passage:
    """A chunk found for a query, with how it was found."""

    chunk: Chunk
    score: float
    """The fused score (higher is better); comparable only within one result list."""
    via: tuple[str, ...] = ()
    """Which retrievers found it: ``lexical``, ``graph``, ``vector``."""


ItemKind = Literal["chunk", "fact", "memory"]


@dataclass(frozen=True, slots=True)
class ContextItem:
    """One thing a model is shown as context, cited by ``id``."""

    id: str
    kind: ItemKind
    text: str
    source: str
    trust: TrustLevel
    score: float = 0.0
    time: str | None = None
    """When it was learnt or became valid (ISO-8601): newer wins a conflict between equals."""
    valid_until: str | None = None
    subject: str | None = None
    """For facts: what the statement is about; with ``relation`` it keys conflict detection."""
    relation: str | None = None
    value: str | None = None


@dataclass(frozen=True, slots=True)
class Dropped:
    """An item context shaping left out, and why (``duplicate``, ``stale``, ``conflict``,
    ``budget``)."""

    id: str
    reason: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Conflict:
    """Two or more items say different things about one subject and relation."""

    subject: str
    relation: str
    kept: str
    """The id of the item kept (trusted before untrusted, then newer)."""
    dropped: tuple[str, ...]
    values: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ContextPacket:
    """What went into one model call as context: journaled as ``context.packet``."""

    query: str
    items: tuple[ContextItem, ...]
    dropped: tuple[Dropped, ...] = ()
    conflicts: tuple[Conflict, ...] = ()
    tokens: int = 0
    budget: int = 0
