"""Size limits of what the server accepts and shows: the request body, a run's input, and the
previews lists and pages show instead of whole values.

Without them one 10 MB input makes every list of runs 10 MB and every console page twice that.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agentplane.errors import AgentplaneError

from .problem import problem


@dataclass(frozen=True, slots=True)
class Limits:
    """What one server accepts and shows."""

    body_bytes: int = 1_048_576
    """Largest request body accepted (bytes); larger ones are answered 413."""
    input_bytes: int = 262_144
    """Largest run input accepted (bytes of its JSON); larger ones are answered 422."""
    preview_chars: int = 240
    """Characters of a run's input shown in lists (``input_preview``)."""
    block_chars: int = 4_000
    """Characters of a value (input, arguments, result) a console page shows before a link to
    all of it."""


MAX_POSITION = 2**63 - 1
"""The largest sequence number or journal position a request may name (SQLite's INTEGER)."""


class InputTooLargeError(AgentplaneError):
    """A run's input is over ``Limits.input_bytes``."""


def json_size(value: Any) -> int:
    """Bytes of ``value`` as JSON (UTF-8)."""
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":"))
               .encode("utf-8", "surrogatepass"))


def check_input(value: Any, limits: Limits) -> None:
    size = json_size(value)
    if size > limits.input_bytes:
        raise InputTooLargeError(
            f"the run's input is {_kib(size)} of JSON; the limit is {_kib(limits.input_bytes)} "
            "— pass large data by reference (a URL or a file id) instead")


def preview(value: Any, limits: Limits) -> tuple[str, bool]:
    """``value`` as text cut to ``preview_chars``, and whether it was cut."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    if len(text) <= limits.preview_chars:
        return text, False
    return text[:limits.preview_chars] + "…", True


def _kib(size: int) -> str:
    return f"{size / 1024:,.0f} KiB" if size >= 1024 else f"{size} bytes"


class BodyLimit:
    """Refuses request bodies over ``limit`` bytes with a JSON 413 before the application
    reads them: by ``Content-Length`` when sent, else by counting (a chunked body is read up
    to the limit, then handed on)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        length = headers.get(b"content-length")
        if length is not None:
            if not length.isdigit():
                await self._refuse(scope, receive, send, 400, "the Content-Length header is not "
                                                              "a number")
                return
            if int(length) > self.limit:
                await self._too_large(scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        if b"chunked" not in headers.get(b"transfer-encoding", b""):
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        size = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            size += len(message.get("body", b""))
            if size > self.limit:
                await self._too_large(scope, receive, send)
                return
            if not message.get("more_body", False):
                break

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._refuse(scope, receive, send, 413,
                           f"the request body is over the {_kib(self.limit)} this server "
                           "accepts; send less (large run inputs belong elsewhere, by reference)")

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, status: int, message: str
                      ) -> None:
        await problem(status, message)(scope, receive, send)
