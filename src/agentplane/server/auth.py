"""Who is calling — one front door for the REST API, the console, A2A and MCP.

A caller presents a token as ``Authorization: Bearer TOKEN`` or ``X-API-Key: TOKEN`` (every
protocol accepts both), or, for the console in a browser, its session cookie. The token is
handed to the server's *bearer verifiers* in turn, the first that knows it says who the caller
is (an ``Identity``: a role on a tenant). The first verifier checks Agentplane API keys
(``agentplane keys``); others can be added with ``Authenticator.add`` — e.g. OAuth access
tokens (JWTs) from a configured issuer, for MCP clients that speak OAuth.

The cookie is ``HttpOnly`` and ``SameSite=Strict``, and is accepted only for reads and for the
console's own forms, which also carry a CSRF token bound to the key — so another site can neither
read with it nor make a signed-in browser act.

The ASGI sub-applications mounted on the server (A2A, MCP) sit behind ``RequireCaller``, which
uses the same ``Authenticator``; the caller it found is in the request's scope
(``scope_caller``).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Collection, Coroutine, Mapping
from typing import Annotated, Any, Protocol, runtime_checkable

from fastapi import Depends, HTTPException, Request, status
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from agentplane.governance.keys import ApiKey, KeyRing, Permission

from .plane import Plane

COOKIE = "agentplane_session"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CHALLENGE = 'Bearer realm="agentplane"'
"""The ``WWW-Authenticate`` header of a 401 (an ``Authenticator`` may be given another)."""
CALLER_SCOPE_KEY = "agentplane.caller"
"""Where ``RequireCaller`` leaves the caller's ``Identity`` in an ASGI scope."""
ASKED_FOR = ("send 'Authorization: Bearer KEY' or 'X-API-Key: KEY' "
             "(create a key with `agentplane keys create`)")

Identity = ApiKey
"""Who a caller is: an id (``identity`` is how the journal names it), a role, and the tenant it
sees (``*`` for all). A verifier of other credentials (OAuth) returns one for its token, a
subclass whose ``identity`` names where it came from (e.g. ``oauth:SUBJECT``)."""


@runtime_checkable
class BearerVerifier(Protocol):
    """Says who presents a bearer token, or None when the token is not one it knows."""

    async def verify(self, token: str) -> Identity | None:
        """The caller the token stands for; None if unknown, wrong, expired or revoked.

        Must not raise for a token it does not know (another verifier may know it), and must
        never log or echo the token."""
        ...


class KeyRingVerifier:
    """Agentplane API keys (``agentplane keys``), checked against the key ring's hashes."""

    def __init__(self, ring: KeyRing) -> None:
        self.ring = ring

    async def verify(self, token: str) -> Identity | None:
        return self.ring.authenticate(token)


class _TokenCaller(ApiKey):
    """A caller known by a fixed token: its journal identity is its ``id`` (a fingerprint)."""

    __slots__ = ()

    @property
    def identity(self) -> str:
        return self.id


def token_fingerprint(token: str, prefix: str) -> str:
    """How a fixed token's caller is named in the journal: a fingerprint, never the token."""
    return f"{prefix}key-" + hashlib.sha256(token.encode()).hexdigest()[:8]


class StaticTokens:
    """Fixed tokens given to a standalone server (``AGENTPLANE_A2A_KEYS``,
    ``AGENTPLANE_MCP_TOKEN``): each is an operator of ``tenant``, named in the journal by a
    fingerprint (``PREFIXkey-<8 hex>``). Compared in constant time against every token."""

    def __init__(self, tokens: Collection[str], *, tenant: str = "default",
                 prefix: str = "token:") -> None:
        self._tokens = [t.encode() for t in tokens if t]
        self.tenant = tenant
        self.prefix = prefix

    def __repr__(self) -> str:
        return f"StaticTokens({len(self._tokens)} hidden)"

    async def verify(self, token: str) -> Identity | None:
        raw = token.encode()
        # Compare with every token, so the time taken says nothing about which one matched.
        if not any([hmac.compare_digest(raw, t) for t in self._tokens]):
            return None
        return _TokenCaller(token_fingerprint(token, self.prefix), "fixed token", "operator",
                            self.tenant, "")


class Authenticator:
    """The server's bearer verifiers, asked in order; the first that knows a token wins."""

    def __init__(self, *verifiers: BearerVerifier, challenge: str = CHALLENGE) -> None:
        self.verifiers: list[BearerVerifier] = list(verifiers)
        self.challenge = challenge
        """``WWW-Authenticate`` of a 401 (OAuth servers name their resource metadata here)."""

    def add(self, verifier: BearerVerifier) -> None:
        """Accept the tokens ``verifier`` knows too (after the ones already there)."""
        self.verifiers.append(verifier)

    async def identify(self, token: str) -> Identity | None:
        for verifier in self.verifiers:
            found = await verifier.verify(token)
            if found is not None:
                return found
        return None

    def unauthorized(self, message: str) -> HTTPException:
        return HTTPException(status.HTTP_401_UNAUTHORIZED, message,
                             headers={"WWW-Authenticate": self.challenge})


def presented_token(headers: Mapping[str, str]) -> str | None:
    """The token in ``Authorization: Bearer`` or, failing that, ``X-API-Key``."""
    header = headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    api_key = headers.get("x-api-key", "").strip()
    return api_key or None


def plane_of(request: Request) -> Plane:
    plane: Plane = request.app.state.plane
    return plane


def authenticator_of(request: Request) -> Authenticator:
    found: Authenticator = request.app.state.authenticator
    return found


async def _plane(request: Request) -> Plane:
    """``plane_of`` as a dependency (async, so FastAPI does not hop to a thread for it)."""
    return plane_of(request)


def _presented(request: Request) -> tuple[str | None, bool]:
    """The token presented and whether it came from the session cookie."""
    token = presented_token(request.headers)
    if token is not None:
        return token, False
    cookie = request.cookies.get(COOKIE)
    return (cookie, True) if cookie else (None, False)


def csrf_token(request: Request, key: ApiKey) -> str:
    """The token the console's forms carry: an HMAC of the key id under this server's secret."""
    secret: bytes = request.app.state.csrf_secret
    return hmac.new(secret, key.id.encode(), hashlib.sha256).hexdigest()


async def caller(request: Request) -> ApiKey:
    """The key of the caller; 401 without a valid one."""
    token, from_cookie = _presented(request)
    auth = authenticator_of(request)
    if token is None:
        raise auth.unauthorized(f"an API key is required: {ASKED_FOR}")
    key = await auth.identify(token)
    if key is None:
        raise auth.unauthorized("the API key is not valid (unknown, mistyped or revoked)")
    if from_cookie and request.method not in SAFE_METHODS:
        form = await request.form()
        sent = form.get("csrf")
        if not isinstance(sent, str) or not hmac.compare_digest(sent, csrf_token(request, key)):
            raise HTTPException(status.HTTP_403_FORBIDDEN,
                                "the form's CSRF token is missing or wrong; reload the page")
    request.state.key = key
    return key


def refusal(key: ApiKey, permission: Permission) -> str:
    """Why ``key`` may not do what needs ``permission`` (the API's and the console's words)."""
    return f"{key.described} may not do this (it needs the '{permission}' permission)"


def allowed(permission: Permission) -> Callable[..., Coroutine[Any, Any, ApiKey]]:
    """A dependency: the caller's key, which must grant ``permission`` (403 otherwise)."""

    async def check(key: Annotated[ApiKey, Depends(caller)]) -> ApiKey:
        if not key.can(permission):
            raise HTTPException(status.HTTP_403_FORBIDDEN, refusal(key, permission))
        return key

    return check


Reader = Annotated[ApiKey, Depends(allowed("read"))]
Operator = Annotated[ApiKey, Depends(allowed("run"))]
Approver = Annotated[ApiKey, Depends(allowed("approve"))]
Admin = Annotated[ApiKey, Depends(allowed("admin"))]
PlaneDep = Annotated[Plane, Depends(_plane)]


# -- the same front door for mounted protocol servers (A2A, MCP) --------------------------------


def scope_caller(scope: Mapping[str, Any]) -> Identity | None:
    """The caller ``RequireCaller`` let through (None on a public path)."""
    found = scope.get(CALLER_SCOPE_KEY)
    return found if isinstance(found, ApiKey) else None


class RequireCaller:
    """ASGI middleware: every HTTP request but GETs of ``public`` paths needs a token one of the
    authenticator's verifiers knows, whose identity grants ``permission`` (on ``tenant``, when
    given). 401 (with the challenge) without one, 403 when it may not."""

    def __init__(self, app: ASGIApp, authenticator: Authenticator, *,
                 permission: Permission = "read", public: Collection[str] = (),
                 tenant: str | None = None, challenge: str | None = None) -> None:
        self.app = app
        self.authenticator = authenticator
        self.challenge = challenge
        """This door's ``WWW-Authenticate`` on a 401 (default: the authenticator's), e.g. MCP's
        pointing at its OAuth protected-resource metadata."""
        self.permission: Permission = permission
        self.public = frozenset(public)
        self.tenant = tenant

    def __repr__(self) -> str:
        return f"RequireCaller(permission={self.permission!r})"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (scope.get("method") in SAFE_METHODS
                                       and scope.get("path") in self.public):
            await self.app(scope, receive, send)
            return
        token = presented_token(Headers(scope=scope))
        key = None if token is None else await self.authenticator.identify(token)
        if key is None:
            why = (f"an API key is required: {ASKED_FOR}" if token is None
                   else "the API key is not valid (unknown, mistyped or revoked)")
            response = JSONResponse({"error": "unauthorized", "error_description": why},
                                    status_code=401,
                                    headers={"WWW-Authenticate": self.challenge
                                             or self.authenticator.challenge})
            await response(scope, receive, send)
            return
        if not key.can(self.permission) or (self.tenant is not None
                                            and not key.sees(self.tenant)):
            why = (f"{key.described} of another tenant may not use this server"
                   if key.can(self.permission) else refusal(key, self.permission))
            response = JSONResponse({"error": "forbidden", "error_description": why},
                                    status_code=403)
            await response(scope, receive, send)
            return
        scope[CALLER_SCOPE_KEY] = key
        await self.app(scope, receive, send)
