"""Every protocol on the control centre's port: A2A (``/a2a/...`` and the server card at
``/.well-known/agent-card.json``) and streamable-HTTP MCP (``/mcp``) beside the REST API and
the console, behind the same front door (``auth.Authenticator``): the same API keys, roles and
tenants. A caller's runs belong to its key's tenant; another tenant's key sees none of them."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager

from fastapi import FastAPI
from starlette.routing import Route

from .auth import Authenticator, RequireCaller
from .plane import Plane

MCP_PATH = "/mcp"


def install_protocols(app: FastAPI, plane: Plane, authenticator: Authenticator
                      ) -> AbstractAsyncContextManager[None]:
    """Add the A2A and MCP routes of the plane's workflows to ``app``; returns what must run
    while the app serves (the MCP sessions), for its lifespan to enter. The MCP door is
    ``app.state.mcp_door`` (a ``RequireCaller``: its ``challenge`` may name OAuth metadata)."""
    from mcp.server.streamable_http_manager import (
        StreamableHTTPASGIApp,
        StreamableHTTPSessionManager,
    )

    from .a2a import AgentHost
    from .a2a_app import a2a_routes
    from .mcp import build_mcp_server

    workflows = list(plane.workflows.values())
    # Runs started over A2A are driven like the API's: by the plane's worker.
    host = AgentHost(plane.store, plane.runtime, tenant=None, owns_runtime=False,
                     driver=plane.drive)
    app.router.routes.extend(a2a_routes(host, workflows, authenticator))
    server = build_mcp_server(plane.store, workflows, runtime=plane.runtime, tenant=None)
    # Every request carries a key, so no DNS-rebinding check on Host (the server may be
    # reached by any name it is published under).
    sessions = StreamableHTTPSessionManager(app=server, security_settings=None)
    endpoint = RequireCaller(StreamableHTTPASGIApp(sessions), authenticator, permission="run")
    app.state.mcp_door = endpoint
    app.router.routes.append(Route(MCP_PATH, endpoint=endpoint))
    return sessions.run()


__all__ = ["MCP_PATH", "install_protocols"]
