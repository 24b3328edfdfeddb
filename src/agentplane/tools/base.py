"""Tools: what an agent can do, and how risky each thing is.

Each tool declares a side-effect class (``read``, ``write``, ``irreversible``), whether it is
idempotent, and optionally a compensating tool that reverses it. The runtime, not the model,
acts on these declarations: a started-but-unconfirmed call is re-run after a crash only if the
tool is ``read`` or idempotent.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from agentplane.errors import AgentplaneError
from agentplane.models.base import ToolDefinition

if TYPE_CHECKING:
    from .trust import FieldTrust


class Effect(StrEnum):
    """Side-effect class of a tool."""

    READ = "read"
    """Changes nothing outside; safe to call again."""
    WRITE = "write"
    """Changes something that can be reversed (by a compensating tool or by a person)."""
    IRREVERSIBLE = "irreversible"
    """Changes something that cannot be taken back (money sent, mail delivered, file deleted)."""


class Trust(StrEnum):
    """Whether a tool's output may carry instructions from outside (mail, web pages, documents)."""

    TRUSTED = "trusted"
    UNTRUSTED = "untrusted"


@dataclass(frozen=True, slots=True)
class SampleRequest:
    """A completion an outside tool asks of the agent that called it (MCP sampling)."""

    messages: tuple[tuple[str, str], ...]
    """The conversation, as ``(role, text)`` pairs (``user`` or ``assistant``)."""
    system: str | None = None
    max_tokens: int | None = None
    asked_by: str = ""
    """Who asks, for the journal (e.g. ``MCP server notes``)."""


@dataclass(frozen=True, slots=True)
class SampleReply:
    text: str
    model: str


Sample = Callable[[SampleRequest], Awaitable[SampleReply]]
"""Answers a ``SampleRequest`` with the calling agent's model; raises ``ToolError`` when it is
refused (over budget, blocked by the guardians)."""


@dataclass(frozen=True, slots=True)
class AskRequest:
    """A question an outside tool's server asks a person during a call (MCP elicitation)."""

    message: str
    schema: dict[str, Any]
    """JSON Schema of the answer (an object of simple fields)."""
    asked_by: str = ""


Ask = Callable[[AskRequest], Awaitable[dict[str, Any]]]
"""Puts an ``AskRequest`` to a person as a durable wait; returns ``{"action": "accept",
"content": {...}}`` or ``{"action": "decline"}``. Until the person answers it raises the
runtime's suspension, which the tool lets propagate (the run waits; the call is made again
when it resumes, and the question is then answered from the journal)."""


@dataclass(frozen=True, slots=True)
class ToolContext:
    """What a tool may learn about the call it serves (pass it as keyword ``context``)."""

    run_id: str
    step_key: str
    """Stable key of this call within the run."""
    idempotency_key: str
    """Stable across retries and crash recovery of the same call: pass it to the system the
    tool changes so a repeated call is recognised there."""
    agent: str
    """Name of the agent that made the call."""
    tool: str
    attempt: int
    """1 for the first attempt, 2 after one recovery, and so on."""
    sample: Sample | None = None
    """The calling agent's model, metered, budgeted and reviewed like its own calls (each
    completion a durable step), for tools whose servers ask for completions; ``None`` where
    the caller offers none."""
    ask: Ask | None = None
    """Puts a server's question to a person (an approval-like wait in the inbox)."""


class ToolError(AgentplaneError):
    """A tool failed; the message is shown to the model as the call's result."""


class ToolArgumentsError(ToolError):
    """The arguments a model gave do not match the tool's parameters."""


Invoke = Callable[[dict[str, Any], ToolContext], Awaitable[Any]]
Check = Callable[[dict[str, Any]], object]


@dataclass(frozen=True, slots=True)
class Tool:
    """A tool ready to be called."""

    name: str
    description: str
    parameters: dict[str, Any]
    """JSON Schema of the arguments object."""
    invoke: Invoke
    effect: Effect = Effect.WRITE
    idempotent: bool = False
    compensate: str | None = None
    """Name of the tool that reverses this one."""
    trust: Trust | FieldTrust | None = None
    """Whether the result may carry instructions from outside: ``Trust`` for the whole result,
    ``FieldTrust`` per field (``tools.trust``). Undeclared: a ``read`` tool's result is trusted;
    a ``write`` or ``irreversible`` tool's result is no trusted origin (a value it echoes back
    is not laundered), though not outside content either."""
    external: bool = False
    """Reaches outside the organisation (an external sink or source): its destination
    arguments must trace to a trusted origin once untrusted content is in the run."""
    composed: tuple[str, ...] | None = None
    """Arguments that are free text the agent composes (a mail's body); None: by name and
    schema (``governance.arguments``)."""
    destination: tuple[str, ...] | None = None
    """Arguments that say where an external call goes (url, recipient); None: by name."""
    cost_usd: float = 0.0
    """What one call costs, in USD (metered; checked against budgets)."""
    check: Check | None = None
    """Raises ``ToolArgumentsError`` for arguments the tool would refuse, without calling it:
    the runtime checks before it journals the start of a call."""
    timeout_s: float | None = None
    """Seconds one call may take before the runtime gives up on it (None: the workflow's
    ``tool_defaults.timeout_s``)."""

    @property
    def result_trust(self) -> Trust | FieldTrust | None:
        """The trust of this tool's results; None: no trusted origin, no outside content."""
        if self.trust is None:
            return Trust.TRUSTED if self.effect is Effect.READ else None
        return self.trust

    @property
    def safe_to_repeat(self) -> bool:
        """Whether an unconfirmed call may be run again after a crash."""
        return self.effect is Effect.READ or self.idempotent

    def definition(self) -> ToolDefinition:
        return ToolDefinition(self.name, self.description, self.parameters)
