"""What every model provider speaks: requests, responses, tool calls, usage, errors.

Providers translate these into their wire format (OpenAI-compatible chat completions, Anthropic
Messages, the offline ``scripted`` provider) and back. Everything here is plain data that turns
into JSON and back without loss, because model responses are journaled and replayed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from agentplane.errors import AgentplaneError

Role = Literal["system", "user", "assistant", "tool"]


@dataclass(slots=True)
class ToolCall:
    """A tool call proposed by a model."""

    id: str
    """The provider's id for the call, echoed back in the tool result message."""
    name: str
    arguments: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    """Set when the model's arguments could not be parsed (e.g. not JSON); ``arguments`` is then
    empty and ``raw_arguments`` holds what the model sent."""
    raw_arguments: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "name": self.name, "arguments": self.arguments}
        if self.error is not None:
            out["error"] = self.error
            out["raw_arguments"] = self.raw_arguments
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ToolCall:
        return cls(id=str(d["id"]), name=str(d["name"]), arguments=dict(d.get("arguments") or {}),
                   error=d.get("error"), raw_arguments=d.get("raw_arguments"))


@dataclass(slots=True)
class Message:
    """One message of a conversation."""

    role: Role
    content: str | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)
    """Tool calls of an assistant message."""
    tool_call_id: str | None = None
    """For a ``tool`` message: the id of the call it answers."""
    name: str | None = None
    """For a ``tool`` message: the tool's name."""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.tool_calls:
            out["tool_calls"] = [c.to_dict() for c in self.tool_calls]
        if self.tool_call_id is not None:
            out["tool_call_id"] = self.tool_call_id
        if self.name is not None:
            out["name"] = self.name
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Message:
        return cls(role=d["role"], content=d.get("content"),
                   tool_calls=[ToolCall.from_dict(c) for c in d.get("tool_calls") or []],
                   tool_call_id=d.get("tool_call_id"), name=d.get("name"))


@dataclass(slots=True)
class Usage:
    """Tokens used by one model call."""

    input_tokens: int = 0
    """Prompt tokens, including cached ones."""
    output_tokens: int = 0
    """Completion tokens, including reasoning ones."""
    cached_input_tokens: int = 0
    """Prompt tokens served from the provider's cache (priced lower)."""
    reasoning_tokens: int = 0
    """Completion tokens spent on hidden reasoning."""

    def to_dict(self) -> dict[str, int]:
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cached_input_tokens": self.cached_input_tokens,
            "reasoning_tokens": self.reasoning_tokens,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> Usage:
        d = d or {}
        return cls(**{k: int(d.get(k, 0) or 0) for k in
                      ("input_tokens", "output_tokens", "cached_input_tokens", "reasoning_tokens")})

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cached_input_tokens + other.cached_input_tokens,
            self.reasoning_tokens + other.reasoning_tokens,
        )


@dataclass(slots=True)
class ToolDefinition:
    """A tool as a model sees it."""

    name: str
    description: str
    parameters: dict[str, Any]
    """JSON Schema of the arguments object."""


@dataclass(slots=True)
class ModelRequest:
    """One call to a model."""

    model: str
    """The model's name as the provider knows it (e.g. ``gpt-4o-mini``)."""
    messages: list[Message]
    tools: list[ToolDefinition] = field(default_factory=list)
    agent: str = ""
    """Name of the agent making the call."""
    call_index: int = 0
    """Ordinal (from 0) of the agent's model calls in the run; the scripted provider uses it."""
    max_output_tokens: int | None = None
    temperature: float | None = None


@dataclass(slots=True)
class ModelResponse:
    """What a model answered: text, tool calls, or both."""

    content: str | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    model: str = ""
    """The model that actually answered, as the provider reports it."""
    finish_reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "content": self.content,
            "tool_calls": [c.to_dict() for c in self.tool_calls],
            "usage": self.usage.to_dict(),
            "model": self.model,
            "finish_reason": self.finish_reason,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelResponse:
        return cls(content=d.get("content"),
                   tool_calls=[ToolCall.from_dict(c) for c in d.get("tool_calls") or []],
                   usage=Usage.from_dict(d.get("usage")), model=str(d.get("model") or ""),
                   finish_reason=d.get("finish_reason"))


class ModelError(AgentplaneError):
    """A model call failed. ``retryable`` says whether trying again may help."""

    def __init__(self, message: str, *, retryable: bool = False, status: int | None = None):
        super().__init__(message)
        self.retryable = retryable
        self.status = status


class MalformedResponseError(ModelError):
    """The provider answered, but not in its documented wire format."""


TextCallback = Callable[[str], None]


@runtime_checkable
class ModelProvider(Protocol):
    """A source of model responses."""

    name: str
    """Short provider name used in logs and events, e.g. ``openai``, ``scripted``."""

    async def complete(
        self, request: ModelRequest, *, on_text: TextCallback | None = None
    ) -> ModelResponse:
        """Answer one request. ``on_text`` receives text deltas as they stream, if streaming."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...
