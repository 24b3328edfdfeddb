"""Shared HTTP machinery of the model providers: ``complete``, retries, errors, SSE.

Private to ``agentplane.models``; the OpenAI and Anthropic providers subclass
:class:`HttpProvider` and only translate their wire formats. 429 and 5xx (as configured),
connection failures and timeouts are retried with exponential backoff and jitter; a
``Retry-After`` header wins, capped by ``backoff_max``. Other 4xx fail at once with a message
that says what to check. A stream is retried only while nothing went to ``on_text``. The API
key never reaches an exception message or a log line.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, ClassVar, NamedTuple, Self, TypeVar
from urllib.parse import urlsplit, urlunsplit

import httpx

from .base import MalformedResponseError, ModelError, ModelRequest, ModelResponse, TextCallback

log = logging.getLogger("agentplane.models")

T = TypeVar("T")


async def _sleep(seconds: float) -> None:
    """Wait between attempts (a seam for tests that record delays instead of waiting)."""
    await asyncio.sleep(seconds)


class StreamFailure(ModelError):
    """A stream broke off or reported a transient error; retried while nothing was emitted."""

    def __init__(self, message: str):
        super().__init__(message, retryable=True)


async def iter_sse(response: httpx.Response) -> AsyncIterator[str]:
    """Yield the data of each event of a ``text/event-stream`` body (other fields are skipped)."""
    data: list[str] = []
    async for line in response.aiter_lines():
        if not line and data:
            yield "\n".join(data)
            data = []
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
    if data:
        yield "\n".join(data)


def as_object(value: Any) -> dict[str, Any]:
    """``value`` if it is a JSON object, else an empty one (for optional wire fields)."""
    return value if isinstance(value, dict) else {}


def excerpt(text: str, limit: int = 300) -> str:
    """``text`` on one line, cut to ``limit`` characters, quoted."""
    flat = " ".join(text.split())
    if not flat:
        return "(empty body)"
    return repr(flat if len(flat) <= limit else flat[:limit] + "…")


def display_url(url: str) -> str:
    """``url`` without user info or query string, which may hold credentials."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, "", ""))


def parse_retry_after(headers: httpx.Headers) -> float | None:
    """Seconds the server asks us to wait (``retry-after-ms`` or ``Retry-After``), if any."""
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        try:
            return max(0.0, float(headers[name]) * scale)
        except (KeyError, ValueError):  # absent, or an HTTP date: use our own backoff
            pass
    return None


def parse_tool_arguments(raw: Any) -> tuple[dict[str, Any], str | None]:
    """Tool-call arguments as a dict, or ``({}, error)`` when they are not a JSON object.

    Accepts a JSON string (empty means no arguments) or an already decoded dict.
    """
    if isinstance(raw, dict):
        return raw, None
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return {}, None
    if not isinstance(raw, str):
        return {}, f"arguments are not valid JSON: expected an object, got {type(raw).__name__}"
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        return {}, f"arguments are not valid JSON: {exc.msg} at position {exc.pos}"
    if not isinstance(value, dict):
        kind = "array" if isinstance(value, list) else type(value).__name__
        return {}, f"arguments are not valid JSON: expected an object, got {kind}"
    return value, None


def error_info(text: str) -> tuple[str, str]:
    """(quoted detail, error code) of an error body: ``error.message`` if JSON, else an excerpt."""
    try:
        body = json.loads(text)
    except ValueError:
        body = None
    err = body.get("error", body) if isinstance(body, dict) else body
    if isinstance(err, str) and err:
        return excerpt(err), ""
    if not isinstance(err, dict):
        return excerpt(text), ""
    message = err.get("message") or err.get("detail")
    code = str(err.get("code") or err.get("type") or "")
    if not isinstance(message, str) or not message:
        return excerpt(text), code
    return excerpt(f"{message} ({code})" if code else message), code


class _Failure(NamedTuple):
    error: ModelError
    retry_after: float | None = None


class HttpProvider(ABC):
    """Base of providers that POST JSON to an HTTP API: the client, ``complete``, the retries.

    A subclass names its ``endpoint`` and translates: :meth:`request_body`, :meth:`parse_reply`
    for a whole reply and :meth:`_read_stream` for a streamed one.
    """

    name: str = "http"
    label: ClassVar[str] = "model server"
    """How messages name the server, e.g. ``OpenAI-compatible server``."""
    default_base_url: ClassVar[str] = ""
    api_key_env: ClassVar[str] = ""
    base_url_env: ClassVar[str] = ""
    retry_statuses: ClassVar[frozenset[int]] = frozenset({429, 500, 502, 503, 504})
    endpoint: ClassVar[str] = ""
    """Path of the API below ``base_url``, e.g. ``/chat/completions``."""

    def __init__(self, *, base_url: str | None = None, api_key: str | None = None,
                 timeout: float = 60.0, max_retries: int = 3, backoff_base: float = 0.5,
                 backoff_max: float = 20.0, stream: bool = False,
                 headers: dict[str, str] | None = None,
                 client: httpx.AsyncClient | None = None) -> None:
        """Configure the provider.

        ``base_url`` defaults to the provider's public API. ``timeout`` (seconds) bounds
        connecting and each wait for data. A failed call is tried again up to ``max_retries``
        times, waiting ``backoff_base * 2**n`` seconds with jitter, at most ``backoff_max``.
        ``headers`` are added to (and may override) every request. A ``client`` passed in is
        used as is and left open by :meth:`aclose`.
        """
        if max_retries < 0 or timeout <= 0 or backoff_base < 0 or backoff_max < 0:
            raise ValueError("max_retries and backoffs must be >= 0 and timeout > 0")
        self.base_url = (base_url or self.default_base_url).rstrip("/")
        """Base URL the endpoint path is appended to (before any query string)."""
        self._api_key = api_key or None
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.stream = stream
        self._extra_headers = dict(headers or {})
        self._owns_client = client is None
        self._client = client if client is not None else httpx.AsyncClient()

    @property
    def shown_url(self) -> str:
        """The base URL as messages show it: no credentials, query string or API key."""
        return self.redact(display_url(self.base_url))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.shown_url!r}, stream={self.stream})"

    @classmethod
    def from_env(cls, **overrides: Any) -> Self:
        """Build from the environment (API key and base URL variables); ``overrides`` win."""
        env = {"api_key": os.environ.get(cls.api_key_env, "").strip(),
               "base_url": os.environ.get(cls.base_url_env, "").strip()}
        return cls(**{**{k: v for k, v in env.items() if v}, **overrides})

    async def aclose(self) -> None:
        """Close the HTTP client if this provider created it."""
        if self._owns_client:
            await self._client.aclose()

    async def complete(
        self, request: ModelRequest, *, on_text: TextCallback | None = None
    ) -> ModelResponse:
        """Send ``request`` and return the model's answer; raises :class:`ModelError`.

        With ``stream`` on, ``on_text`` receives each text delta as it arrives and the answer is
        the same as unstreamed. A stream that breaks after passing on text is not retried.
        """
        body, model, emitted = self.request_body(request), request.model, False

        def emit(delta: str) -> None:
            nonlocal emitted
            emitted = True
            if on_text is not None:
                on_text(delta)

        async def consume(response: httpx.Response) -> ModelResponse:
            if self.stream and "json" not in response.headers.get("content-type", ""):
                return await self._read_stream(response, model, emit)
            reply = await self._read_reply(response, model)
            if self.stream and reply.content:  # the server ignored stream=true
                emit(reply.content)
            return reply

        try:
            return await self._post(body, model, consume, lambda: not emitted)
        except ModelError as exc:  # a last guard: each part of a message is redacted already
            if not self._api_key or self._api_key not in str(exc):
                raise
            raise type(exc)(self.redact(str(exc)), retryable=exc.retryable,
                            status=exc.status) from None

    @abstractmethod
    def request_body(self, request: ModelRequest) -> dict[str, Any]:
        """The JSON body sent for ``request``."""

    @abstractmethod
    def parse_reply(self, body: dict[str, Any], model: str, quote: str) -> ModelResponse:
        """A whole reply as a :class:`ModelResponse`; ``quote`` is an excerpt for errors."""

    @abstractmethod
    async def _read_stream(
        self, response: httpx.Response, model: str, emit: TextCallback
    ) -> ModelResponse:
        """A streamed reply; text deltas go to ``emit`` as they arrive."""

    @abstractmethod
    def _auth_headers(self, api_key: str) -> dict[str, str]:
        """Headers carrying ``api_key``."""

    async def _read_reply(self, response: httpx.Response, model: str) -> ModelResponse:
        text = (await response.aread()).decode("utf-8", "replace")
        return self.parse_reply(self.decode(text, "a reply"), model, self.excerpt(text))

    def decode(self, text: str, what: str) -> dict[str, Any]:
        """``text`` as a JSON object, else :class:`MalformedResponseError` naming ``what``."""
        try:
            value = json.loads(text)
        except ValueError:
            raise MalformedResponseError(f"{self.label} sent {what} that is not JSON: "
                                         f"{self.excerpt(text)}") from None
        if not isinstance(value, dict):
            raise MalformedResponseError(f"{self.label} sent {what} that is not a JSON object: "
                                         f"{self.excerpt(text)}")
        return value

    def _headers(self, stream: bool) -> dict[str, str]:
        out = {"accept": "text/event-stream" if stream else "application/json",
               "user-agent": "agentplane"}
        if self._api_key:
            out.update(self._auth_headers(self._api_key))
        out.update(self._extra_headers)
        return out

    def redact(self, text: str) -> str:
        """``text`` with the API key replaced."""
        return text.replace(self._api_key, "[redacted]") if self._api_key else text

    def excerpt(self, text: str) -> str:
        """A short, redacted quote of a body for an error message."""
        return excerpt(self.redact(text))

    def _hint(self, status: int, model: str) -> str:
        key = self.api_key_env
        hints = {
            400: f"the request was rejected; check the model name {model!r}, the messages and "
                 "the tool schemas",
            401: f"the API key was rejected; check {key}"
                 + ("" if self._api_key else f" (no key was given: set {key})"),
            403: f"the API key may not use this model or endpoint; check the key's permissions "
                 f"and access to {model!r}",
            404: f"no such endpoint or model; check the base URL {self.shown_url!r} "
                 f"({self.base_url_env}) and the model name {model!r}",
            413: "the request is too large; shorten the conversation or the tool results",
            422: f"the request was rejected; check the model name {model!r} and the messages",
            429: "rate limited; wait, lower concurrency, or check the account's limits and billing",
            529: "the API is overloaded; try again later",
        }
        if 300 <= status < 400:
            return "redirected; check the base URL (e.g. http:// for https://)"
        return hints.get(status, "the server failed or is overloaded; try again later"
                         if status >= 500 else "unexpected status")

    def _status_failure(self, response: httpx.Response, text: str, model: str) -> _Failure:
        status = response.status_code
        retryable = status in self.retry_statuses
        hint = self._hint(status, model)
        detail, code = error_info(self.redact(text))
        if status == 429 and code == "insufficient_quota":
            retryable, hint = False, "out of quota; check the account's plan and billing"
        where = self.redact(display_url(str(response.request.url)))
        message = (f"{self.label} at {where} answered HTTP {status} "
                   f"{response.reason_phrase}: {hint}. Server said: {detail}")
        return _Failure(ModelError(message, retryable=retryable, status=status),
                        parse_retry_after(response.headers))

    def _transport_failure(self, exc: httpx.TransportError, where: str) -> _Failure:
        if isinstance(exc, httpx.TimeoutException):
            what = "could not connect within" if isinstance(exc, httpx.ConnectTimeout) \
                else "did not answer within"
            message = f"{self.label} at {where} {what} the {self.timeout:g}s timeout"
        else:
            reason = self.redact(str(exc)) or type(exc).__name__
            message = f"could not reach {self.label} at {where}: {reason}"
        return _Failure(ModelError(message, retryable=True))

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.backoff_max)
        ceiling = min(self.backoff_max, self.backoff_base * 2**attempt)
        return float(ceiling / 2 + random.uniform(0, ceiling / 2))

    async def _post(self, body: dict[str, Any], model: str,
                    consume: Callable[[httpx.Response], Awaitable[T]],
                    can_retry: Callable[[], bool]) -> T:
        """POST ``body``, retrying as the module says; ``consume`` reads a 2xx response.

        ``can_retry`` turns False once a stream has emitted text: a break is then reported.
        """
        parts = urlsplit(self.base_url)
        url = urlunsplit(parts._replace(path=parts.path.rstrip("/") + self.endpoint))
        where = self.redact(display_url(url))
        headers = self._headers(bool(body.get("stream")))
        attempts = self.max_retries + 1
        for attempt in range(attempts):
            try:
                async with self._client.stream("POST", url, json=body, headers=headers,
                                               timeout=self.timeout) as response:
                    if response.is_success:
                        return await consume(response)
                    text = (await response.aread()).decode("utf-8", "replace")
                    failure = self._status_failure(response, text, model)
            except httpx.UnsupportedProtocol:
                raise ModelError(f"the base URL {where!r} must start with http:// or https://; "
                                 f"check {self.base_url_env}") from None
            except (httpx.TransportError, StreamFailure) as exc:
                failure = (self._transport_failure(exc, where)
                           if isinstance(exc, httpx.TransportError) else _Failure(exc))
                if not can_retry():
                    raise ModelError(f"{failure.error} (after part of the reply was streamed; "
                                     "the partial reply was discarded)", retryable=True) from exc
            except httpx.HTTPError as exc:  # e.g. a body that does not decode
                raise MalformedResponseError(f"{self.label} at {where}: "
                                             f"{self.redact(str(exc))}") from exc
            if not failure.error.retryable:
                raise failure.error
            if attempt + 1 >= attempts:
                tries = f"{attempts} attempts" if attempts > 1 else "1 attempt"
                raise ModelError(f"gave up after {tries}: {failure.error}",
                                 retryable=True, status=failure.error.status)
            delay = self._delay(attempt, failure.retry_after)
            log.warning("%s: %s; retry %d of %d in %.2fs", self.name, failure.error,
                        attempt + 1, self.max_retries, delay)
            await _sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover
