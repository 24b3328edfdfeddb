"""A loopback OpenAI-compatible embeddings server for tests and benchmarks.

THE EMBEDDING IS NOT A LANGUAGE MODEL. It is a deterministic bag of hashed character n-grams
(Latin words: character trigrams of the padded word; Chinese: single characters and character
pairs), folded into :data:`DIMENSIONS` signed buckets and scaled to unit length. Texts that
share spelling get close vectors; synonyms and translations do not. It exists so the
``/v1/embeddings`` wire format, batching, retries and the vector table are exercised for real
over HTTP, and so a benchmark can show the fusion machinery at work. Figures measured with it
say nothing about any real embedding model's quality; its model name says so:
:data:`MODEL`.

Run it by hand with ``python -m tests.knowledge.embedding_server [--port N]``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import re
import threading
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MODEL = "hashed-char-ngrams-not-a-model"
DIMENSIONS = 256

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_WORD = re.compile(r"[^\W_]+")


def _grams(text: str) -> Iterator[str]:
    normal = unicodedata.normalize("NFKC", text).casefold()
    for run in _CJK.findall(normal):
        yield from run
        yield from (run[i:i + 2] for i in range(len(run) - 1))
    for word in _WORD.findall(_CJK.sub(" ", normal)):
        padded = f" {word} "
        yield from (padded[i:i + 3] for i in range(len(padded) - 2))


def hashed_ngram_embedding(text: str, dimensions: int = DIMENSIONS) -> list[float]:
    """The test embedding of ``text`` (unit length; all zeros for text with no letters)."""
    vector = [0.0] * dimensions
    for gram in _grams(text):
        digest = hashlib.blake2b(gram.encode(), digest_size=8).digest()
        number = int.from_bytes(digest, "little")
        vector[number % dimensions] += 1.0 if number >> 63 else -1.0
    norm = math.sqrt(sum(x * x for x in vector))
    return [x / norm for x in vector] if norm else vector


@dataclass
class Failure:
    """A scripted reply: ``status`` with ``body`` (JSON), and a ``Retry-After`` if given."""

    status: int
    body: dict[str, Any] = field(default_factory=dict)
    retry_after: float | None = None


@dataclass
class Received:
    """What one request carried (for assertions): the batch, the model, the auth header."""

    texts: list[str]
    model: str
    authorization: str | None


class EmbeddingServer:
    """The server, on ``127.0.0.1`` and a free port, in a background thread.

    ``api_key``: when set, requests must carry ``Authorization: Bearer <api_key>``; a wrong key
    gets a 401 whose message quotes the key it was sent (as some real servers do), so tests can
    check that clients keep it out of their errors. :meth:`fail` scripts the next replies.
    """

    def __init__(self, *, api_key: str | None = None, dimensions: int = DIMENSIONS,
                 port: int = 0) -> None:
        self.api_key = api_key
        self.dimensions = dimensions
        self.received: list[Received] = []
        self._script: list[Failure] = []
        self._lock = threading.Lock()
        self._http = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self._http.daemon_threads = True
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._http.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def fail(self, status: int, times: int = 1, *, message: str = "scripted failure",
             retry_after: float | None = None) -> None:
        """Answer the next ``times`` requests with ``status``."""
        with self._lock:
            self._script += [Failure(status, {"error": {"message": message}}, retry_after)
                             for _ in range(times)]

    def start(self) -> EmbeddingServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._http.shutdown()
        self._http.server_close()

    def __enter__(self) -> EmbeddingServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _answer(self, auth: str | None, body: Any) -> tuple[int, dict[str, Any], float | None]:
        with self._lock:
            if self._script:
                failure = self._script.pop(0)
                return failure.status, failure.body, failure.retry_after
        if self.api_key is not None and auth != f"Bearer {self.api_key}":
            sent = (auth or "").removeprefix("Bearer ")
            return 401, {"error": {"message": f"Incorrect API key provided: {sent}",
                                   "code": "invalid_api_key"}}, None
        texts = body.get("input") if isinstance(body, dict) else None
        if isinstance(texts, str):
            texts = [texts]
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            return 400, {"error": {"message": "input must be a string or a list of strings"}}, None
        with self._lock:
            self.received.append(Received(list(texts), str(body.get("model")), auth))
        data = [{"object": "embedding", "index": n,
                 "embedding": hashed_ngram_embedding(t, self.dimensions)}
                for n, t in enumerate(texts)]
        return 200, {"object": "list", "data": data, "model": MODEL,
                     "usage": {"prompt_tokens": 0, "total_tokens": 0}}, None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                if self.path.rstrip("/") != "/v1/embeddings":
                    status, reply, wait = 404, {"error": {"message": "no such route"}}, None
                else:
                    try:
                        body = json.loads(raw)
                    except ValueError:
                        body = None
                    status, reply, wait = server._answer(self.headers.get("Authorization"),
                                                         body)
                payload = json.dumps(reply).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                if wait is not None:
                    self.send_header("Retry-After", str(wait))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:  # quiet in tests
                pass

        return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    with EmbeddingServer(port=args.port) as server:
        print(f"serving {MODEL} (a test embedding, not a model) at {server.base_url}")
        threading.Event().wait()


if __name__ == "__main__":
    main()
