"""Provider for the Anthropic Messages API (``POST {base_url}/v1/messages``).

System messages become the top-level ``system`` prompt, assistant tool calls become
``tool_use`` blocks, and tool results go back as ``tool_result`` blocks of a user message.
Streamed (SSE) or not; retries and error messages come from :mod:`agentplane.models._http`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from ._http import HttpProvider, StreamFailure, as_object, iter_sse, parse_tool_arguments
from .base import (
    MalformedResponseError,
    Message,
    ModelError,
    ModelRequest,
    ModelResponse,
    TextCallback,
    ToolCall,
    Usage,
)
from .rich import rich_parts

ANTHROPIC_VERSION = "2023-06-01"

_TRANSIENT_STREAM_ERRORS = frozenset({"overloaded_error", "api_error", "rate_limit_error"})


class AnthropicProvider(HttpProvider):
    """Calls the Anthropic Messages API with ``httpx``.

    Takes the same options as :class:`~agentplane.models.openai.OpenAIProvider`; ``base_url``
    defaults to ``https://api.anthropic.com``. The API requires ``max_tokens``: requests without
    ``max_output_tokens`` send :attr:`default_max_tokens`. 529 (overloaded) is retried too.
    :meth:`from_env` reads ``ANTHROPIC_API_KEY`` and ``ANTHROPIC_BASE_URL``.
    """

    name = "anthropic"
    label = "Anthropic API"
    default_base_url = "https://api.anthropic.com"
    api_key_env = "ANTHROPIC_API_KEY"
    base_url_env = "ANTHROPIC_BASE_URL"
    endpoint = "/v1/messages"
    retry_statuses = HttpProvider.retry_statuses | {529}
    default_max_tokens = 4096
    """``max_tokens`` sent when the request does not set ``max_output_tokens``."""

    def _auth_headers(self, api_key: str) -> dict[str, str]:
        return {"x-api-key": api_key}

    def _headers(self, stream: bool) -> dict[str, str]:
        return {"anthropic-version": ANTHROPIC_VERSION, **super()._headers(stream)}

    # -- request -----------------------------------------------------------------------------------

    def request_body(self, request: ModelRequest) -> dict[str, Any]:
        """The JSON body sent for ``request``."""
        system = [m.content for m in request.messages if m.role == "system" and m.content]
        body: dict[str, Any] = {
            "model": request.model,
            "max_tokens": request.max_output_tokens or self.default_max_tokens,
            "messages": messages_to_wire(request.messages),
        }
        if system:
            body["system"] = "\n\n".join(system)
        if request.tools:
            body["tools"] = [{"name": t.name, "description": t.description,
                              "input_schema": t.parameters} for t in request.tools]
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if self.stream:
            body["stream"] = True
        return body

    # -- non-streamed reply ------------------------------------------------------------------------

    def parse_reply(self, body: dict[str, Any], model: str, quote: str) -> ModelResponse:
        """Turn a ``message`` object into a :class:`ModelResponse`."""
        if body.get("type") == "error":
            self._raise_stream_error(body, quote)
        content = body.get("content")
        if not isinstance(content, list):
            raise MalformedResponseError(f"{self.label} answered without a 'content' list: "
                                         f"{quote}")
        state = _Blocks()
        for i, block in enumerate(content):
            if not isinstance(block, dict):
                raise MalformedResponseError(f"content block {i} is not an object: {quote}")
            state.start(i, block)
        return self._finish(state, body.get("model"), body.get("stop_reason"),
                            body.get("usage"), model)

    def _finish(self, blocks: _Blocks, answered_by: Any, stop: Any, usage: Any,
                model: str) -> ModelResponse:
        calls = []
        for index in sorted(blocks.tools):
            tool = blocks.tools[index]
            if not tool.name:
                raise MalformedResponseError(f"tool_use block {index} has no name: "
                                             f"{self.excerpt(repr(tool))}")
            raw: Any = "".join(tool.json) if tool.json else tool.input
            args, error = parse_tool_arguments(raw)
            calls.append(ToolCall(id=tool.id or f"toolu_{index}", name=tool.name, arguments=args,
                                  error=error, raw_arguments=None if error is None else str(raw)))
        return ModelResponse(content="".join(blocks.text) or None, tool_calls=calls,
                             usage=usage_from_wire(usage), model=str(answered_by or model),
                             finish_reason=stop if isinstance(stop, str) else None)

    def _raise_stream_error(self, event: dict[str, Any], raw: str) -> None:
        error = as_object(event.get("error"))
        kind = str(error.get("type") or "error")
        message = (f"{self.label} reported {kind}: "
                   f"{self.excerpt(str(error.get('message') or raw))}")
        if kind in _TRANSIENT_STREAM_ERRORS:
            raise StreamFailure(message)
        raise ModelError(message)

    # -- streamed reply ----------------------------------------------------------------------------

    async def _read_stream(
        self, response: httpx.Response, model: str, emit: TextCallback
    ) -> ModelResponse:
        state = _StreamState()
        async for data in iter_sse(response):
            event = self.decode(data, "a stream event")
            if self._apply_event(state, event, emit, data):
                return self._finish(state.blocks, state.model, state.stop, state.usage, model)
        raise StreamFailure(f"{self.label} ended the stream before 'message_stop'")

    def _apply_event(
        self, state: _StreamState, event: dict[str, Any], emit: TextCallback, raw: str
    ) -> bool:
        """Apply one stream event; True at ``message_stop``."""
        kind = event.get("type")
        if kind == "message_start":
            message = as_object(event.get("message"))
            state.model = message.get("model")
            state.usage.update(as_object(message.get("usage")))
        elif kind == "content_block_start":
            block = event.get("content_block")
            if not isinstance(block, dict) or not isinstance(event.get("index"), int):
                raise MalformedResponseError(f"content_block_start without an index and "
                                             f"block: {self.excerpt(raw)}")
            state.blocks.start(event["index"], block, emit)
        elif kind == "content_block_delta":
            delta = event.get("delta")
            if not isinstance(delta, dict) or not isinstance(event.get("index"), int):
                raise MalformedResponseError(f"content_block_delta without an index and "
                                             f"delta: {self.excerpt(raw)}")
            state.blocks.delta(event["index"], delta, emit)
        elif kind == "message_delta":
            state.stop = as_object(event.get("delta")).get("stop_reason") or state.stop
            usage = as_object(event.get("usage"))
            state.usage.update({k: v for k, v in usage.items() if v is not None})
        elif kind == "message_stop":
            return True
        elif kind == "error":
            self._raise_stream_error(event, raw)
        return False  # ping, content_block_stop and future event types


@dataclass
class _Tool:
    id: str = ""
    name: str = ""
    input: Any = None
    json: list[str] = field(default_factory=list)


@dataclass
class _Blocks:
    """Content blocks as they arrive: text in order, tool_use blocks by index."""

    text: list[str] = field(default_factory=list)
    tools: dict[int, _Tool] = field(default_factory=dict)

    def start(self, index: int, block: dict[str, Any], emit: TextCallback | None = None) -> None:
        if block.get("type") == "tool_use":
            self.tools[index] = _Tool(id=str(block.get("id") or ""),
                                      name=str(block.get("name") or ""), input=block.get("input"))
        elif block.get("type") == "text":
            self._text(block.get("text"), emit)

    def delta(self, index: int, delta: dict[str, Any], emit: TextCallback) -> None:
        if delta.get("type") == "text_delta":
            self._text(delta.get("text"), emit)
        elif delta.get("type") == "input_json_delta" and index in self.tools:
            partial = delta.get("partial_json")
            if isinstance(partial, str):
                self.tools[index].json.append(partial)

    def _text(self, text: Any, emit: TextCallback | None) -> None:
        if isinstance(text, str) and text:
            self.text.append(text)
            if emit is not None:
                emit(text)


@dataclass
class _StreamState:
    blocks: _Blocks = field(default_factory=_Blocks)
    model: Any = None
    stop: Any = None
    usage: dict[str, Any] = field(default_factory=dict)


def messages_to_wire(messages: list[Message]) -> list[dict[str, Any]]:
    """Our messages (system ones excluded) as Messages API turns of content blocks.

    Tool results become ``tool_result`` blocks of a user turn; consecutive turns of the same
    role are merged, as the API expects user and assistant turns to alternate.
    """
    turns: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "system":
            continue
        role = "assistant" if message.role == "assistant" else "user"
        blocks = _blocks(message)
        if not blocks:
            continue
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    for turn in turns:  # the API wants a user turn's tool results before its text
        turn["content"].sort(key=lambda b: b["type"] != "tool_result")
    return turns


def _blocks(message: Message) -> list[dict[str, Any]]:
    if message.role == "tool":
        block: dict[str, Any] = {"type": "tool_result", "tool_use_id": message.tool_call_id or ""}
        parts = rich_parts(message.content)
        if parts is not None:  # images as image blocks, not base64 text
            block["content"] = [
                {"type": "image", "source": {"type": "base64", "media_type": p.media_type,
                                             "data": p.data}} if p.is_image
                else {"type": "text", "text": p.text} for p in parts if p.is_image or p.text]
        elif message.content:
            block["content"] = message.content
        return [block]
    out: list[dict[str, Any]] = []
    if message.content:
        out.append({"type": "text", "text": message.content})
    out.extend({"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments}
               for c in message.tool_calls)
    return out


def usage_from_wire(usage: Any) -> Usage:
    """Map Anthropic ``usage`` to :class:`Usage`.

    Anthropic counts cache reads and cache writes apart from ``input_tokens``; our
    ``input_tokens`` includes both, and ``cached_input_tokens`` is the cache reads.
    """
    if not isinstance(usage, dict):
        return Usage()
    fields = {k: v if isinstance(v, int) and not isinstance(v, bool) else 0
              for k, v in usage.items()}
    read = fields.get("cache_read_input_tokens", 0)
    written = fields.get("cache_creation_input_tokens", 0)
    return Usage(input_tokens=fields.get("input_tokens", 0) + read + written,
                 output_tokens=fields.get("output_tokens", 0), cached_input_tokens=read)
