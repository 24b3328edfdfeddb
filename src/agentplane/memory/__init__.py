"""Memory that outlives a run: factual, experiential and procedural, per tenant, governed.

- *factual*: statements about a subject with a value, source, confidence and validity; a newer
  fact supersedes an older one explicitly;
- *experiential*: a summary of each finished run — outcome, cost, what went wrong — recalled for
  similar tasks;
- *procedural*: skills (tool sequences or sub-workflows that succeeded), promoted after a person
  approves or after N successes, versioned, callable by agents.

Every memory keeps its trust: what came from untrusted content stays untrusted when recalled.
People review, quarantine and delete memories; deletions are recorded (what, not the content).
Writes from runs are journaled steps (``memory.written``) and happen once.
"""

from typing import TYPE_CHECKING

from agentplane._lazy import lazy_exports

if TYPE_CHECKING:
    from ._schema import InvalidMemoryError
    from .experience import summarise_run, summary_key
    from .items import memory_item
    from .skills import Skill, Skills, SkillStep, step, steps_from_events
    from .store import MemoryStore
    from .types import Memory, MemoryKind, MemoryStatus

_HOME = {
    "InvalidMemoryError": "_schema",
    "summarise_run": "experience", "summary_key": "experience",
    "memory_item": "items",
    "Skill": "skills", "Skills": "skills", "SkillStep": "skills", "step": "skills",
    "steps_from_events": "skills",
    "MemoryStore": "store",
    "Memory": "types", "MemoryKind": "types", "MemoryStatus": "types",
}

__getattr__ = lazy_exports(__name__, _HOME, globals())

__all__ = [
    "InvalidMemoryError",
    "Memory",
    "MemoryKind",
    "MemoryStatus",
    "MemoryStore",
    "Skill",
    "SkillStep",
    "Skills",
    "memory_item",
    "step",
    "steps_from_events",
    "summarise_run",
    "summary_key",
]
