"""Who is calling: an API key from the ``Authorization: Bearer`` or ``X-API-Key`` header, or,
for the console in a browser, from its session cookie.

The cookie is ``HttpOnly`` and ``SameSite=Strict``, and is accepted only for reads and for the
console's own forms, which also carry a CSRF token bound to the key — so another site can neither
read with it nor make a signed-in browser act.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status

from agentplane.governance.keys import ApiKey, Permission

from .plane import Plane

COOKIE = "agentplane_session"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def plane_of(request: Request) -> Plane:
    plane: Plane = request.app.state.plane
    return plane


async def _plane(request: Request) -> Plane:
    """``plane_of`` as a dependency (async, so FastAPI does not hop to a thread for it)."""
    return plane_of(request)


def _presented(request: Request) -> tuple[str | None, bool]:
    """The token presented and whether it came from the session cookie."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip(), False
    api_key = request.headers.get("x-api-key")
    if api_key:
        return api_key.strip(), False
    cookie = request.cookies.get(COOKIE)
    return (cookie, True) if cookie else (None, False)


def csrf_token(request: Request, key: ApiKey) -> str:
    """The token the console's forms carry: an HMAC of the key id under this server's secret."""
    secret: bytes = request.app.state.csrf_secret
    return hmac.new(secret, key.id.encode(), hashlib.sha256).hexdigest()


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, message,
                         headers={"WWW-Authenticate": 'Bearer realm="agentplane"'})


async def caller(request: Request) -> ApiKey:
    """The key of the caller; 401 without a valid one."""
    token, from_cookie = _presented(request)
    if token is None:
        raise _unauthorized("an API key is required: send 'Authorization: Bearer KEY' "
                            "(create one with `agentplane keys create`)")
    key = plane_of(request).keys.authenticate(token)
    if key is None:
        raise _unauthorized("the API key is not valid (unknown, mistyped or revoked)")
    if from_cookie and request.method not in SAFE_METHODS:
        form = await request.form()
        sent = form.get("csrf")
        if not isinstance(sent, str) or not hmac.compare_digest(sent, csrf_token(request, key)):
            raise HTTPException(status.HTTP_403_FORBIDDEN,
                                "the form's CSRF token is missing or wrong; reload the page")
    request.state.key = key
    return key


def allowed(permission: Permission) -> Callable[..., Coroutine[Any, Any, ApiKey]]:
    """A dependency: the caller's key, which must grant ``permission`` (403 otherwise)."""

    async def check(key: Annotated[ApiKey, Depends(caller)]) -> ApiKey:
        if not key.can(permission):
            raise HTTPException(status.HTTP_403_FORBIDDEN,
                                f"{key.kind} may not do this (it needs the "
                                f"'{permission}' permission)")
        return key

    return check


Reader = Annotated[ApiKey, Depends(allowed("read"))]
Operator = Annotated[ApiKey, Depends(allowed("run"))]
Approver = Annotated[ApiKey, Depends(allowed("approve"))]
Admin = Annotated[ApiKey, Depends(allowed("admin"))]
PlaneDep = Annotated[Plane, Depends(_plane)]
