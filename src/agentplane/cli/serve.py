"""``agentplane serve`` (API + console) and ``agentplane keys`` (the API keys it accepts)."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer

from agentplane.errors import ConfigError
from agentplane.governance.keys import KeyRing, keyring_for
from agentplane.journal import JournalStore, open_store

from . import render, settings

DEFAULT_PORT = 8700

DbOption = Annotated[str | None, typer.Option("--db", help="Database URL (default: "
                                              "$AGENTPLANE_DB or a SQLite file in "
                                              "$AGENTPLANE_HOME).", show_default=False)]
HostOption = Annotated[str, typer.Option(help="Address to listen on (loopback by default; "
                                              "0.0.0.0 exposes the server to the network).")]
PortOption = Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")]

out = render.console()
err = render.console(stderr=True)


def _check_free(host: str, port: int) -> None:
    """A clear error, before anything starts, when the address is taken."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise ConfigError(f"cannot listen on {host}:{port} ({exc.strerror}); another "
                              "server may be using it — pass --port with a free one") from exc


async def serve_plane(store: JournalStore, workflow_files: Iterable[Path], *, host: str,
                      port: int, worker: bool = True,
                      announce: Callable[[str], Awaitable[None]] | None = None,
                      max_body_kb: int | None = None, max_input_kb: int | None = None,
                      concurrency: int | None = None) -> None:
    """Serve the API and console until interrupted."""
    import uvicorn

    from agentplane.server import Plane, create_app

    _check_free(host, port)
    plane = Plane.open(store, workflow_files, worker=worker)
    if concurrency is not None:
        plane.max_active = concurrency
    if max_body_kb is not None:
        plane.limits = replace(plane.limits, body_bytes=max_body_kb * 1024)
    if max_input_kb is not None:
        plane.limits = replace(plane.limits, input_bytes=max_input_kb * 1024)
    app = create_app(plane)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on",
                            access_log=False)
    server = uvicorn.Server(config)
    url = f"http://{host}:{port}"
    if host in ("0.0.0.0", "::", ""):
        err.print("[yellow]note[/]: listening on every interface; every route but the health "
                  "check still needs an API key")

    async def tell() -> None:
        while not server.started:
            await asyncio.sleep(0.05)
        logging.getLogger("agentplane.server").info(
            "serving", extra={"url": url, "workflows": sorted(plane.workflows),
                              "worker": worker})
        if announce is not None:
            await announce(url)

    teller = asyncio.create_task(tell())
    try:
        await server.serve()
    finally:
        teller.cancel()


def serve(
    workflows: Annotated[list[Path] | None, typer.Argument(
        help="Workflow YAML files the API and console may start.", show_default=False)] = None,
    host: HostOption = "127.0.0.1",
    port: PortOption = DEFAULT_PORT,
    db: DbOption = None,
    worker: Annotated[bool, typer.Option(help="Drive runs in this process (else leave them "
                                              "to `agentplane worker`).")] = True,
    concurrency: Annotated[int | None, typer.Option(
        min=1, help="Runs this server drives at once (with --worker). Default 16.",
        show_default=False)] = None,
    log_format: Annotated[str, typer.Option(help="Logs on stderr: json (one object a line) or "
                                                 "text; secrets are redacted either way.")
                          ] = "json",
    log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING or ERROR.")] = "INFO",
    max_body_kb: Annotated[int | None, typer.Option(
        min=1, help="Largest request body accepted, in KiB (larger: 413). Default 1024.",
        show_default=False)] = None,
    max_input_kb: Annotated[int | None, typer.Option(
        min=1, help="Largest run input accepted, in KiB of JSON (larger: 422). Default 256.",
        show_default=False)] = None,
) -> None:
    """Serve the REST API (OpenAPI at /openapi.json), live event streams, the console, and the
    workflows over A2A (/a2a) and MCP (/mcp), all with the same API keys."""
    from agentplane.telemetry import configure_logging

    if log_format not in ("json", "text"):
        raise ConfigError(f"--log-format {log_format!r}: use json or text")
    if log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError(f"--log-level {log_level!r}: use DEBUG, INFO, WARNING or ERROR")
    configure_logging(json=log_format == "json", level=log_level)

    async def main() -> None:
        store = open_store(settings.database_url(db))
        ring = keyring_for(store)
        live = [k for k in ring.list() if k.role == "admin"]
        ring.close()

        async def announce(url: str) -> None:
            err.print(f"Agentplane at {url}  (console {url}/, API {url}/api/v1, "
                      f"OpenAPI {url}/openapi.json, metrics {url}/metrics, A2A {url}/a2a and "
                      f"{url}/.well-known/agent-card.json, MCP {url}/mcp)")
            if not live:
                err.print("no admin key yet: create one with `agentplane keys create NAME "
                          "--role admin`")

        try:
            await serve_plane(store, workflows or [], host=host, port=port, worker=worker,
                              announce=announce, max_body_kb=max_body_kb,
                              max_input_kb=max_input_kb, concurrency=concurrency)
        finally:
            await store.close()

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        err.print("server stopped")


def _with_ring(db: str | None, body: Callable[[KeyRing], None], *, create: bool = True
               ) -> None:
    async def main() -> None:
        store = open_store(settings.database_url(db), create=create)
        ring = keyring_for(store)
        try:
            body(ring)
        finally:
            ring.close()
            await store.close()

    asyncio.run(main())


def keys_create(
    name: Annotated[str, typer.Argument(help="What the key is for (e.g. 'grafana', 'ops team').")],
    role: Annotated[str, typer.Option(help="viewer, operator, approver or admin.")] = "viewer",
    tenant: Annotated[str, typer.Option(help="The tenant whose runs it sees ('*' for all).")
                      ] = "default",
    db: DbOption = None,
) -> None:
    """Create an API key; its secret is printed once and stored only as a hash."""

    def body(ring: KeyRing) -> None:
        key, secret = ring.create(name, role=role, tenant=tenant)
        err.print(f"created {key.role} key {key.id} ({key.name}) for tenant {key.tenant}; "
                  "keep it now, it is not shown again:", markup=False)
        print(secret)

    _with_ring(db, body)


def keys_list(
    db: DbOption = None,
    all_: Annotated[bool, typer.Option("--all", help="Include revoked keys.")] = False,
) -> None:
    """List API keys (never their secrets)."""

    def body(ring: KeyRing) -> None:
        out.print(render.keys_table(ring.list(include_revoked=all_), out.width))

    _with_ring(db, body, create=False)


def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (from `agentplane keys list`).")],
    db: DbOption = None,
) -> None:
    """Revoke an API key at once."""

    def body(ring: KeyRing) -> None:
        key = ring.revoke(key_id)
        err.print(f"revoked key {key.id} ({key.name})", markup=False)

    _with_ring(db, body, create=False)
