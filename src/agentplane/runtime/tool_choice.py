"""Tool relevance: an agent with many tools is offered, per turn, the few that matter.

With ``max_tools: N`` on an agent, each model call is offered at most N of the agent's declared
tools (its functions, MCP servers' tools, agents it calls as tools): first the ones already
used in this run (most recent first), then the rest ranked by BM25 relevance of each tool's
name and description to the task and the latest messages. Hand-offs, ``assign_task`` and the
memory tools are always offered: they are how the agent moves on, not a catalogue to choose
from.

The choice is journaled as ``tools.selected`` (chosen ids, scores, the reason) at
``<model step>/tools``, and read back on replay, so a replayed call is offered exactly the same
set. A call to a declared tool that was not offered this turn is still allowed (the model may
remember it from an earlier turn, or know it): being offered is about the model's attention,
not about permission — permission is the agent's declaration, checked as before.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from agentplane.journal import EventType
from agentplane.knowledge.text import tokens
from agentplane.models.base import Message, ToolDefinition

from .context import RunContext
from .contextual import journaled_once

K1 = 1.2
B = 0.75
RECENT_MESSAGES = 3
"""Messages (besides the task) whose text the relevance query includes."""
MESSAGE_CHARS = 2000
"""Characters of each such message used (a long tool result says little more at its end)."""


@dataclass(frozen=True, slots=True)
class _Catalogue:
    """BM25 statistics of one tool list (computed once per list): for each term, the tools
    that hold it with their term weight's parts, so a query touches only those."""

    names: tuple[str, ...]
    postings: dict[str, list[tuple[int, int, float]]]
    """term → ``(tool index, term count, length norm)``."""

    def scores(self, query: Sequence[str]) -> list[float]:
        n = len(self.names)
        out = [0.0] * n
        # A term the query repeats counts as often as it is said (BM25 with query-term
        # frequency): "shipments ... shipment" leans towards shipment tools.
        for term, asked in Counter(query).items():
            hits = self.postings.get(term, [])
            idf = math.log(1 + (n - len(hits) + 0.5) / (len(hits) + 0.5))
            for i, tf, norm in hits:
                out[i] += asked * idf * tf * (K1 + 1) / (tf + norm)
        return out


def _tool_text(name: str, description: str) -> str:
    # ``crm_get_customer`` → "crm get customer"; camelCase split too
    words = re.sub(r"([a-z])([A-Z])", r"\1 \2", name).replace("_", " ").replace("-", " ")
    return f"{words} {description}"


@lru_cache(maxsize=256)
def _catalogue(tools: tuple[tuple[str, str], ...]) -> _Catalogue:
    terms = [Counter(tokens(_tool_text(n, d))) for n, d in tools]
    lengths = [sum(t.values()) for t in terms]
    average = sum(lengths) / len(lengths) if lengths else 0.0
    postings: dict[str, list[tuple[int, int, float]]] = {}
    for i, (counts, length) in enumerate(zip(terms, lengths, strict=True)):
        norm = K1 * (1 - B + B * length / average) if average else K1
        for term, tf in counts.items():
            postings.setdefault(term, []).append((i, tf, norm))
    return _Catalogue(tuple(n for n, _ in tools), postings)


@dataclass(frozen=True, slots=True)
class Choice:
    """Tools offered for one model call."""

    tools: list[str]
    """Names, in the order offered."""
    scores: dict[str, float]
    used: list[str]
    """Of them, those used earlier in the run (offered first)."""


def choose(candidates: Sequence[ToolDefinition], used: Sequence[str], query: str,
           limit: int) -> Choice:
    """The ``limit`` tools to offer: used ones first (most recent first), then by relevance to
    ``query`` (ties: in declaration order)."""
    catalogue = _catalogue(tuple((d.name, d.description or "") for d in candidates))
    scores = dict(zip(catalogue.names, catalogue.scores(tokens(query)), strict=True))
    names = set(catalogue.names)
    recent = list(dict.fromkeys(u for u in reversed(used) if u in names))[:limit]
    order = {n: i for i, n in enumerate(catalogue.names)}
    rest = sorted((n for n in catalogue.names if n not in recent),
                  key=lambda n: (-scores[n], order[n]))
    chosen = recent + rest[:limit - len(recent)]
    return Choice(chosen, {n: round(scores[n], 4) for n in chosen}, recent)


def used_tools(ctx: RunContext, messages: Sequence[Message]) -> list[str]:
    """Tools called so far, oldest first: the run's tool calls and this conversation's."""
    called = [c.tool for c in ctx.calls]
    called += [call.name for m in messages if m.role == "assistant" for call in m.tool_calls]
    return called


def relevance_query(task: str, messages: Sequence[Message]) -> str:
    """What tools are ranked against: the task and the latest few messages."""
    latest = [m.content[:MESSAGE_CHARS] for m in messages[-RECENT_MESSAGES:]
              if m.role != "system" and m.content]
    return "\n".join([task, *latest])


async def offered_tools(ctx: RunContext, agent: str, limit: int | None,
                        definitions: list[ToolDefinition], choosable: set[str], task: str,
                        messages: Sequence[Message], step: str) -> list[ToolDefinition]:
    """The definitions to offer at model step ``step``: all of them without a limit, or when
    the choosable ones fit in it; else the chosen ``limit`` of ``choosable`` (in the order
    chosen) then every other definition, the choice journaled once (``tools.selected``)."""
    candidates = [d for d in definitions if d.name in choosable]
    if limit is None or len(candidates) <= limit:
        return definitions

    async def make() -> dict[str, Any]:
        choice = choose(candidates, used_tools(ctx, messages), relevance_query(task, messages),
                        limit)
        reason = (f"{len(choice.used)} used earlier in the run, then the most relevant to the "
                  f"task and the latest messages (BM25 over names and descriptions)")
        return {"agent": agent, "tools": choice.tools, "scores": choice.scores,
                "used": choice.used, "offered": len(candidates), "limit": limit,
                "reason": reason}

    data = await journaled_once(ctx, f"{step}/tools", EventType.TOOLS_SELECTED,
                                f"agent:{agent}", make)
    by_name = {d.name: d for d in candidates}
    chosen = [by_name[n] for n in data["tools"] if n in by_name]
    return chosen + [d for d in definitions if d.name not in choosable]
