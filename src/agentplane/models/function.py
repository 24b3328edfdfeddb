"""The ``function`` model: replies computed by a Python function of the conversation.

A test double, public on purpose (like PydanticAI's ``FunctionModel``): where the scripted model
replays a fixed list, a function can branch on what it is asked — one triage workflow, tested
with a refund request and with a complaint, instead of two workflow files with two scripts.
Its replies are journaled like any model's, so a resumed run replays them without calling the
function again.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from .base import Message, ModelRequest, ModelResponse, TextCallback
from .scripted import ScriptedReply, respond

Reply = ScriptedReply
"""What a reply function may return besides plain text: tool calls, usage, a declared error."""

ReplyValue = str | ScriptedReply | ModelResponse
ReplyFunction = Callable[["ModelCall"], ReplyValue | Awaitable[ReplyValue]]
"""A function (or coroutine function) of one model call: text is a final answer, a
``Reply`` may call tools, a ``ModelResponse`` is returned as it is."""


def call(tool: str, **arguments: Any) -> dict[str, Any]:
    """A tool call for ``Reply(tool_calls=[...])``: ``call("lookup_order", order_id="A1")``."""
    return {"name": tool, "arguments": arguments}


@dataclass(frozen=True, slots=True)
class ModelCall:
    """One call an agent makes to the model, as a reply function sees it."""

    request: ModelRequest
    """The request as a provider receives it (messages, tool definitions, settings)."""

    @property
    def agent(self) -> str:
        """Name of the agent calling."""
        return self.request.agent

    @property
    def index(self) -> int:
        """Ordinal (from 0) of this agent's model calls in the run."""
        return self.request.call_index

    @property
    def messages(self) -> list[Message]:
        return self.request.messages

    @property
    def input(self) -> str:
        """Text of the first user message: what the agent was asked."""
        return next((m.content or "" for m in self.messages if m.role == "user"), "")

    @property
    def tool_results(self) -> list[Message]:
        """The tool results the agent has seen so far, oldest first."""
        return [m for m in self.messages if m.role == "tool"]

    @property
    def tools(self) -> list[str]:
        """Names of the tools the agent may call."""
        return [t.name for t in self.request.tools]


class FunctionModel:
    """A model provider whose replies come from ``function``. Never touches the network.

    Give it to a run in place of every model (``flow.run_sync(q, model=FunctionModel(f))`` or
    ``Runtime(model=...)``): the workflow keeps its real ``model:`` settings and pinned hash."""

    name = "function"

    def __init__(self, function: ReplyFunction) -> None:
        self.function = function
        self.calls: list[ModelCall] = []
        """Every call made to the model, in order (tests assert on what agents were asked)."""

    async def complete(self, request: ModelRequest, *,
                       on_text: TextCallback | None = None) -> ModelResponse:
        call_ = ModelCall(request)
        self.calls.append(call_)
        value = self.function(call_)
        if inspect.isawaitable(value):
            value = await value
        if isinstance(value, ModelResponse):
            return value
        if isinstance(value, str):
            value = ScriptedReply(content=value)
        if not isinstance(value, ScriptedReply):
            raise TypeError(f"the reply function {_describe(self.function)} returned "
                            f"{type(value).__name__}; return text, a Reply or a ModelResponse")
        return respond(request, value, on_text=on_text)

    async def aclose(self) -> None:
        return None


def _describe(function: Callable[..., Any]) -> str:
    return getattr(function, "__qualname__", repr(function))
