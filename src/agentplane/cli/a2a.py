"""``agentplane a2a serve WORKFLOW.yaml...``: the workflows as A2A agents over HTTP.

Callers authenticate with an API key from ``AGENTPLANE_A2A_KEYS`` (comma-separated; one key per
calling organisation or system, so one can be revoked alone), sent as
``Authorization: Bearer <key>`` or ``X-API-Key: <key>``. The agent cards at
``/.well-known/agent-card.json`` and ``/agents/<workflow>/.well-known/agent-card.json`` are
public, as A2A discovery expects; nothing else answers without a key.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from agentplane._extras import require
from agentplane.errors import ConfigError

from . import render, settings
from ._exits import run_main
from ._typer import group

if TYPE_CHECKING:
    from agentplane.governance.keys import KeyRing
    from agentplane.server.a2a_app import CardVersion


def api_keys(ring: KeyRing) -> set[str]:
    """The keys in ``AGENTPLANE_A2A_KEYS``; an error that says what to do when there are none
    there nor in the server's key ring (``agentplane keys``)."""
    from agentplane.server.a2a import KEYS_ENV

    keys = {k.strip() for k in os.environ.get(KEYS_ENV, "").split(",") if k.strip()}
    if not keys and not ring.any_live():
        raise ConfigError(f"create an API key for A2A callers (`agentplane keys create NAME "
                          f"--role operator`) or set {KEYS_ENV} (comma-separated keys): every "
                          "A2A request but the agent cards needs one")
    return keys


def a2a_serve(
    workflows: Annotated[list[Path], typer.Argument(help="Workflow YAML files to serve as A2A "
                                                    "agents.", show_default=False)],
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8766,
    base_url: Annotated[str | None, typer.Option(
        "--base-url", help="URL clients reach this server at, written into the agent cards "
                           "(default: http://HOST:PORT).", show_default=False)] = None,
    db: Annotated[str | None, typer.Option("--db", help="Database URL (default: "
                                           "$AGENTPLANE_DB or a SQLite file in "
                                           "$AGENTPLANE_HOME).", show_default=False)] = None,
    card_version: Annotated[str, typer.Option(
        "--card-version", help="Agent cards without an A2A-Version header: 1.0 (pure) or 0.3 "
                               "(with the 0.3 fields, for 0.3-only clients).")] = "1.0",
) -> None:
    """Serve workflows as A2A agents (protocol 1.0, and 0.3 for older clients): a message
    starts a durable run; its task follows the run, input-required while it waits for an
    approval. Keys from AGENTPLANE_A2A_KEYS (comma-separated)."""
    import asyncio

    require("a2a", extra="a2a", feature="`agentplane a2a serve`")
    uvicorn = require("uvicorn", extra="a2a", feature="`agentplane a2a serve`")
    from agentplane.governance.keys import keyring_for
    from agentplane.journal import open_store
    from agentplane.runtime import load_workflow
    from agentplane.server.a2a_app import build_a2a_app

    if card_version not in ("1.0", "0.3"):
        raise ConfigError(f"--card-version {card_version!r}: use 1.0 or 0.3")
    version: CardVersion = "0.3" if card_version == "0.3" else "1.0"
    loaded = [load_workflow(path) for path in workflows]
    url = base_url or f"http://{host}:{port}"
    err = render.console(stderr=True)
    if base_url is None and host in ("0.0.0.0", "::", ""):
        err.print(f"[yellow]note[/]: the agent cards will say {url}, which clients elsewhere "
                  "cannot reach; pass --base-url with the address they use")

    async def main() -> None:
        store = open_store(settings.database_url(db))
        ring = keyring_for(store)
        try:
            keys = api_keys(ring)
            app = build_a2a_app(store, loaded, base_url=url, api_keys=keys, keyring=ring,
                                card_version=version)
            names = ", ".join(w.spec.name for w in loaded)
            err.print(f"A2A agents ({names}) at {url}/agents; callers need an operator API key "
                      f"(approvers answer waiting tasks) or one of the {len(keys)} key(s) in "
                      "AGENTPLANE_A2A_KEYS; `agentplane serve` serves them too, at /a2a")
            config = uvicorn.Config(app, host=host, port=port, log_level="warning",
                                    lifespan="on")
            await uvicorn.Server(config).serve()
        finally:
            ring.close()
            await store.close()

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        err.print("A2A server stopped")


a2a_app = group()
a2a_app.command("serve")(a2a_serve)


def main() -> None:
    """Run ``a2a_serve`` as a program of its own (until it is registered on the main CLI)."""
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    app.command()(a2a_serve)
    run_main(app)


if __name__ == "__main__":
    main()
