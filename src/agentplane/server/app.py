"""The ``agentplane serve`` application: REST API, SSE streams, console and ``/metrics``."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from importlib.metadata import version
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response

from . import api, evals, knowledge, memory, triggers
from .actions import tenant_filter
from .auth import Authenticator, KeyRingVerifier, Reader
from .console import install_console
from .errors import CatchAll, install_errors
from .limits import BodyLimit
from .oauth import install_oauth
from .plane import Plane


def create_app(plane: Plane, *, manage_plane: bool = True, protocols: bool = True) -> FastAPI:
    """The server for ``plane``. With ``manage_plane`` the app starts the plane's worker and
    event feed when it starts, and stops them (and closes the runtime) when it stops. With
    ``protocols`` it serves the workflows over A2A and MCP too (``front``)."""
    serving: list[AbstractAsyncContextManager[None]] = []

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            if manage_plane:
                await plane.start()
                stack.push_async_callback(plane.stop)
            for running in serving:
                await stack.enter_async_context(running)
            yield

    app = FastAPI(title="Agentplane", version=version("agentplane"), lifespan=lifespan,
                  openapi_url=None, docs_url=None, redoc_url=None,
                  description="Control plane for governed multi-agent systems: runs, "
                              "approvals, usage and audit. Every route but /api/v1/health "
                              "needs an API key (Authorization: Bearer KEY).")
    app.state.plane = plane
    app.state.csrf_secret = secrets.token_bytes(32)
    # Who is calling, at every door (REST, console, A2A, MCP); ``add`` takes more verifiers.
    authenticator = app.state.authenticator = Authenticator(KeyRingVerifier(plane.keys))
    install_errors(app)
    app.add_middleware(BodyLimit, limit=plane.limits.body_bytes)
    app.add_middleware(CatchAll)  # outermost: a JSON answer for any fault, the true Allow
    app.include_router(api.router)
    app.include_router(knowledge.router)
    app.include_router(memory.router)
    app.include_router(triggers.router)
    app.include_router(evals.router)
    app.include_router(evals.simulations_router)

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

    if protocols:
        from .front import install_protocols

        serving.append(install_protocols(app, plane, authenticator))
    # OAuth tokens too, when an issuer is configured; /mcp's 401 names the resource metadata
    install_oauth(app, authenticator, door=getattr(app.state, "mcp_door", None))
    install_console(app)
    return app
