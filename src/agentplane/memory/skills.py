"""Procedural memory: skills — tool sequences or sub-workflows that worked — promoted, versioned,
offered to agents.

A skill is kept as a ``procedural`` memory: ``subject`` is its name, ``value`` holds its steps
(tool names with the *shape* of their arguments — names and JSON types, never values, so
nothing from untrusted content is carried into a skill), or the sub-workflow it runs, and a
signature hash of them. Each successful run that used it counts once (``record``); after
``promote_after`` successes (default 3), or when a person promotes it, it becomes ``active`` —
the version of that name agents are offered (``active``) — and the version active before it is
``superseded``. A different sequence under the same name is a new version, ``pending`` until
promoted in turn. ``retire`` withdraws a version. Promotions and retirements are audited.
"""

from __future__ import annotations

import builtins
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from agentplane.errors import NotFoundError
from agentplane.journal import Event, EventType, canonical_json, utc_now

from ._schema import COLUMN_LIST, InvalidMemoryError, from_row
from .store import MemoryStore, indexed_text
from .types import Memory, MemoryStatus

DEFAULT_PROMOTE_AFTER = 3
"""Successful runs after which a pending skill is promoted without a person."""
RELATION = "skill"
JSON_TYPES = ("string", "number", "integer", "boolean", "array", "object", "null")


@dataclass(frozen=True, slots=True)
class SkillStep:
    """One tool call of a skill: the tool and the shape of its arguments."""

    tool: str
    arguments: Mapping[str, str] = field(default_factory=dict)
    """Argument name → JSON type (``string``, ``number``, ...): never a value."""

    def to_json(self) -> dict[str, Any]:
        return {"tool": self.tool, "arguments": dict(sorted(self.arguments.items()))}

    def __str__(self) -> str:
        shown = ", ".join(f"{k}: {v}" for k, v in sorted(self.arguments.items()))
        return f"{self.tool}({shown})"


def json_type(value: Any) -> str:
    """The JSON type name of a value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "object" if isinstance(value, Mapping) else "array"


def step(tool: str, arguments: Mapping[str, Any] | None = None) -> SkillStep:
    """The step of a call to ``tool`` with ``arguments``: their names and types, not values."""
    return SkillStep(tool, {str(k): json_type(v) for k, v in (arguments or {}).items()})


def steps_from_events(events: Iterable[Event], *, agent: str | None = None) -> list[SkillStep]:
    """The calls a run made that succeeded, in order (of ``agent`` only, if given)."""
    started = {e.step_key: e for e in events if e.type == EventType.TOOL_STARTED}
    found: list[SkillStep] = []
    for e in events:
        if e.type != EventType.TOOL_COMPLETED or (agent and e.data.get("agent") != agent):
            continue
        begun = started.get(e.step_key)
        arguments = begun.data.get("arguments") if begun else None
        found.append(step(str(e.data.get("tool", "")),
                          arguments if isinstance(arguments, Mapping) else None))
    return found


@dataclass(frozen=True, slots=True)
class Skill:
    """One version of a skill, with how many successful runs used it."""

    id: str
    tenant: str
    name: str
    version: int
    status: MemoryStatus
    """``pending`` (not yet promoted), ``active``, ``superseded``, ``retired``, ..."""
    steps: tuple[SkillStep, ...]
    workflow: str | None
    """The sub-workflow it runs, for a skill that is one."""
    signature: str
    """Hash of the steps (or workflow): the same sequence is the same version."""
    successes: int
    description: str = ""
    created_at: str = ""
    supersedes: str | None = None

    @classmethod
    def of(cls, m: Memory, successes: int) -> Skill:
        value = m.value if isinstance(m.value, Mapping) else {}
        steps = tuple(SkillStep(str(s["tool"]), dict(s.get("arguments") or {}))
                      for s in value.get("steps") or [])
        return cls(m.id, m.tenant, m.subject or "", m.version, m.status, steps,
                   value.get("workflow"), str(value.get("signature", "")), successes,
                   str(value.get("description", "")), m.created_at, m.supersedes)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "tenant": self.tenant, "name": self.name,
                "version": self.version, "status": self.status,
                "steps": [s.to_json() for s in self.steps], "workflow": self.workflow,
                "signature": self.signature, "successes": self.successes,
                "description": self.description, "created_at": self.created_at,
                "supersedes": self.supersedes}


def signature(steps: Sequence[SkillStep], workflow: str | None) -> str:
    body = canonical_json({"steps": [s.to_json() for s in steps], "workflow": workflow})
    return hashlib.sha256(body.encode()).hexdigest()[:16]


def _checked(steps: Sequence[SkillStep], workflow: str | None, name: str | None) -> str:
    if bool(steps) == bool(workflow):
        raise InvalidMemoryError(f"skill {name or '(unnamed)'}: give either a tool sequence "
                                 "or a sub-workflow, not both or neither")
    for n, s in enumerate(steps, 1):
        if not s.tool:
            raise InvalidMemoryError(f"skill {name or '(unnamed)'}, step {n}: no tool name")
        odd = {k: v for k, v in s.arguments.items() if v not in JSON_TYPES}
        if odd:
            raise InvalidMemoryError(
                f"skill {name or '(unnamed)'}, step {n} ({s.tool}): argument shapes must be "
                f"JSON type names ({', '.join(JSON_TYPES)}), not values: {sorted(odd)}")
    return name or workflow or " → ".join(s.tool for s in steps)


class Skills:
    """The skills of every tenant, kept in a :class:`MemoryStore`."""

    def __init__(self, memories: MemoryStore, *,
                 promote_after: int = DEFAULT_PROMOTE_AFTER) -> None:
        if promote_after < 1:
            raise InvalidMemoryError(f"promote_after must be at least 1 (got {promote_after})")
        self.memories = memories
        self.db = memories.db
        self.promote_after = promote_after

    def record(self, tenant: str, *, run: str, steps: Sequence[SkillStep] = (),
               workflow: str | None = None, name: str | None = None, description: str = "",
               created_by: str = "system") -> Skill:
        """Count a successful run (``run``: its id) that used this tool sequence or
        sub-workflow, once per run; a sequence not seen under ``name`` (default: the tools
        joined, or the workflow) is a new ``pending`` version. A pending version reaching
        ``promote_after`` successes is promoted. A retired version counts nothing."""
        label = _checked(steps, workflow, name)
        sig = signature(steps, workflow)
        with self.db.transaction():
            versions = self._versions(tenant, label)
            same = [m for m in versions if (m.value or {}).get("signature") == sig]
            memory = same[0] if same else self._new(tenant, label, steps, workflow, sig,
                                                    description, run, created_by, versions)
            if memory.status in ("retired", "deleted"):
                return Skill.of(memory, self._successes(tenant, memory.id))
            self.db.execute("INSERT INTO memory_skill_runs(tenant, memory_id, run, time) "
                            "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                            (tenant, memory.id, run, utc_now()))
            count = self._successes(tenant, memory.id)
            if memory.status == "pending" and count >= self.promote_after:
                memory = self._activate(memory, "system", f"{count} successful runs "
                                        f"(promote_after: {self.promote_after})")
            return Skill.of(memory, count)

    def _new(self, tenant: str, name: str, steps: Sequence[SkillStep], workflow: str | None,
             sig: str, description: str, run: str, created_by: str,
             versions: Sequence[Memory]) -> Memory:
        version = max((m.version for m in versions), default=0) + 1
        body = " → ".join(str(s) for s in steps) if steps else f"run the workflow {workflow}"
        text = f"Skill {name} (version {version}): {body}." + (
            f" {description}" if description else "")
        value = {"steps": [s.to_json() for s in steps], "workflow": workflow,
                 "signature": sig, "description": description}
        skill = Memory(id="", tenant=tenant, kind="procedural", text=text, subject=name,
                       relation=RELATION, value=value, source=f"run:{run}", status="pending",
                       created_by=created_by,
                       supersedes=versions[0].id if versions else None, version=version)
        # The key only keeps two writers from making the same version twice: a version a
        # person deleted holds its key for ever, so the sequence learnt again takes the next.
        key, tries = f"skill:{name}/{sig}", 1
        while (kept := self.memories.write(skill, key=key)).status == "deleted":
            tries += 1
            key = f"skill:{name}/{sig}#{tries}"
        return kept

    def _versions(self, tenant: str, name: str) -> list[Memory]:
        """Every version of a skill, newest first."""
        rows = self.db.query(f"SELECT {COLUMN_LIST} FROM memories WHERE tenant = ? AND "
                             "kind = 'procedural' AND relation = ? AND subject = ? "
                             "ORDER BY version DESC", (tenant, RELATION, name))
        return [from_row(r) for r in rows]

    def _successes(self, tenant: str, id: str) -> int:
        row = self.db.query_one("SELECT COUNT(*) FROM memory_skill_runs WHERE tenant = ? AND "
                                "memory_id = ?", (tenant, id))
        return int(row[0]) if row else 0

    def _activate(self, memory: Memory, by: str, reason: str) -> Memory:
        """Make one version the active one; the version active before is superseded by it."""
        before = [m.id for m in self._versions(memory.tenant, memory.subject or "")
                  if m.status == "active" and m.id != memory.id]
        self.memories.supersede(memory.tenant, before, by=memory.id)
        self.db.execute("UPDATE memories SET status = 'active', superseded_by = NULL WHERE "
                        "tenant = ? AND id = ?", (memory.tenant, memory.id))
        self.memories.index.add(memory.tenant, [(memory.id, indexed_text(memory))])
        self.memories.record(memory.tenant, by, "promote", [memory], reason)
        found = self.memories.get(memory.tenant, memory.id)
        assert found is not None
        return found

    # -- reading and deciding -----------------------------------------------------------------

    def list(self, tenant: str, *, status: MemoryStatus | None = None,
             name: str | None = None) -> list[Skill]:
        """Skills by name, newest version first (without ``status``: all but deleted)."""
        where = ["tenant = ?", "kind = 'procedural'", "relation = ?"]
        params: builtins.list[Any] = [tenant, RELATION]
        if name is not None:
            where.append("subject = ?")
            params.append(name)
        where.append("status = ?" if status else "status <> 'deleted'")
        params += [status] if status else []
        rows = self.db.query(f"SELECT {COLUMN_LIST} FROM memories WHERE {' AND '.join(where)} "
                             "ORDER BY subject, version DESC", params)
        counts: dict[str, int] = dict(self.db.query(
            "SELECT memory_id, COUNT(*) FROM memory_skill_runs WHERE tenant = ? "
            "GROUP BY memory_id", (tenant,)))
        return [Skill.of(m, int(counts.get(m.id, 0))) for m in map(from_row, rows)]

    def active(self, tenant: str) -> builtins.list[Skill]:
        """The promoted skills (one version per name): what agents are offered."""
        return self.list(tenant, status="active")

    def get(self, tenant: str, id: str) -> Skill | None:
        memory = self.memories.get(tenant, id)
        if memory is None or memory.kind != "procedural" or memory.relation != RELATION:
            return None
        return Skill.of(memory, self._successes(tenant, id))

    def promote(self, tenant: str, id: str, *, by: str, reason: str = "") -> Skill:
        """A person makes this version the active one (whatever its count; also to go back
        to an older version or bring back a retired one)."""
        with self.db.transaction():
            memory = self._skill(tenant, id, "promote")
            if memory.status != "active":
                memory = self._activate(memory, by, reason or "promoted by a person")
            return Skill.of(memory, self._successes(tenant, id))

    def retire(self, tenant: str, id: str, *, by: str, reason: str = "") -> Skill:
        """Withdraw a version: agents are no longer offered it and runs no longer count."""
        with self.db.transaction():
            memory = self._skill(tenant, id, "retire")
            self.db.execute("UPDATE memories SET status = 'retired' WHERE tenant = ? AND id = ?",
                            (tenant, id))
            self.memories.index.remove(tenant, [id])
            self.memories.record(tenant, by, "retire", [memory], reason)
            return Skill.of(self.memories.get(tenant, id) or memory,
                            self._successes(tenant, id))

    def _skill(self, tenant: str, id: str, action: str) -> Memory:
        memory = self.memories.get(tenant, id)
        if memory is None or memory.kind != "procedural" or memory.relation != RELATION:
            raise NotFoundError(f"no skill {id!r} in tenant {tenant!r}")
        if memory.status in ("deleted", "quarantined"):
            raise InvalidMemoryError(f"cannot {action} skill {id}: it is {memory.status}"
                                     + (" (release it first)" if memory.status ==
                                        "quarantined" else ""))
        return memory
