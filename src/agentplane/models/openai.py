"""Provider for OpenAI-compatible chat completions servers.

Speaks ``POST {base_url}/chat/completions`` as OpenAI, DeepSeek, Qwen (DashScope), vLLM, Ollama,
llama.cpp, LM Studio and most gateways do, streamed (SSE) or not, with tool calls. Retries and
error messages come from :mod:`agentplane.models._http`.
"""

from __future__ import annotations

import json
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
from .rich import placeholder, rich_parts


class OpenAIProvider(HttpProvider):
    """Calls an OpenAI-compatible ``/chat/completions`` endpoint with ``httpx``.

    ``base_url`` defaults to ``https://api.openai.com/v1``; point it at any compatible server
    (e.g. ``http://localhost:11434/v1`` for Ollama). ``api_key`` is sent as a bearer token and
    may be omitted for local servers. With ``stream=True`` replies are streamed and each text
    delta is passed to ``on_text``; the final :class:`ModelResponse` is the same either way.
    :meth:`from_env` reads ``OPENAI_API_KEY`` and ``OPENAI_BASE_URL``.
    """

    name = "openai"
    label = "OpenAI-compatible server"
    default_base_url = "https://api.openai.com/v1"
    api_key_env = "OPENAI_API_KEY"
    base_url_env = "OPENAI_BASE_URL"
    endpoint = "/chat/completions"

    def _auth_headers(self, api_key: str) -> dict[str, str]:
        return {"authorization": f"Bearer {api_key}"}

    # -- request -----------------------------------------------------------------------------------

    def request_body(self, request: ModelRequest) -> dict[str, Any]:
        """The JSON body sent for ``request``."""
        body: dict[str, Any] = {"model": request.model,
                                "messages": messages_to_wire(request.messages)}
        if request.tools:
            body["tools"] = [{"type": "function", "function": {
                "name": t.name, "description": t.description, "parameters": t.parameters}}
                for t in request.tools]
        if request.max_output_tokens is not None:
            body["max_tokens"] = request.max_output_tokens
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if self.stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        return body

    # -- non-streamed reply ------------------------------------------------------------------------

    def parse_reply(self, body: dict[str, Any], model: str, quote: str) -> ModelResponse:
        """Turn a ``chat.completion`` object into a :class:`ModelResponse`."""
        self._raise_reported_error(body)
        choices = body.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            raise MalformedResponseError(f"{self.label} answered without 'choices': {quote}")
        message = choices[0].get("message")
        if not isinstance(message, dict):
            raise MalformedResponseError(f"{self.label} answered with a choice without a "
                                         f"'message': {quote}")
        calls = message.get("tool_calls") or []
        if not isinstance(calls, list):
            raise MalformedResponseError(f"'tool_calls' is not a list: {quote}")
        tool_calls = []
        for i, call in enumerate(calls):
            function = call.get("function") if isinstance(call, dict) else None
            if not isinstance(function, dict):
                raise MalformedResponseError(f"tool call {i} has no 'function': {quote}")
            tool_calls.append(self._tool_call(i, call.get("id"), function.get("name"),
                                              function.get("arguments"), quote))
        return ModelResponse(
            content=_text(message.get("content")) or _text(message.get("refusal")),
            tool_calls=tool_calls,
            usage=usage_from_wire(body.get("usage")),
            model=str(body.get("model") or model),
            finish_reason=choices[0].get("finish_reason"),
        )

    def _tool_call(self, index: int, id_: Any, name: Any, arguments: Any, quote: str) -> ToolCall:
        if not isinstance(name, str) or not name:
            raise MalformedResponseError(f"tool call {index} has no function name: {quote}")
        args, error = parse_tool_arguments(arguments)
        return ToolCall(id=str(id_ or f"call_{index}"), name=name, arguments=args, error=error,
                        raw_arguments=None if error is None else str(arguments))

    def _raise_reported_error(self, body: dict[str, Any]) -> None:
        error = body.get("error")
        if error and "choices" not in body:
            detail = error.get("message") if isinstance(error, dict) else error
            raise ModelError(f"{self.label} reported an error: "
                             f"{self.excerpt(str(detail or error))}")

    # -- streamed reply ----------------------------------------------------------------------------

    async def _read_stream(
        self, response: httpx.Response, model: str, emit: TextCallback
    ) -> ModelResponse:
        state = _StreamState()
        async for data in iter_sse(response):
            if data.strip() == "[DONE]":
                state.done = True
                break
            chunk = self.decode(data, "a stream chunk")
            self._raise_reported_error(chunk)
            self._apply_chunk(state, chunk, emit, data)
        if not state.done and state.finish_reason is None:
            raise StreamFailure(f"{self.label} ended the stream before the reply was complete")
        return self._finish(state, model)

    def _apply_chunk(
        self, state: _StreamState, chunk: dict[str, Any], emit: TextCallback, raw: str
    ) -> None:
        state.model = str(chunk.get("model") or state.model)
        if chunk.get("usage"):
            state.usage = chunk["usage"]
        choices = chunk.get("choices") or []
        if not isinstance(choices, list):
            raise MalformedResponseError(f"stream chunk 'choices' is not a list: "
                                         f"{self.excerpt(raw)}")
        for choice in choices:
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue
            state.finish_reason = choice.get("finish_reason") or state.finish_reason
            delta = choice.get("delta") or {}
            if not isinstance(delta, dict):
                raise MalformedResponseError(f"stream chunk 'delta' is not an object: "
                                             f"{self.excerpt(raw)}")
            text = _text(delta.get("content"))
            if text:
                state.text.append(text)
                emit(text)
            for call in delta.get("tool_calls") or []:
                if not isinstance(call, dict):
                    raise MalformedResponseError(f"stream tool call is not an object: "
                                                 f"{self.excerpt(raw)}")
                state.add_call_delta(call)

    def _finish(self, state: _StreamState, model: str) -> ModelResponse:
        partial = [state.calls[k] for k in sorted(state.calls)]
        calls = [self._tool_call(i, c.id, c.name, "".join(c.arguments) if c.arguments else c.whole,
                                 self.excerpt(repr(c))) for i, c in enumerate(partial)]
        return ModelResponse(content="".join(state.text) or None, tool_calls=calls,
                             usage=usage_from_wire(state.usage), model=state.model or model,
                             finish_reason=state.finish_reason)


@dataclass
class _PartialCall:
    id: str | None = None
    name: str = ""
    arguments: list[str] = field(default_factory=list)
    whole: Any = None
    """Arguments sent as an already decoded object (some servers do)."""


@dataclass
class _StreamState:
    text: list[str] = field(default_factory=list)
    calls: dict[int, _PartialCall] = field(default_factory=dict)
    finish_reason: str | None = None
    model: str = ""
    usage: Any = None
    done: bool = False

    def add_call_delta(self, delta: dict[str, Any]) -> None:
        """Merge one tool-call delta: id and name come first, arguments in pieces."""
        index = delta.get("index")
        if not isinstance(index, int):  # servers that omit the index send whole calls
            known = [k for k, c in self.calls.items() if delta.get("id") and c.id == delta["id"]]
            index = known[0] if known else len(self.calls)
        call = self.calls.setdefault(index, _PartialCall())
        call.id = delta.get("id") or call.id
        function = as_object(delta.get("function"))
        if isinstance(function.get("name"), str):
            call.name = call.name if call.name == function["name"] else call.name + function["name"]
        args = function.get("arguments")
        if isinstance(args, str):
            call.arguments.append(args)
        elif args is not None:
            call.whole = args


def messages_to_wire(messages: list[Message]) -> list[dict[str, Any]]:
    """Our messages in the chat completions format. Images in tool results (which a ``tool``
    message cannot carry) follow the run of tool messages as a user message of image parts."""
    out: list[dict[str, Any]] = []
    images: list[dict[str, Any]] = []
    for message in messages:
        if message.role != "tool" and images:
            out.append({"role": "user", "content": images})
            images = []
        parts = rich_parts(message.content) if message.role == "tool" else None
        if parts is None:
            out.append(message_to_wire(message))
            continue
        texts: list[str] = []
        for part in parts:
            if part.is_image:
                name = placeholder(len(images) + 1, part)
                texts.append(f"{name} (attached below)")
                images += [{"type": "text", "text": f"{name} from tool {message.name or ''}"
                                                    f" (call {message.tool_call_id or ''}):"},
                           {"type": "image_url", "image_url": {
                               "url": f"data:{part.media_type};base64,{part.data}"}}]
            elif part.text:
                texts.append(part.text)
        out.append({"role": "tool", "tool_call_id": message.tool_call_id or "",
                    "content": "\n".join(texts)})
    if images:
        out.append({"role": "user", "content": images})
    return out


def message_to_wire(message: Message) -> dict[str, Any]:
    """One :class:`Message` in the chat completions format."""
    if message.role == "tool":
        return {"role": "tool", "tool_call_id": message.tool_call_id or "",
                "content": message.content or ""}
    if message.role != "assistant":
        return {"role": message.role, "content": message.content or ""}
    out: dict[str, Any] = {"role": "assistant", "content": message.content}
    if message.tool_calls:
        # Arguments that did not parse are sent as {}: some servers re-parse them.
        out["tool_calls"] = [{"id": c.id, "type": "function", "function": {
            "name": c.name, "arguments": json.dumps(c.arguments, ensure_ascii=False)}}
            for c in message.tool_calls]
    elif message.content is None:
        out["content"] = ""
    return out


def usage_from_wire(usage: Any) -> Usage:
    """Map an OpenAI ``usage`` object (all fields optional) to :class:`Usage`."""
    if not isinstance(usage, dict):
        return Usage()
    prompt = as_object(usage.get("prompt_tokens_details"))
    completion = as_object(usage.get("completion_tokens_details"))
    cached = _int(prompt.get("cached_tokens")) or _int(usage.get("prompt_cache_hit_tokens"))
    return Usage(input_tokens=_int(usage.get("prompt_tokens")),
                 output_tokens=_int(usage.get("completion_tokens")),
                 cached_input_tokens=cached,
                 reasoning_tokens=_int(completion.get("reasoning_tokens")))


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _text(content: Any) -> str | None:
    """Message content as text; content given as a list of parts is joined."""
    if isinstance(content, str):
        return content or None
    if isinstance(content, list):
        parts = [p.get("text", "") for p in content if isinstance(p, dict)]
        return "".join(p for p in parts if isinstance(p, str)) or None
    return None
