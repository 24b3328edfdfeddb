"""A small real OAuth authorization server for the tests, served on loopback by uvicorn.

It signs JWT access tokens with a throwaway RSA key and publishes the key as a JWKS; it offers
RFC 8414 metadata, dynamic client registration, the authorization code grant with PKCE (the
"person" approves at once, by redirect), refresh tokens and client credentials. It counts what
it was asked, so tests can tell a refresh from a new authorization.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import secrets
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import jwt
import uvicorn
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

WORKER_ID = "worker-7"
WORKER_SECRET = "worker-secret-for-tests"


@dataclass
class Issuer:
    url: str
    resource: str
    key: rsa.RSAPrivateKey = field(default_factory=lambda: rsa.generate_private_key(
        public_exponent=65537, key_size=2048))
    claims: dict[str, Any] = field(default_factory=lambda: {"tenant": "default",
                                                            "scope": "agentplane:operator"})
    """Extra claims of every token issued (tests change them)."""
    expires_in: int = 3600
    asked: Counter[str] = field(default_factory=Counter)
    codes: dict[str, tuple[str, str]] = field(default_factory=dict)
    refresh_tokens: set[str] = field(default_factory=set)
    issued: list[str] = field(default_factory=list)

    def token(self, subject: str, *, key: rsa.RSAPrivateKey | None = None,
              **overrides: Any) -> str:
        now = int(time.time())
        claims = {"iss": self.url, "aud": self.resource, "sub": subject, "iat": now,
                  "exp": now + self.expires_in} | self.claims | overrides
        signed = jwt.encode(claims, key or self.key, algorithm="RS256",
                            headers={"kid": "test-key"})
        self.issued.append(signed)
        return signed

    def _tokens(self, subject: str) -> JSONResponse:
        refresh = secrets.token_urlsafe(16)
        self.refresh_tokens.add(refresh)
        return JSONResponse({"access_token": self.token(subject), "token_type": "Bearer",
                             "expires_in": self.expires_in, "refresh_token": refresh})

    async def metadata(self, _: Request) -> JSONResponse:
        return JSONResponse({
            "issuer": self.url, "authorization_endpoint": f"{self.url}/authorize",
            "token_endpoint": f"{self.url}/token", "registration_endpoint": f"{self.url}/register",
            "jwks_uri": f"{self.url}/jwks", "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code", "refresh_token",
                                      "client_credentials"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["none", "client_secret_basic"]})

    async def jwks(self, _: Request) -> JSONResponse:
        public = jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        return JSONResponse({"keys": [public | {"kid": "test-key", "use": "sig", "alg": "RS256"}]})

    async def register(self, request: Request) -> JSONResponse:
        self.asked["register"] += 1
        body = await request.json()
        return JSONResponse(body | {"client_id": f"client-{secrets.token_hex(4)}",
                                    "token_endpoint_auth_method": "none"}, status_code=201)

    async def authorize(self, request: Request) -> Response:
        self.asked["authorize"] += 1
        q = request.query_params
        code = secrets.token_urlsafe(16)
        self.codes[code] = (q["code_challenge"], q.get("scope", ""))
        return RedirectResponse(f"{q['redirect_uri']}?"
                                + urlencode({"code": code, "state": q["state"]}))

    async def token_endpoint(self, request: Request) -> Response:
        form = await request.form()
        grant = str(form.get("grant_type"))
        self.asked[grant] += 1
        if grant == "client_credentials":
            sent = request.headers.get("authorization", "").removeprefix("Basic ")
            expected = base64.b64encode(f"{WORKER_ID}:{WORKER_SECRET}".encode()).decode()
            if sent != expected:
                return JSONResponse({"error": "invalid_client"}, status_code=401)
            return self._tokens(WORKER_ID)
        if grant == "authorization_code":
            challenge, _ = self.codes.pop(str(form.get("code")), ("", ""))
            verifier = str(form.get("code_verifier", ""))
            digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
            if not challenge or digest.decode().rstrip("=") != challenge:
                return JSONResponse({"error": "invalid_grant"}, status_code=400)
            return self._tokens("alice")
        if grant == "refresh_token" and str(form.get("refresh_token")) in self.refresh_tokens:
            return self._tokens("alice")
        return JSONResponse({"error": "invalid_grant"}, status_code=400)

    def app(self) -> Starlette:
        return Starlette(routes=[
            Route("/.well-known/oauth-authorization-server", self.metadata),
            Route("/jwks", self.jwks), Route("/register", self.register, methods=["POST"]),
            Route("/authorize", self.authorize),
            Route("/token", self.token_endpoint, methods=["POST"])])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.contextmanager
def serving(resource: str) -> Iterator[Issuer]:
    """An issuer for ``resource`` on a free loopback port, for the duration of the block."""
    port = free_port()
    issuer = Issuer(f"http://127.0.0.1:{port}", resource)
    server = uvicorn.Server(uvicorn.Config(issuer.app(), host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(500):  # a bound on the wait, not a timing assertion
        if server.started:
            break
        time.sleep(0.02)
    try:
        yield issuer
    finally:
        server.should_exit = True
        thread.join(timeout=10)
