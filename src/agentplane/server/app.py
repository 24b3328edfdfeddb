"""The ``agentplane serve`` application: REST API, SSE streams, console and ``/metrics``."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import version
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from agentplane.errors import AgentplaneError, ConfigError, NotFoundError

from . import api
from .actions import ActionError, tenant_filter
from .auth import Reader
from .console import install_console
from .plane import Plane


def _problem(status: int, message: str, **extra: object) -> JSONResponse:
    return JSONResponse({"error": message, "status": status, **extra}, status_code=status)


def _install_errors(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        response = _problem(exc.status_code, str(exc.detail))
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [{"where": ".".join(str(p) for p in err.get("loc", ())),
                     "problem": err.get("msg", "")} for err in exc.errors()]
        where = "; ".join(f"{p['where']}: {p['problem']}" for p in problems)
        return _problem(422, f"invalid request — {where}", problems=problems)

    @app.exception_handler(NotFoundError)
    async def not_found(_: Request, exc: NotFoundError) -> JSONResponse:
        return _problem(404, str(exc))

    @app.exception_handler(ActionError)
    async def conflict(_: Request, exc: ActionError) -> JSONResponse:
        return _problem(409, str(exc))

    @app.exception_handler(ConfigError)
    async def bad_input(_: Request, exc: ConfigError) -> JSONResponse:
        return _problem(400, str(exc))

    @app.exception_handler(AgentplaneError)
    async def failed(_: Request, exc: AgentplaneError) -> JSONResponse:
        return _problem(400, str(exc))


def create_app(plane: Plane, *, manage_plane: bool = True) -> FastAPI:
    """The server for ``plane``. With ``manage_plane`` the app starts the plane's worker and
    event feed when it starts, and stops them (and closes the runtime) when it stops."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if manage_plane:
            await plane.start()
        try:
            yield
        finally:
            if manage_plane:
                await plane.stop()

    app = FastAPI(title="Agentplane", version=version("agentplane"), lifespan=lifespan,
                  openapi_url=None, docs_url=None, redoc_url=None,
                  description="Control plane for governed multi-agent systems: runs, "
                              "approvals, usage and audit. Every route but /api/v1/health "
                              "needs an API key (Authorization: Bearer KEY).")
    app.state.plane = plane
    app.state.csrf_secret = secrets.token_bytes(32)
    _install_errors(app)
    app.include_router(api.router)

    @app.get("/metrics", include_in_schema=False)
    async def metrics(key: Reader, request: Request) -> Response:
        """Prometheus metrics of the key's tenant (or every tenant's, for an all-tenant key)."""
        body, content_type = await plane.metrics.render(
            tenant=tenant_filter(key), accept=request.headers.get("accept"))
        return Response(body, media_type=content_type)

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi(_: Reader) -> dict[str, Any]:
        """The OpenAPI document (behind a key like everything but the health check)."""
        return app.openapi()

    install_console(app)
    return app
