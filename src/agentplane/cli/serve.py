"""``agentplane serve`` (API + console) and ``agentplane keys`` (the API keys it accepts)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine, Iterable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from agentplane._extras import installed, require
from agentplane.errors import ConfigError

from . import render, settings
from ._typer import group
from .settings import DEFAULT_PORT

if TYPE_CHECKING:
    from agentplane.governance.keys import KeyRing
    from agentplane.journal import JournalStore

DbOption = Annotated[str | None, typer.Option("--db", help="Database URL (default: "
                                              "$AGENTPLANE_DB or a SQLite file in "
                                              "$AGENTPLANE_HOME).", show_default=False)]
HostOption = Annotated[str, typer.Option(help="Address to listen on (loopback by default; "
                                              "0.0.0.0 exposes the server to the network).")]
PortOption = Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")]

out = render.lazy_console()
err = render.lazy_console(stderr=True)


def serves_protocols() -> bool:
    """Whether the server's port carries A2A and MCP too: when both extras are installed."""
    return installed("mcp") and installed("a2a")


def require_server(feature: str) -> None:
    """Refuse at once, naming the extra, when the API server's packages are not installed."""
    require("fastapi", extra="server", feature=feature)
    require("uvicorn", extra="server", feature=feature)


def _check_free(host: str, port: int) -> None:
    """A clear error, before anything starts, when the address is taken."""
    import socket

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
                      concurrency: int | None = None,
                      checkpoints: Coroutine[Any, Any, None] | None = None) -> None:
    """Serve the API and console until interrupted (and write ``checkpoints`` meanwhile)."""
    import asyncio
    import logging

    require_server("the API server and console")
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
    # The protocols on the same port come with their extras; without them the API and the
    # console are served alone, and the server says how to add the rest.
    protocols = serves_protocols()
    app = create_app(plane, protocols=protocols)
    if not protocols:
        err.print("[yellow]note[/]: A2A and MCP are not served on this port: install "
                  "agentplane\\[a2a,mcp] to add them")
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
    checkpointer = None if checkpoints is None else asyncio.create_task(checkpoints)
    try:
        await server.serve()
    finally:
        teller.cancel()
        if checkpointer is not None:
            checkpointer.cancel()


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
    checkpoints: Annotated[str | None, typer.Option(
        "--checkpoints", help="Append signed checkpoints of every run's head to this JSONL "
                              "file or URL (see `agentplane audit checkpoint`).",
        show_default=False)] = None,
    checkpoint_every: Annotated[str, typer.Option(
        "--checkpoint-every", help="How often, with --checkpoints: 30s, 5m, 1h.")] = "5m",
    checkpoint_key: Annotated[Path | None, typer.Option(
        "--checkpoint-key", help="The Ed25519 key that signs them (default: audit-key.pem in "
                                 "$AGENTPLANE_HOME).", show_default=False)] = None,
) -> None:
    """Serve the REST API (OpenAPI at /openapi.json), live event streams, the console, and the
    workflows over A2A (/a2a) and MCP (/mcp) when those extras are installed, all with the same
    API keys."""
    import asyncio

    require_server("`agentplane serve`")
    from agentplane.governance.keys import keyring_for
    from agentplane.journal import open_store
    from agentplane.telemetry import configure_logging

    if log_format not in ("json", "text"):
        raise ConfigError(f"--log-format {log_format!r}: use json or text")
    if log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError(f"--log-level {log_level!r}: use DEBUG, INFO, WARNING or ERROR")
    configure_logging(json=log_format == "json", level=log_level)
    every, signing_key = None, None
    if checkpoints is not None:  # refuse a bad period or key now, not every five minutes
        from agentplane.compliance.checkpoints import parse_every
        from agentplane.compliance.keys import load_private

        from .compliance import default_key

        every, signing_key = parse_every(checkpoint_every), checkpoint_key or default_key()
        load_private(signing_key)

    async def main() -> None:
        store = open_store(settings.database_url(db))
        ring = keyring_for(store)
        live = [k for k in ring.list() if k.role == "admin"]
        ring.close()

        async def announce(url: str) -> None:
            protocols = (f", A2A {url}/a2a and {url}/.well-known/agent-card.json, MCP "
                         f"{url}/mcp" if serves_protocols() else "")
            err.print(f"Agentplane at {url}  (console {url}/, API {url}/api/v1, "
                      f"OpenAPI {url}/openapi.json, metrics {url}/metrics{protocols})")
            if not live:
                err.print("no admin key yet: create one with `agentplane keys create NAME "
                          "--role admin`")

        writer = None
        if checkpoints is not None and every is not None and signing_key is not None:
            from agentplane.compliance.checkpoints import checkpoint_every as keep_writing

            writer = keep_writing(store, checkpoints, signing_key, every)
        try:
            await serve_plane(store, workflows or [], host=host, port=port, worker=worker,
                              announce=announce, max_body_kb=max_body_kb,
                              max_input_kb=max_input_kb, concurrency=concurrency,
                              checkpoints=writer)
        finally:
            await store.close()

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        err.print("server stopped")


def _with_ring(db: str | None, body: Callable[[KeyRing], None], *, create: bool = True
               ) -> None:
    import asyncio

    from agentplane.governance.keys import keyring_for
    from agentplane.journal import open_store

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


keys_app = group()
keys_app.command("create")(keys_create)
keys_app.command("list")(keys_list)
keys_app.command("revoke")(keys_revoke)
