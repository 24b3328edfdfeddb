"""``agentplane mcp serve WORKFLOW.yaml...``: the workflows as tools of an MCP server."""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from agentplane._extras import require
from agentplane.errors import ConfigError

from . import render, settings
from ._exits import run_main
from ._typer import group
from .mcp_login import mcp_login


class Transport(StrEnum):
    stdio = "stdio"
    http = "http"


def _token() -> str | None:
    from agentplane.server.mcp import TOKEN_ENV

    token = os.environ.get(TOKEN_ENV)
    if token is not None and not token.strip():
        raise ConfigError(f"{TOKEN_ENV} is set but empty: set it to the token HTTP clients must "
                          "send as `Authorization: Bearer ...`, or unset it")
    return token


def mcp_serve(
    workflows: Annotated[list[Path], typer.Argument(help="Workflow YAML files to expose as "
                                                    "tools.", show_default=False)],
    transport: Annotated[Transport, typer.Option(help="stdio (for a client that starts this "
                                                 "process) or http (streamable HTTP at /mcp).")
                         ] = Transport.stdio,
    host: Annotated[str, typer.Option(help="Address to bind (http).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on (http).")
                    ] = 8765,
    agents: Annotated[bool, typer.Option("--agents", help="Expose each agent as a tool too "
                                         "(WORKFLOW__AGENT).")] = False,
    db: Annotated[str | None, typer.Option("--db", help="Database URL (default: "
                                           "$AGENTPLANE_DB or a SQLite file in "
                                           "$AGENTPLANE_HOME).", show_default=False)] = None,
) -> None:
    """Serve workflows as MCP tools: a call starts a durable run and returns its output, or a
    reference to poll when the run waits for an approval. Over http, set AGENTPLANE_MCP_TOKEN
    to require `Authorization: Bearer <token>`."""
    import asyncio

    require("mcp", extra="mcp", feature="`agentplane mcp serve`")
    from agentplane.governance.keys import keyring_for
    from agentplane.journal import open_store
    from agentplane.runtime import load_workflow
    from agentplane.server.mcp import build_mcp_server, serve_http, serve_stdio

    loaded = [load_workflow(path) for path in workflows]
    token = _token() if transport is Transport.http else None
    err = render.console(stderr=True)  # stdout is the protocol channel over stdio

    async def main() -> None:
        store = open_store(settings.database_url(db))
        ring = keyring_for(store) if transport is Transport.http else None
        try:
            server = build_mcp_server(store, loaded, agents=agents)
            if transport is Transport.stdio:
                await serve_stdio(server)
            else:
                keyring = ring if ring is not None and ring.any_live() else None
                guarded = token is not None or keyring is not None
                err.print(f"MCP server on http://{host}:{port}/mcp "
                          f"({len(loaded)} workflow(s); "
                          + ("an operator API key or the bearer token required)" if guarded
                             else "no token: create an API key to require one)"))
                await serve_http(server, host=host, port=port, token=token, keyring=keyring)
        finally:
            if ring is not None:
                ring.close()
            await store.close()

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        err.print("MCP server stopped")


mcp_app = group()
mcp_app.command("serve")(mcp_serve)
mcp_app.command("login")(mcp_login)


def main() -> None:
    """Run ``mcp_serve`` as a program of its own (until it is registered on the main CLI)."""
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    app.command()(mcp_serve)
    run_main(app)
