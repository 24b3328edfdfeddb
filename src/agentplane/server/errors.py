"""How the server answers when something goes wrong: always a JSON body ``{"error", "status"}``
with a reason a person can act on — never a traceback, never a plain-text 500 — and the same
answers described in the OpenAPI document (``responses``), so the two cannot drift apart."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agentplane.errors import AgentplaneError, ConfigError, NotFoundError
from agentplane.journal import JournalUnavailableError
from agentplane.journal.health import storage_hint
from agentplane.journal.store import CorruptRecordError
from agentplane.storage import DatabaseError, DatabaseUnavailableError, driver_errors

from .actions import ActionError
from .limits import InputTooLargeError
from .problem import Problem, problem

log = logging.getLogger("agentplane.server")


WHY: dict[int, str] = {
    400: "The request is well-formed but cannot be done as asked.",
    401: "No API key, or one that is unknown, mistyped or revoked.",
    403: "The key's role may not do this (or a console form's CSRF token is wrong).",
    404: "No such object for this key (one of another tenant is not found either).",
    405: "The path exists but not with this method (the Allow header lists the methods).",
    409: "The action does not fit the run's (or approval's) state.",
    413: "The request body is larger than the server accepts.",
    422: "A parameter or body field is invalid (each named in `problems`).",
    500: "An unexpected fault; the answer carries a reference to the server's log.",
    503: "The journal cannot be written (file removed or replaced, read-only, disk full), or "
         "its database cannot be reached.",
}


def responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI ``responses`` for these error codes (plus 500, possible anywhere)."""
    return {code: {"model": Problem, "description": WHY[code]}
            for code in sorted({*codes, 500})}


METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def allowed_methods(app: ASGIApp, scope: Scope) -> list[str]:
    """Every method some route serves at the request's path (for ``Allow``), not only those
    of the first route that matched."""
    router = getattr(app, "router", None)
    routes = getattr(router, "routes", [])
    methods = {m for m in METHODS
               if any(r.matches({**scope, "method": m})[0] is Match.FULL for r in routes)}
    return sorted(methods | {"OPTIONS"}) if methods else []


def install_errors(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = str(exc.detail)
        if exc.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path}"
        elif exc.status_code == 404 and message == "Not Found":
            message = f"nothing at {request.url.path}; the API is under /api/v1"
        response = problem(exc.status_code, message)
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        if exc.status_code == 405:
            response.headers["Allow"] = ", ".join(allowed_methods(request.app, request.scope))
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [{"where": ".".join(str(p) for p in err.get("loc", ())),
                     "problem": str(err.get("msg", ""))} for err in exc.errors()]
        where = "; ".join(f"{p['where']}: {p['problem']}" for p in problems)
        return problem(422, f"invalid request — {where}", problems=problems)

    @app.exception_handler(InputTooLargeError)
    async def too_large(_: Request, exc: InputTooLargeError) -> JSONResponse:
        return problem(422, str(exc), problems=[{"where": "body.input", "problem": str(exc)}])

    for error_class, status in STATUS_OF.items():
        app.add_exception_handler(error_class, _plain(status))

    for error_class in (JournalUnavailableError, DatabaseUnavailableError):
        app.add_exception_handler(error_class, _unavailable)
    for error_class in driver_errors(load=True):  # the database driver's own failures
        app.add_exception_handler(error_class, _database_failed)


async def _unavailable(_: Request, exc: Exception) -> Response:
    log.error("journal unavailable: %s", exc)
    return problem(503, f"the journal cannot be written now, nothing was recorded: {exc}")


async def _database_failed(_: Request, exc: Exception) -> Response:
    log.error("journal failed: %s", exc)
    return problem(503, f"the journal cannot be read or written now ({exc}): "
                        f"{storage_hint(str(exc))}")


STATUS_OF: dict[type[Exception], int] = {
    NotFoundError: 404, ActionError: 409, ConfigError: 400, DatabaseError: 503,
    CorruptRecordError: 500,  # a record edited out of shape: not the caller's doing
    AgentplaneError: 400}
"""Errors a person can hit, by the status they answer (the message is the error's own)."""


def _plain(status: int) -> Callable[[Request, Exception], Awaitable[Response]]:
    async def handle(_: Request, exc: Exception) -> Response:
        return problem(status, str(exc))

    return handle


class CatchAll:
    """The outermost layer: any fault not answered otherwise becomes a JSON 500 naming a
    reference that is in the server's log (with the traceback, for whoever runs the server),
    and ``OPTIONS`` answers the methods every route of the path serves."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] == "OPTIONS":
            methods = allowed_methods(scope["app"], scope) if "app" in scope else []
            await self._options(scope, send, methods)
            return
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception:
            ref = secrets.token_hex(4)
            log.exception("request failed (ref %s): %s %s", ref, scope["method"], scope["path"])
            if started:
                raise
            response = problem(500, f"internal error (ref {ref}): the server could not complete "
                                    "this request; its log has the details under that reference")
            await response(scope, receive, send)

    async def _options(self, scope: Scope, send: Send, methods: list[str]) -> None:
        response = (Response(status_code=204, headers={"Allow": ", ".join(methods)}) if methods
                    else problem(404, f"nothing at {scope['path']}; the API is under /api/v1"))

        async def nothing() -> Message:
            return {"type": "http.disconnect"}

        await response(scope, nothing, send)
