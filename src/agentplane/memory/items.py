"""A recalled memory as context shaping sees it."""

from __future__ import annotations

from agentplane.journal import canonical_json
from agentplane.knowledge.types import ContextItem

from .types import Memory


def memory_item(m: Memory, score: float = 0.0) -> ContextItem:
    """The :class:`ContextItem` of a memory (kind ``memory``), cited by the memory's id. Its
    trust is kept: an untrusted memory is shown, and guarded, as untrusted content. Facts carry
    subject, relation and value, so shaping can find two that disagree; ``time`` is when the
    memory became valid (or was learnt), which breaks ties between equally trusted facts."""
    fact = m.kind == "factual"
    value = None
    if fact and m.value is not None:
        value = m.value if isinstance(m.value, str) else canonical_json(m.value)
    return ContextItem(id=m.id, kind="memory", text=m.text, source=m.source or m.created_by,
                       trust=m.trust, score=score, time=m.valid_from or m.created_at or None,
                       valid_until=m.valid_until, subject=m.subject if fact else None,
                       relation=m.relation if fact else None, value=value)
