"""A client for OpenAI-compatible embeddings endpoints (``POST {base_url}/embeddings``).

Dense vectors are optional in retrieval: without an :class:`Embeddings` the retriever fuses
lexical search and graph expansion only. No model weights are ever downloaded here; the
vectors come from whatever server ``base_url`` names (OpenAI, a local inference server, the
loopback test server in ``tests/knowledge/embedding_server.py``).

Texts go in batches of ``batch_size``. 429 and 5xx replies, refused connections and timeouts
are retried with exponential backoff (a ``Retry-After`` header wins, capped by
``backoff_max``); other 4xx replies fail at once with a message that says what to check. The
API key is read from the environment variable ``api_key_env`` names, when a request is made,
and never reaches a log line or an error message (a server that echoes it back is redacted).
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from agentplane.errors import AgentplaneError, ConfigError

RETRY_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504})
"""Replies worth another attempt (rate limits, overload, a server restarting)."""


_Reply = httpx.Response | httpx.TransportError


class EmbeddingError(AgentplaneError):
    """An embeddings server refused a request or answered in a form it should not."""


@dataclass(frozen=True, slots=True)
class _Retry:
    """A failed attempt worth repeating: why, and how long the server asked us to wait."""

    reason: str
    retry_after: float | None = None


def _display(url: str) -> str:
    """``url`` without user info or query string, which may hold credentials."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, "", ""))


def _retry_after(headers: httpx.Headers) -> float | None:
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        try:
            return max(0.0, float(headers[name]) * scale)
        except (KeyError, ValueError):  # absent, or an HTTP date: our own backoff then
            pass
    return None


class Embeddings:
    """Vectors for texts from an OpenAI-compatible ``/embeddings`` endpoint.

    ``base_url``: up to and including the API version (``https://host/v1``). ``model``: the
    embedding model's name, sent as is; vectors are stored per model, so changing it means
    indexing again. ``api_key_env``: the name of the environment variable holding the key
    (``None``: no key is sent, as for a local server). ``dimensions``: asked of models that can
    shorten their vectors (OpenAI's ``text-embedding-3-*``). ``timeout`` and the backoff
    delays are in seconds; ``max_attempts`` counts the first.
    """

    def __init__(self, base_url: str, model: str, *, api_key_env: str | None = None,
                 batch_size: int = 64, dimensions: int | None = None, timeout: float = 30.0,
                 max_attempts: int = 4, backoff: float = 0.5, backoff_max: float = 8.0) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ConfigError(f"embeddings base_url {_display(base_url)!r} is not an http(s) "
                              "URL (e.g. https://api.example.com/v1)")
        if not model:
            raise ConfigError("embeddings: name the model (e.g. text-embedding-3-small)")
        if batch_size < 1 or max_attempts < 1:
            raise ConfigError(f"embeddings: batch_size ({batch_size}) and max_attempts "
                              f"({max_attempts}) must be at least 1")
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key_env = api_key_env
        self.batch_size = batch_size
        self.dimensions = dimensions
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.backoff_max = backoff_max

    @property
    def endpoint(self) -> str:
        return f"{self.base_url}/embeddings"

    def __repr__(self) -> str:
        return f"Embeddings({_display(self.base_url)!r}, {self.model!r})"

    # -- requests -------------------------------------------------------------------------------

    def _key(self) -> str | None:
        if self.api_key_env is None:
            return None
        key = os.environ.get(self.api_key_env)
        if not key:
            raise ConfigError(f"the environment variable {self.api_key_env} is not set: it "
                              f"should hold the API key for the embeddings server "
                              f"{_display(self.base_url)}")
        return key

    def _headers(self, key: str | None) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return headers

    def _body(self, batch: Sequence[str]) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.model, "input": list(batch),
                                "encoding_format": "float"}
        if self.dimensions is not None:
            body["dimensions"] = self.dimensions
        return body

    def _batches(self, texts: Sequence[str]) -> list[Sequence[str]]:
        for n, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"embeddings: text {n} is {type(text).__name__}, not str")
        return [texts[i:i + self.batch_size] for i in range(0, len(texts), self.batch_size)]

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.backoff_max)
        return min(self.backoff * 2.0 ** (attempt - 1), self.backoff_max) * random.uniform(0.5, 1)

    def _redact(self, text: str, key: str | None) -> str:
        return text.replace(key, "[redacted]") if key else text

    def _judge(self, reply: _Reply, count: int,
               key: str | None) -> list[list[float]] | _Retry:
        """The vectors of a reply, a retryable failure, or an :class:`EmbeddingError`."""
        where = f"embeddings server {_display(self.endpoint)}"
        if isinstance(reply, httpx.TransportError):
            return _Retry(f"{where}: {type(reply).__name__}: "
                          f"{self._redact(str(reply), key) or 'no detail'}")
        detail = self._redact(" ".join(reply.text.split())[:300], key) or "(empty body)"
        if reply.status_code in RETRY_STATUSES:
            return _Retry(f"{where} answered {reply.status_code}: {detail}",
                          _retry_after(reply.headers))
        if reply.status_code in (401, 403):
            hint = (f"check the API key in the environment variable {self.api_key_env}"
                    if self.api_key_env else "it needs an API key: set api_key_env to the name "
                    "of the environment variable that holds it")
            raise EmbeddingError(f"{where} refused the request ({reply.status_code}): {hint}; "
                                 f"it said: {detail}")
        if reply.status_code >= 400:
            raise EmbeddingError(f"{where} answered {reply.status_code} for model "
                                 f"{self.model!r}: {detail}")
        return self._vectors(reply, count, where)

    def _vectors(self, reply: httpx.Response, count: int, where: str) -> list[list[float]]:
        def bad(what: str) -> EmbeddingError:
            return EmbeddingError(f"{where} replied in a form the OpenAI embeddings API does "
                                  f"not use: {what}")

        try:
            body = reply.json()
        except ValueError:
            raise bad("the body is not JSON") from None
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list) or len(data) != count:
            got = f"{len(data)} items" if isinstance(data, list) else "no data list"
            raise bad(f"expected data with {count} items, got {got}")
        vectors: list[list[float] | None] = [None] * count
        for n, entry in enumerate(data):
            index = entry.get("index", n) if isinstance(entry, dict) else None
            vector = entry.get("embedding") if isinstance(entry, dict) else None
            if not isinstance(index, int) or not 0 <= index < count or vectors[index]:
                raise bad(f"data[{n}].index is {index!r}")
            if not isinstance(vector, list) or not vector or not all(
                    isinstance(x, int | float) and not isinstance(x, bool) for x in vector):
                raise bad(f"data[{n}].embedding is not a list of numbers")
            vectors[index] = [float(x) for x in vector]
        sizes = {len(v) for v in vectors if v is not None}
        if len(sizes) != 1:
            raise bad(f"vectors of different lengths {sorted(sizes)}")
        return [v for v in vectors if v is not None]

    def _give_up(self, failure: _Retry) -> EmbeddingError:
        return EmbeddingError(f"{failure.reason} (gave up after {self.max_attempts} attempts)")

    def _exchange(self, batches: list[Sequence[str]], key: str | None
                  ) -> Generator[tuple[Sequence[str], float], _Reply, list[list[float]]]:
        """The conversation with the server, for either front door to drive: yields (a batch
        to send, seconds to wait first), receives the reply, returns every vector."""
        out: list[list[float]] = []
        for batch in batches:
            wait = 0.0
            for attempt in range(1, self.max_attempts + 1):
                result = self._judge((yield batch, wait), len(batch), key)
                if not isinstance(result, _Retry):
                    out.extend(result)
                    break
                if attempt == self.max_attempts:
                    raise self._give_up(result)
                wait = self._delay(attempt, result.retry_after)
        return out

    # -- the two front doors --------------------------------------------------------------------

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector per text, in order (blocking)."""
        if not texts:
            return []
        key = self._key()
        talk = self._exchange(self._batches(texts), key)
        with httpx.Client(timeout=self.timeout) as client:
            try:
                batch, wait = next(talk)
                while True:
                    time.sleep(wait)
                    try:
                        reply: _Reply = client.post(self.endpoint, json=self._body(batch),
                                                    headers=self._headers(key))
                    except httpx.TransportError as exc:
                        reply = exc
                    batch, wait = talk.send(reply)
            except StopIteration as done:
                vectors: list[list[float]] = done.value
                return vectors

    async def aembed(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector per text, in order (for the runtime's event loop)."""
        if not texts:
            return []
        key = self._key()
        talk = self._exchange(self._batches(texts), key)
        async with httpx.AsyncClient(timeout=self.timeout) as client:
            try:
                batch, wait = next(talk)
                while True:
                    await asyncio.sleep(wait)
                    try:
                        reply: _Reply = await client.post(
                            self.endpoint, json=self._body(batch), headers=self._headers(key))
                    except httpx.TransportError as exc:
                        reply = exc
                    batch, wait = talk.send(reply)
            except StopIteration as done:
                vectors: list[list[float]] = done.value
                return vectors
