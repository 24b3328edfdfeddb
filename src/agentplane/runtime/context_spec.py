"""The context settings of a workflow spec: what agents retrieve, recall and remember.

On an agent::

    knowledge: {auto: true, k: 5, budget_tokens: 1500, modes: [lexical, graph, vector],
                trust: null, sources: [], per_turn: false}
    memory: {recall: [factual, experiential, procedural], k: 5,
             write: [experiential, procedural], tools: true, subject: "$.customer_id"}
    max_tools: 8

On the workflow::

    knowledge: {ontology: ontology.yaml, embeddings: {base_url: ..., model: ...},
                tenant_scope: run}

Kept apart from ``spec`` (one concept per module); ``spec`` hangs them on its models.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from agentplane.errors import AgentplaneError
from agentplane.knowledge.types import TrustLevel
from agentplane.memory.types import MemoryKind
from agentplane.tools.trust import PathError, parse_path

RetrievalMode = Literal["lexical", "graph", "vector"]
WrittenKind = Literal["experiential", "procedural"]
ALL_MODES: tuple[RetrievalMode, ...] = ("lexical", "graph", "vector")


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _unique(values: list[str], what: str) -> list[str]:
    repeated = sorted({v for v in values if values.count(v) > 1})
    if repeated:
        raise ValueError(f"{what} {', '.join(repeated)} listed twice")
    return values


class AgentKnowledgeSpec(_Spec):
    """Retrieval from the tenant's knowledge base before the agent's model calls."""

    auto: bool = True
    """Retrieve for the agent's task before its first model call (False: only the settings,
    for per-turn retrieval)."""
    k: int = Field(default=5, ge=1, le=100)
    """Passages retrieved (before shaping drops duplicates, stale items and what does not fit)."""
    budget_tokens: int = Field(default=1500, ge=50, le=200_000)
    """Tokens (estimated) the context packet may take in the model's messages; shared with
    recalled memories."""
    modes: list[RetrievalMode] = Field(default_factory=lambda: list(ALL_MODES), min_length=1)
    """Retrievers to fuse. ``graph`` needs the workflow's ``knowledge.ontology``, ``vector``
    its ``knowledge.embeddings``; a mode without them is skipped."""
    trust: TrustLevel | None = None
    """Only passages of this trust (None: both; untrusted ones are shown fenced as data and
    traced by the provenance guardian)."""
    sources: list[str] = Field(default_factory=list)
    """Only passages from these sources (documents' source labels); empty: every source."""
    per_turn: bool = False
    """Also retrieve before each later model call, on the latest user or tool text (that
    packet is shown for that call only)."""

    @field_validator("modes")
    @classmethod
    def _modes_once(cls, modes: list[str]) -> list[str]:
        return _unique(modes, "mode")


class AgentMemorySpec(_Spec):
    """What an agent recalls before its first model call, its memory tools, and what the run
    writes to memory when it ends."""

    recall: list[MemoryKind] = Field(default_factory=list)
    """Kinds of memory recalled for the task into the context packet (empty: none)."""
    k: int = Field(default=5, ge=1, le=100)
    """Memories recalled at most."""
    write: list[WrittenKind] = Field(default_factory=list)
    """Written when the run ends: ``experiential`` (a summary of the run: outcome, cost, what
    went wrong), ``procedural`` (the sequence of tools of a completed run, as a skill)."""
    tools: bool = False
    """Offer the agent ``remember`` (store a fact or a note) and ``recall`` (search memory)."""
    subject: str | None = None
    """JSONPath into the run's input naming whom the run is about (``$.customer_id``):
    recall is limited to that subject, and what the run writes is about it."""

    @field_validator("recall", "write")
    @classmethod
    def _kinds_once(cls, kinds: list[str]) -> list[str]:
        return _unique(kinds, "kind")

    @field_validator("subject")
    @classmethod
    def _subject_is_a_path(cls, path: str | None) -> str | None:
        if path is not None:
            try:
                parse_path(path)
            except PathError as exc:
                raise ValueError(f"{exc} (e.g. $.customer_id)") from None
        return path


class EmbeddingsSpec(_Spec):
    """An OpenAI-compatible ``/v1/embeddings`` endpoint for vector retrieval."""

    base_url: str = Field(min_length=1)
    model: str = Field(min_length=1)
    api_key_env: str | None = None
    """Name of the environment variable holding the key (the key itself never goes in a file)."""


class KnowledgeSpec(_Spec):
    """The workflow's knowledge layer."""

    ontology: str | None = None
    """Ontology YAML file (relative to the workflow's folder) of the tenant's knowledge graph:
    with it, ``graph`` retrieval expands from the entities a question names."""
    embeddings: EmbeddingsSpec | None = None
    """Where vectors come from (None: no ``vector`` retrieval; the offline path is lexical +
    graph)."""
    tenant_scope: Literal["run"] = "run"
    """Whose knowledge and memory a run sees: its own tenant's (the only scope)."""


MEMORY_TOOLS = ("remember", "recall")
"""The tools an agent with ``memory: {tools: true}`` is offered (the runtime's own)."""


def context_problems(names: set[str], agents: list[tuple[str, AgentMemorySpec | None]]
                     ) -> list[tuple[tuple[str | int, ...], str]]:
    """Problems of the context settings pydantic cannot see: a memory tool whose name a
    declared tool or agent already has. ``names``: every tool and agent name."""
    taken = sorted(names & set(MEMORY_TOOLS))
    return [((("agents", i, "memory", "tools")),
             f"the memory tools {', '.join(MEMORY_TOOLS)} clash with the declared tool or agent "
             f"{', '.join(repr(t) for t in taken)}; rename it or set memory.tools: false")
            for i, (_, memory) in enumerate(agents) if memory is not None and memory.tools
            and taken]


def ontology_problem(spec: KnowledgeSpec | None, base_dir: Path
                     ) -> tuple[tuple[str | int, ...], str] | None:
    """The workflow's ontology file, if it declares one, cannot be loaded: why."""
    if spec is None or spec.ontology is None:
        return None
    from agentplane.knowledge.ontology import load_ontology  # only workflows that use a graph

    try:
        load_ontology(base_dir / spec.ontology)
    except AgentplaneError as exc:  # the file is missing or invalid (its own line and column)
        return ("knowledge", "ontology"), f"the ontology cannot be used: {exc}"
    return None
