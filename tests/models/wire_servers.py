"""Real HTTP servers on loopback that speak the OpenAI and Anthropic wire formats, scripted.

A test queues :class:`Reply` objects (a JSON body, an SSE stream, a dropped connection, a stall
longer than the client's timeout ...); each request the server receives takes the next one and
is recorded, so tests can assert on what the provider sent. Nothing in ``httpx`` is mocked.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self

import pytest

from agentplane.models import _http

SSE = tuple[str | None, str]
"""One server-sent event: (event name or None, data)."""


@dataclass
class Reply:
    """One scripted answer."""

    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    events: list[SSE] | None = None
    """If set, answer with ``text/event-stream`` (chunked), one chunk per event."""
    drop: bool = False
    """Close the connection without answering."""
    drop_after_events: int | None = None
    """Cut the connection after this many events, mid-stream."""
    delay: float = 0.0
    """Wait this long before answering (to exceed the client's timeout)."""


@dataclass
class Received:
    """One request the server received."""

    method: str
    path: str
    headers: dict[str, str]
    """Lower-cased header names."""
    raw: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.raw)


def json_reply(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
    """Answer ``body`` as JSON."""
    return Reply(status=status, body=json.dumps(body).encode(), headers=headers or {})


def raw_reply(text: str, status: int = 200, content_type: str = "text/plain") -> Reply:
    """Answer ``text`` verbatim."""
    return Reply(status=status, body=text.encode(), content_type=content_type)


def drop_connection() -> Reply:
    """Close the connection without a response."""
    return Reply(drop=True)


def stall(seconds: float = 10.0) -> Reply:
    """Say nothing for ``seconds`` (cut short when the server stops), then a 500."""
    return Reply(status=500, delay=seconds, body=b'{"error": "too late"}')


def record_delays(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Make providers record their backoff delays in the returned list instead of sleeping."""
    recorded: list[float] = []

    async def record(seconds: float) -> None:
        recorded.append(seconds)

    monkeypatch.setattr(_http, "_sleep", record)
    return recorded


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def _answer(self) -> None:
        wire = self.server.wire
        raw = self.rfile.read(int(self.headers.get("content-length") or 0))
        wire.received.append(Received(self.command, self.path,
                                      {k.lower(): v for k, v in self.headers.items()}, raw))
        reply = wire.next_reply(self.path)
        if reply.delay and wire.stopping.wait(reply.delay):
            self.close_connection = True
            return
        try:
            self._send(reply)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _send(self, reply: Reply) -> None:
        if reply.drop:
            self.close_connection = True
            return
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if reply.events is None:
            self.send_header("content-type", reply.content_type)
            self.send_header("content-length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)
            return
        self.send_header("content-type", "text/event-stream")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        for i, (event, data) in enumerate(reply.events):
            if reply.drop_after_events is not None and i >= reply.drop_after_events:
                self.close_connection = True
                return
            text = (f"event: {event}\n" if event else "") + f"data: {data}\n\n"
            chunk = text.encode()
            self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        self.wfile.write(b"0\r\n\r\n")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    wire: WireServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients hanging up mid-answer are part of the tests; stay quiet."""


class WireServer:
    """A scripted HTTP server on 127.0.0.1 (random port), run in a background thread.

    Use as a context manager. ``url`` is its base URL; :meth:`script` queues replies;
    ``received`` lists the requests. A request to another path than ``path`` gets a 404, and
    a request with no reply left gets a 418 (not retried by providers).
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.received: list[Received] = []
        self.stopping = threading.Event()
        self._replies: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.wire = self
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.01,),
                                        daemon=True)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def script(self, *replies: Reply) -> None:
        """Queue replies, answered in order."""
        with self._lock:
            self._replies.extend(replies)

    @property
    def pending(self) -> int:
        """Replies not yet used."""
        with self._lock:
            return len(self._replies)

    def next_reply(self, path: str) -> Reply:
        if path != self.path:
            return json_reply({"error": {"message": f"no route {path}"}}, status=404)
        with self._lock:
            if self._replies:
                return self._replies.popleft()
        return json_reply({"error": {"message": "wire server: no scripted reply left"}}, 418)

    @property
    def bodies(self) -> list[Any]:
        """The JSON bodies received, in order."""
        return [r.json for r in self.received]


# -- OpenAI chat completions ---------------------------------------------------------------------

ToolSpec = tuple[str, str, list[str]]
"""A tool call to send: (id, name, argument pieces whose concatenation is the JSON string)."""


def openai_server() -> WireServer:
    """A server for ``base_url=server.url + "/v1"``."""
    return WireServer("/v1/chat/completions")


def openai_completion(content: str | None = None, tool_calls: list[ToolSpec] | None = None,
                      usage: dict[str, Any] | None = None, finish_reason: str = "stop",
                      model: str = "gpt-test-2024") -> dict[str, Any]:
    """A ``chat.completion`` object."""
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = [{"id": i, "type": "function",
                                  "function": {"name": n, "arguments": "".join(a)}}
                                 for i, n, a in tool_calls]
    return {"id": "chatcmpl-1", "object": "chat.completion", "created": 1700000000,
            "model": model, "choices": [{"index": 0, "message": message, "logprobs": None,
                                         "finish_reason": finish_reason}],
            "usage": usage}


def openai_chunks(content: list[str] | None = None, tool_calls: list[ToolSpec] | None = None,
                  usage: dict[str, Any] | None = None, finish_reason: str = "stop",
                  model: str = "gpt-test-2024") -> list[dict[str, Any]]:
    """``chat.completion.chunk`` objects as OpenAI streams them with ``include_usage``."""

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1700000000,
                "model": model, "usage": None,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    out = [chunk({"role": "assistant", "content": "" if content else None})]
    out += [chunk({"content": piece}) for piece in content or []]
    for index, (id_, name, pieces) in enumerate(tool_calls or []):
        out.append(chunk({"tool_calls": [{"index": index, "id": id_, "type": "function",
                                          "function": {"name": name, "arguments": ""}}]}))
        out += [chunk({"tool_calls": [{"index": index, "function": {"arguments": p}}]})
                for p in pieces]
    out.append(chunk({}, finish_reason))
    out.append({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1700000000,
                "model": model, "choices": [], "usage": usage})
    return out


def openai_stream(chunks: list[dict[str, Any]], *, done: bool = True,
                  drop_after_events: int | None = None) -> Reply:
    """SSE ``data:`` events for ``chunks``, then ``[DONE]``."""
    events: list[SSE] = [(None, json.dumps(c)) for c in chunks]
    if done:
        events.append((None, "[DONE]"))
    return Reply(events=events, drop_after_events=drop_after_events)


def openai_error(status: int, message: str, type_: str = "invalid_request_error",
                 code: str | None = None, headers: dict[str, str] | None = None) -> Reply:
    """An error as OpenAI sends it."""
    body = {"error": {"message": message, "type": type_, "param": None, "code": code}}
    return json_reply(body, status, headers)


# -- Anthropic Messages --------------------------------------------------------------------------

Block = str | ToolSpec
"""A content block to send: text, or a tool_use (id, name, input JSON pieces)."""


def anthropic_server() -> WireServer:
    """A server for ``base_url=server.url``."""
    return WireServer("/v1/messages")


def anthropic_message(blocks: list[Block], usage: dict[str, Any] | None = None,
                      stop_reason: str = "end_turn",
                      model: str = "claude-test-1") -> dict[str, Any]:
    """A ``message`` object."""
    content: list[dict[str, Any]] = [
        {"type": "text", "text": b} if isinstance(b, str) else
        {"type": "tool_use", "id": b[0], "name": b[1], "input": json.loads("".join(b[2]))}
        for b in blocks]
    return {"id": "msg_1", "type": "message", "role": "assistant", "model": model,
            "content": content, "stop_reason": stop_reason, "stop_sequence": None,
            "usage": usage or {"input_tokens": 1, "output_tokens": 1}}


def anthropic_events(text_pieces: list[list[str]] | None = None,
                     tools: list[ToolSpec] | None = None,
                     usage: dict[str, Any] | None = None, output_tokens: int = 1,
                     stop_reason: str = "end_turn",
                     model: str = "claude-test-1") -> list[dict[str, Any]]:
    """Stream events as the Messages API sends them: text blocks first, then tool_use ones."""
    start_usage = {"output_tokens": 1, **(usage or {"input_tokens": 1})}
    out: list[dict[str, Any]] = [{"type": "message_start", "message": {
        "id": "msg_1", "type": "message", "role": "assistant", "model": model, "content": [],
        "stop_reason": None, "stop_sequence": None, "usage": start_usage}}]
    index = 0
    for pieces in text_pieces or []:
        out.append({"type": "content_block_start", "index": index,
                    "content_block": {"type": "text", "text": ""}})
        out.append({"type": "ping"})
        out += [{"type": "content_block_delta", "index": index,
                 "delta": {"type": "text_delta", "text": p}} for p in pieces]
        out.append({"type": "content_block_stop", "index": index})
        index += 1
    for id_, name, json_pieces in tools or []:
        out.append({"type": "content_block_start", "index": index,
                    "content_block": {"type": "tool_use", "id": id_, "name": name, "input": {}}})
        out += [{"type": "content_block_delta", "index": index,
                 "delta": {"type": "input_json_delta", "partial_json": p}} for p in json_pieces]
        out.append({"type": "content_block_stop", "index": index})
        index += 1
    out.append({"type": "message_delta", "delta": {"stop_reason": stop_reason,
                                                   "stop_sequence": None},
                "usage": {"output_tokens": output_tokens}})
    out.append({"type": "message_stop"})
    return out


def anthropic_stream(events: list[dict[str, Any]], *,
                     drop_after_events: int | None = None) -> Reply:
    """SSE with ``event:`` names, as Anthropic sends them."""
    return Reply(events=[(str(e["type"]), json.dumps(e)) for e in events],
                 drop_after_events=drop_after_events)


def anthropic_error(status: int, type_: str, message: str,
                    headers: dict[str, str] | None = None) -> Reply:
    """An error as Anthropic sends it."""
    return json_reply({"type": "error", "error": {"type": type_, "message": message}},
                      status, headers)
