"""Perturbations: the runtime made to misbehave on purpose, around the real tools and models.

A simulation (``agentplane simulate``) stresses a workflow before it goes live by changing what
its real tools and models give back — never the workflow itself, whose pinned hash stays the
production one. A ``Perturbations`` set is installed on a run (``Runtime.perturb``); the run's
context then routes each model call (``model_call``) and each tool call (``tool_call``) through
it. Every change made is journaled as ``simulation.perturbed`` at the step it changed, with what
was changed, so the run's timeline shows what was real and what was simulated.

Without a simulation the hook is one ``None`` check per call. Decisions are seeded per step
(``seed``, the perturbation's place, the step key), never by the order concurrent calls happen
to run in: the same seed gives the same perturbations.
"""

from __future__ import annotations

import asyncio
import copy
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from agentplane.journal import EventType, NewEvent, RunRecord
from agentplane.models.base import (
    Message,
    ModelError,
    ModelProvider,
    ModelRequest,
    ModelResponse,
    ToolCall,
)
from agentplane.tools import Tool, ToolContext, ToolError
from agentplane.tools.base import Trust

if TYPE_CHECKING:
    from .context import RunContext

Kind = Literal["drop_fields", "contradict", "tool_latency", "tool_error", "tool_timeout",
               "model_latency", "model_error", "malformed_args", "inject", "conflicting_goal"]
TOOL_KINDS: frozenset[str] = frozenset({"drop_fields", "contradict", "tool_latency",
                                        "tool_error", "tool_timeout", "inject"})
"""Kinds applied around a tool call; the others around a model call."""
CONTRADICTING_FACTORS = (0.0, 0.5, 2.0, 10.0, -1.0)
"""What a number is multiplied by when ``contradict`` declares no value for it."""
WHOLE_RESULT = "result"
"""``contradict``'s ``values`` key for a result that is not an object (text, a number)."""


@dataclass(frozen=True, slots=True)
class Perturbation:
    """One way the runtime misbehaves. Unset filters (``tools``, ``agents``) mean every one."""

    kind: Kind
    probability: float = 1.0
    """Chance (0–1) that an eligible call is perturbed, drawn per call from the seed."""
    tools: tuple[str, ...] = ()
    """Tools it applies to (tool kinds); ``inject`` defaults to every untrusted tool."""
    agents: tuple[str, ...] = ()
    """Agents whose calls it applies to."""
    fields: tuple[str, ...] = ()
    """``drop_fields`` / ``contradict``: the result fields changed (default: seeded choice)."""
    values: dict[str, Any] = field(default_factory=dict)
    """``contradict``: the values that replace the true ones, by field (``result``: the whole
    of a result that is not an object)."""
    latency_ms: float = 0.0
    """``tool_latency`` / ``model_latency``: delay added before the call, in milliseconds."""
    text: str = ""
    """``inject``: content added to a result; ``conflicting_goal``: the extra instruction;
    ``tool_error`` / ``model_error``: the error message."""


PerturbFor = Callable[[RunRecord], "Perturbations | None"]
"""What ``Runtime.perturb`` is: the perturbations of a run about to be driven, or None."""


class Perturbations:
    """The perturbations of one run, seeded. ``label`` names them in the journal (a scenario
    and trial)."""

    def __init__(self, items: list[Perturbation], *, seed: str, label: str = "") -> None:
        self.items = items
        self.seed = seed
        self.label = label

    def _draws(self, index: int, key: str) -> random.Random:
        return random.Random(f"{self.seed}|{index}|{key}")

    def _chosen(self, agent: str, key: str, tool: Tool | None = None
                ) -> list[tuple[int, Perturbation, random.Random]]:
        chosen = []
        for index, p in enumerate(self.items):
            if (p.kind in TOOL_KINDS) != (tool is not None):
                continue
            if p.agents and agent not in p.agents:
                continue
            if tool is not None and not _targets(p, tool):
                continue
            draws = self._draws(index, key)
            if draws.random() < p.probability:
                chosen.append((index, p, draws))
        return chosen

    async def _journal(self, ctx: RunContext, step_key: str, p: Perturbation,
                       change: dict[str, Any]) -> None:
        await ctx.append(NewEvent(EventType.SIMULATION_PERTURBED, "system", step_key,
                                  {"kind": p.kind, "simulation": self.label, **change}))

    # -- model calls --------------------------------------------------------------------------

    async def model_call(self, ctx: RunContext, step_key: str, provider: ModelProvider,
                         request: ModelRequest) -> ModelResponse:
        """Call ``provider`` with this run's model perturbations applied."""
        chosen = self._chosen(request.agent, step_key)
        for _, p, _ in chosen:
            if p.kind == "conflicting_goal":
                request.messages = _with_goal(request.messages, p.text)
                await ctx.record_once(f"simulation/goal/{request.agent}",
                                      EventType.SIMULATION_PERTURBED,
                                      {"kind": p.kind, "simulation": self.label,
                                       "agent": request.agent, "instruction": p.text})
            elif p.kind == "model_latency":
                await self._journal(ctx, step_key, p, {"agent": request.agent,
                                                       "latency_ms": p.latency_ms})
                await asyncio.sleep(p.latency_ms / 1000)
            elif p.kind == "model_error":
                message = p.text or "simulated provider failure: 503 service unavailable"
                await self._journal(ctx, step_key, p, {"agent": request.agent,
                                                       "error": message})
                raise ModelError(message, retryable=True, status=503)
        response = await provider.complete(request)
        for _, p, draws in chosen:
            if p.kind == "malformed_args" and response.tool_calls:
                victim = draws.randrange(len(response.tool_calls))
                call = response.tool_calls[victim]
                raw = _broken_json(call.arguments)
                response.tool_calls[victim] = ToolCall(
                    call.id, call.name, error="arguments are not valid JSON (simulated)",
                    raw_arguments=raw)
                await self._journal(ctx, step_key, p, {"agent": request.agent,
                                                       "tool": call.name, "raw_arguments": raw})
        return response

    # -- tool calls ---------------------------------------------------------------------------

    async def tool_call(self, ctx: RunContext, tool: Tool, arguments: dict[str, Any],
                        context: ToolContext) -> Any:
        """Call ``tool`` with this run's tool perturbations applied."""
        key = f"{context.step_key}#{context.attempt}"
        chosen = self._chosen(context.agent, key, tool)
        step = context.step_key
        for _, p, _ in chosen:
            if p.kind == "tool_latency":
                await self._journal(ctx, step, p, {"tool": tool.name, "latency_ms": p.latency_ms})
                await asyncio.sleep(p.latency_ms / 1000)
            elif p.kind == "tool_error":
                message = p.text or f"simulated failure of {tool.name}"
                await self._journal(ctx, step, p, {"tool": tool.name, "error": message})
                raise ToolError(message)
            elif p.kind == "tool_timeout":
                from .context import ToolTimeoutError

                await self._journal(ctx, step, p, {"tool": tool.name})
                raise ToolTimeoutError(f"{tool.name} did not answer in time (simulated)")
        value = await tool.invoke(arguments, context)
        for _, p, draws in chosen:
            if p.kind in ("tool_latency", "tool_error", "tool_timeout"):
                continue
            value, change = _change_result(p, value, draws)
            if change is not None:
                await self._journal(ctx, step, p, {"tool": tool.name, **change})
        return value


def _targets(p: Perturbation, tool: Tool) -> bool:
    if p.tools:
        return tool.name in p.tools
    # injected content arrives where outside content can: a tool whose result is untrusted
    return p.kind != "inject" or tool.result_trust not in (Trust.TRUSTED, None)


def _with_goal(messages: list[Message], instruction: str) -> list[Message]:
    """The conversation with ``instruction`` added to the agent's instructions (or first)."""
    if messages and messages[0].role == "system":
        first = messages[0]
        return [Message("system", f"{first.content or ''}\n\n{instruction}"), *messages[1:]]
    return [Message("system", instruction), *messages]


def _broken_json(arguments: dict[str, Any]) -> str:
    import json

    text = json.dumps(arguments)
    return text[:-1] if len(text) > 2 else '{"'  # an object that never closes


def _change_result(p: Perturbation, value: Any, draws: random.Random
                   ) -> tuple[Any, dict[str, Any] | None]:
    """The result changed as ``p`` says, and what was changed (None: nothing to change)."""
    if p.kind == "inject":
        if isinstance(value, str):
            return f"{value}\n{p.text}", {"injected": p.text}
        if isinstance(value, list):
            return [*value, p.text], {"injected": p.text}
        if isinstance(value, dict):
            return {**value, "note": p.text}, {"injected": p.text, "field": "note"}
        return value, None
    if not isinstance(value, dict):  # a plain result is contradicted whole, if declared
        if p.kind == "contradict" and WHOLE_RESULT in p.values:
            return p.values[WHOLE_RESULT], {"contradicted": {WHOLE_RESULT: {
                "was": value, "now": p.values[WHOLE_RESULT]}}}
        return value, None
    if not value:
        return value, None
    changed = copy.deepcopy(value)
    if p.kind == "drop_fields":
        names = [f for f in p.fields if f in value] if p.fields else \
            draws.sample(sorted(value), max(1, len(value) // 2))  # about half, at least one
        for name in names:
            del changed[name]
        return changed, {"dropped": sorted(names)}
    contradicted: dict[str, Any] = {}
    for name in [f for f in p.fields if f in value] or [draws.choice(sorted(value))]:
        new = p.values[name] if name in p.values else _contradiction(value[name], draws)
        changed[name] = new
        contradicted[name] = {"was": value[name], "now": new}
    return changed, {"contradicted": contradicted}


def _contradiction(old: Any, draws: random.Random) -> Any:
    if isinstance(old, bool):
        return not old
    if isinstance(old, int | float):
        return old * draws.choice(CONTRADICTING_FACTORS)
    return f"not {old}"


__all__ = ["TOOL_KINDS", "Kind", "PerturbFor", "Perturbation", "Perturbations"]
