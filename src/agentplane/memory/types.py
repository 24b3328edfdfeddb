"""The shape of a memory as the rest of Agentplane sees it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from agentplane.knowledge.types import TrustLevel

MemoryKind = Literal["factual", "experiential", "procedural"]
MemoryStatus = Literal["active", "superseded", "quarantined", "pending", "deleted", "retired"]
"""``pending``: a procedural skill not yet promoted; ``retired``: a skill a person withdrew;
``deleted``: the content is gone (erased on request), the row stays for the audit trail."""


@dataclass(frozen=True, slots=True)
class Memory:
    id: str
    """Stable id (``mem:…``), cited in context packets."""
    tenant: str
    kind: MemoryKind
    text: str
    """What is remembered, as the model will be shown it."""
    subject: str | None = None
    """Whom or what it is about (a customer id, a supplier): recall and erasure key on it."""
    relation: str | None = None
    """For facts: the attribute (``iban``, ``preferred_language``)."""
    value: Any = None
    source: str = ""
    """Where it came from: ``run:<id>/<step>``, a person, a tool."""
    trust: TrustLevel = "trusted"
    confidence: float = 1.0
    valid_from: str | None = None
    valid_until: str | None = None
    status: MemoryStatus = "active"
    created_at: str = ""
    created_by: str = ""
    """``agent:<name>`` in run ``<id>``, or ``user:<name>``."""
    supersedes: str | None = None
    superseded_by: str | None = None
    """The memory that replaced this one (a newer fact, a promoted skill version)."""
    version: int = 1
    meta: Mapping[str, Any] = field(default_factory=dict)
