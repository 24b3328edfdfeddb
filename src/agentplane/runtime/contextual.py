"""Context before a model call: what the knowledge base and memory know about the task.

For an agent that declares ``knowledge:`` or ``memory: {recall: [...]}``, before its first
model call the runtime retrieves passages for the task (``knowledge.retrieve.Retriever``) and
recalls memories (``memory.MemoryStore``) of the run's tenant, shapes them into one packet
(duplicates, stale items and conflicts out, a token budget kept, every item cited by id) and
shows the model the rendered packet as a **system message right after the agent's
instructions**, before the task. With ``knowledge.per_turn`` every later model call also gets a
packet for the latest user or tool text, as a system message at the end of that call's messages
(shown for that call only).

The packet is journaled as one ``context.packet`` event (step ``<agent key>/context``, or
``<model step>/context`` per turn). On replay it is read from the journal, never retrieved
again: a knowledge base changed after a crash does not change what the replayed call saw.

Every item's text enters the run's provenance ledger with its trust, so an untrusted passage or
memory is treated exactly like untrusted tool output: a value only it gives cannot clear a
consequential call.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

from agentplane.journal import EventType, JournalStore, NewEvent, canonical_json
from agentplane.knowledge.shaping import packet_from_json, packet_json, render_packet, shape
from agentplane.knowledge.types import ContextItem, ContextPacket, Passage
from agentplane.memory.types import MemoryKind
from agentplane.models.base import Message
from agentplane.tools import Trust
from agentplane.tools.trust import leaves, parse_path, path_selects

from .context import RunContext
from .context_spec import AgentKnowledgeSpec, AgentMemorySpec
from .spec import AgentSpec

if TYPE_CHECKING:
    from agentplane.knowledge.retrieve import Retriever
    from agentplane.memory.store import MemoryStore

DEFAULT_BUDGET_TOKENS = 1500
"""Token budget of a packet of recalled memories when the agent declares no ``knowledge``."""


@dataclass(frozen=True, slots=True)
class ContextLayer:
    """The stores a workflow's runs read context from, on the journal's database."""

    retriever: Retriever
    memory: MemoryStore
    modes: frozenset[str]
    """Retrieval modes the workflow can serve (``graph`` needs an ontology, ``vector``
    embeddings)."""


_LAYERS: WeakKeyDictionary[JournalStore, dict[str, ContextLayer]] = WeakKeyDictionary()


def context_layer(ctx: RunContext) -> ContextLayer:
    """The knowledge base, graph, retriever and memory store of the run's workflow, opened once
    per journal store and workflow version (their tables live in the journal's database)."""
    per_store = _LAYERS.setdefault(ctx.store, {})
    layer = per_store.get(ctx.workflow.hash)
    if layer is None:
        layer = per_store[ctx.workflow.hash] = _open_layer(ctx)
    return layer


def forget_layers(store: JournalStore) -> None:
    """Drop the layers opened on ``store`` (its runtime closes). They hold the store's
    database, which holds the store: the weak keys alone would never let it go."""
    _LAYERS.pop(store, None)


def _open_layer(ctx: RunContext) -> ContextLayer:
    from agentplane.knowledge.embeddings import Embeddings
    from agentplane.knowledge.graph import KnowledgeGraph
    from agentplane.knowledge.ontology import load_ontology
    from agentplane.knowledge.retrieve import Retriever
    from agentplane.knowledge.store import KnowledgeBase
    from agentplane.memory.store import MemoryStore

    db = ctx.store.database
    spec = ctx.workflow.spec.knowledge
    graph = embeddings = None
    if spec is not None and spec.ontology is not None:
        graph = KnowledgeGraph(db, load_ontology(ctx.workflow.base_dir / spec.ontology))
    if spec is not None and spec.embeddings is not None:
        e = spec.embeddings
        embeddings = Embeddings(e.base_url, e.model, api_key_env=e.api_key_env)
    modes = {"lexical"} | ({"graph"} if graph else set()) | ({"vector"} if embeddings else set())
    return ContextLayer(Retriever(KnowledgeBase(db), graph, embeddings), MemoryStore(db),
                        frozenset(modes))


def run_subject(ctx: RunContext, memory: AgentMemorySpec | None) -> str | None:
    """Whom the run is about: the run input's value at ``memory.subject`` (None: not declared,
    or not in the input)."""
    if memory is None or memory.subject is None:
        return None
    steps = parse_path(memory.subject)
    found = next((leaf.value for leaf in leaves(ctx.run.input, Trust.TRUSTED)
                  if path_selects(steps, leaf.at)), None)
    return None if found is None else str(found)


async def journaled_once(ctx: RunContext, step: str, event_type: str, actor: str,
                         make: Callable[[], Awaitable[dict[str, Any]]]) -> Mapping[str, Any]:
    """The data of the step's ``event_type`` event: read from the journal when the step was
    journaled before (a replay), else made by ``make``, journaled, and returned as the journal
    holds it (what a replay will read)."""
    done = ctx.recorded(step, event_type)
    if done is not None:
        return done.data
    data = await make()
    await ctx.append(NewEvent(event_type, actor, step, data))
    # Not the appended event's data: the journal keeps a value over its blob threshold (1 KiB)
    # as a blob reference there, which a replay reads back resolved — as JSON, like this.
    held: dict[str, Any] = json.loads(canonical_json(data))
    return held


def _recall_kinds(ctx: RunContext, memory: AgentMemorySpec
                  ) -> tuple[list[MemoryKind], str | None]:
    """The kinds to recall and the subject to limit them to. A declared subject the input does
    not hold recalls no facts (they are about somebody) rather than everybody's."""
    subject = run_subject(ctx, memory)
    kinds = list(memory.recall)
    if memory.subject is not None and subject is None:
        kinds = [k for k in kinds if k != "factual"]
    return kinds, subject


async def _passages(layer: ContextLayer, tenant: str, query: str, know: AgentKnowledgeSpec,
                    notes: list[str]) -> list[Passage]:
    """Passages for ``query``; when the embeddings endpoint fails, the other modes' (and a
    note saying so): a run does not fail because vectors are unavailable."""
    from agentplane.knowledge.embeddings import EmbeddingError

    modes = tuple(m for m in know.modes if m in layer.modes)
    search = partial(layer.retriever.asearch, tenant, query, k=know.k, trust=know.trust,
                     sources=list(know.sources) or None)
    try:
        return await search(modes=modes)
    except EmbeddingError as exc:
        notes.append(f"vector retrieval failed, lexical and graph only: {exc}")
        return await search(modes=tuple(m for m in modes if m != "vector"))


async def _candidates(ctx: RunContext, agent: AgentSpec, query: str, *, recall: bool,
                      notes: list[str]) -> list[ContextItem]:
    from agentplane.knowledge.retrieve import passage_item
    from agentplane.memory.items import memory_item

    layer = context_layer(ctx)
    tenant = ctx.run.tenant
    items: list[ContextItem] = []
    if agent.knowledge is not None:
        passages = await _passages(layer, tenant, query, agent.knowledge, notes)
        items += [passage_item(p) for p in passages]
    memory = agent.memory
    if recall and memory is not None and memory.recall:
        kinds, subject = _recall_kinds(ctx, memory)
        if kinds:
            found = layer.memory.recall(tenant, query, kinds=kinds, subject=subject,
                                        limit=memory.k)
            items += [memory_item(m, score) for m, score in found]
    return items


async def context_packet(ctx: RunContext, agent: AgentSpec, query: str, step: str, *,
                         recall: bool) -> ContextPacket:
    """The shaped packet for ``query`` at ``step``, journaled once (replayed from the
    journal), its items recorded in the run's provenance ledger with their trust."""
    budget = agent.knowledge.budget_tokens if agent.knowledge else DEFAULT_BUDGET_TOKENS

    async def make() -> dict[str, Any]:
        notes: list[str] = []
        items = await _candidates(ctx, agent, query, recall=recall, notes=notes)
        return {"agent": agent.name,
                "packet": packet_json(shape(query, items, budget_tokens=budget)),
                **({"notes": notes} if notes else {})}

    data = await journaled_once(ctx, step, EventType.CONTEXT_PACKET, f"agent:{agent.name}",
                                make)
    packet = packet_from_json(data["packet"])
    for item in packet.items:
        ctx.provenance.add(item.text, source=_cited(item), trusted=item.trust == "trusted")
    return packet


def _cited(item: ContextItem) -> str:
    """How the provenance ledger names where an item's text came from (``kb:<id>``,
    ``memory:<id>``)."""
    kind = "memory" if item.kind == "memory" else "kb"
    return item.id if item.id.startswith(f"{kind}:") else f"{kind}:{item.id}"


def wants_context(agent: AgentSpec) -> bool:
    """Whether the agent gets a packet before its first model call."""
    auto = agent.knowledge is not None and agent.knowledge.auto
    return auto or (agent.memory is not None and bool(agent.memory.recall))


async def task_context(ctx: RunContext, agent: AgentSpec, task: str, key: str
                       ) -> Message | None:
    """The system message with the context for the agent's task (None: it declares none)."""
    if not wants_context(agent):
        return None
    packet = await context_packet(ctx, agent, task, f"{key}/context", recall=True)
    return Message("system", render_packet(packet))


def latest_text(messages: list[Message]) -> str:
    """The latest user or tool text of a conversation (what per-turn retrieval looks for)."""
    return next((m.content for m in reversed(messages)
                 if m.role in ("user", "tool") and m.content), "")


async def turn_context(ctx: RunContext, agent: AgentSpec, messages: list[Message], step: str
                       ) -> Message | None:
    """The system message with the context for the latest user or tool text of the
    conversation, for one model call (None: no per-turn retrieval, or nothing to look for)."""
    if agent.knowledge is None or not agent.knowledge.per_turn:
        return None
    query = latest_text(messages)
    if not query.strip():
        return None
    packet = await context_packet(ctx, agent, query, f"{step}/context", recall=False)
    return Message("system", render_packet(packet))
