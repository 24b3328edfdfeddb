"""Who is looking at the console: the API key in the ``agentplane_session`` cookie.

A page asked for without a valid key sends the browser to ``/login``. A form the console posts
goes through the API's own ``caller`` check (the same key, and the CSRF token bound to it), so
the console can do nothing the REST API would refuse.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit

from fastapi import HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from agentplane.governance.keys import ApiKey, Permission
from agentplane.server.auth import COOKIE, caller, csrf_token, plane_of

FLASH_COOKIE = "agentplane_flash"
"""A one-shot message (``ok:...`` or ``error:...``) shown on the page a form redirects to."""


class SignInRequired(Exception):
    """The page needs a signed-in key; the console answers with a redirect to ``/login``."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


class Refused(Exception):
    """A console form was refused (bad CSRF token, a role without the permission)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True, slots=True)
class Viewer:
    """The signed-in key and what the templates need to know about it."""

    key: ApiKey
    csrf: str

    def can(self, permission: Permission) -> bool:
        return self.key.can(permission)


def _here(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def page_viewer(request: Request) -> Viewer:
    """A dependency for pages: the key of the session cookie, else a redirect to sign in."""
    token = request.cookies.get(COOKIE)
    key = plane_of(request).keys.authenticate(token) if token else None
    if key is None:
        raise SignInRequired(_here(request))
    return Viewer(key, csrf_token(request, key))


async def form_viewer(request: Request, permission: Permission) -> Viewer:
    """The key behind a console form, checked as the API checks it (key, CSRF, permission)."""
    if request.cookies.get(COOKIE) is None and "authorization" not in request.headers:
        raise SignInRequired(safe_next(request.headers.get("referer", "/"), request))
    try:
        key = await caller(request)
    except HTTPException as exc:
        if exc.status_code == 401:
            raise SignInRequired("/") from exc
        raise Refused(exc.status_code, str(exc.detail)) from exc
    if not key.can(permission):
        raise Refused(403, f"{key.kind} may not do this (it needs the "
                           f"'{permission}' permission)")
    return Viewer(key, csrf_token(request, key))


def safe_next(target: str | None, request: Request | None = None) -> str:
    """A local path to return to (never another site)."""
    if not target:
        return "/"
    parts = urlsplit(target)
    if (parts.scheme or parts.netloc) and (request is None
                                           or parts.netloc != request.url.netloc):
        return "/"
    path = parts.path or "/"
    if not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/"
    return path + (f"?{parts.query}" if parts.query else "")


def login_redirect(next_url: str) -> RedirectResponse:
    target = "/login" if next_url in ("", "/") else f"/login?next={quote(next_url, safe='')}"
    return RedirectResponse(target, status_code=303)


def same_origin(request: Request) -> bool:
    """Whether a form post comes from this site (the sign-in form has no CSRF token yet)."""
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None
    return urlsplit(origin).netloc == request.url.netloc


def set_session(response: Response, request: Request, token: str) -> None:
    response.set_cookie(COOKIE, token, httponly=True, samesite="strict", path="/",
                        secure=request.url.scheme == "https")


def flash(response: Response, kind: str, message: str) -> None:
    """Show ``message`` once on the next page (``kind``: ``ok`` or ``error``)."""
    text = f"{kind}:{message}"[:1500]
    response.set_cookie(FLASH_COOKIE, quote(text, safe=""), httponly=True, samesite="strict",
                        path="/", max_age=60)


def take_flash(request: Request) -> tuple[str, str] | None:
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return None
    kind, _, message = unquote(raw).partition(":")
    return (kind if kind in ("ok", "error") else "error"), message
