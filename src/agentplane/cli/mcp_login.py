"""``agentplane mcp login SERVER``: a person authorizes Agentplane at an MCP server, once.

The server is an ``mcp_servers:`` entry of a workflow (``--workflow``, else the YAML files
under the current folder). The person approves in a browser; the authorization server sends
the code back to a loopback callback; the tokens are stored encrypted
(``$AGENTPLANE_HOME/mcp-auth/``) for runs to use and refresh.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from agentplane.errors import ConfigError

from . import render

if TYPE_CHECKING:
    from agentplane.tools.sources.spec import MCPServerSpec

SKIP = {".git", ".venv", "venv", "node_modules", "__pycache__"}


def _entries(path: Path) -> list[dict[str, Any]]:
    import yaml  # only this command reads workflow files: `agentplane --help` stays light

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return []
    servers = data.get("mcp_servers") if isinstance(data, dict) else None
    return [s for s in servers if isinstance(s, dict)] if isinstance(servers, list) else []


def find_server(name: str, workflow: Path | None, where: Path) -> tuple[MCPServerSpec, Path]:
    """The ``mcp_servers:`` entry called ``name`` and the folder of its workflow."""
    from pydantic import ValidationError

    from agentplane.tools.sources.spec import MCPServerSpec

    if workflow is not None:
        files = [workflow]
    else:
        files = [p for p in sorted(where.rglob("*.y*ml"))
                 if p.suffix in (".yaml", ".yml") and not SKIP & set(p.parts)]
    found: list[tuple[MCPServerSpec, Path]] = []
    for path in files:
        for entry in _entries(path):
            if entry.get("name") != name:
                continue
            try:
                found.append((MCPServerSpec.model_validate(entry), path))
            except ValidationError as exc:
                raise ConfigError(f"{path}: MCP server {name}: {exc}") from None
    urls = {spec.url for spec, _ in found}
    if not found:
        place = f"in {workflow}" if workflow else f"under {where}"
        raise ConfigError(f"no workflow {place} declares an MCP server {name!r} "
                          "(mcp_servers:); give --workflow")
    if len(urls) > 1:
        raise ConfigError(f"MCP server {name!r} means different servers in "
                          f"{', '.join(str(p) for _, p in found)}: give --workflow")
    spec, path = found[0]
    if spec.url is None or spec.auth is None:
        raise ConfigError(f"{path}: MCP server {name} declares no `auth:` (a server at a url "
                          "needing OAuth does): nothing to log in to")
    if spec.auth.flow != "authorization_code":
        raise ConfigError(f"{path}: MCP server {name} uses flow {spec.auth.flow}: no person "
                          "logs in through Agentplane (its credentials come from the "
                          "environment)")
    return spec, path.parent


def mcp_login(
    server: Annotated[str, typer.Argument(help="The MCP server's name in the workflow's "
                                          "mcp_servers:.", show_default=False)],
    workflow: Annotated[Path | None, typer.Option(help="The workflow declaring it (default: "
                                                  "the YAML files under this folder).")] = None,
    port: Annotated[int, typer.Option(min=0, max=65535, help="Loopback port of the callback "
                                      "(0: any free one; a pre-registered client may need "
                                      "the one it registered).")] = 0,
    browser: Annotated[bool, typer.Option(help="Open the browser (else only print the "
                                          "address).")] = True,
) -> None:
    """Authorize Agentplane at an OAuth-protected MCP server, once: runs then use and refresh
    the tokens, stored encrypted (key: AGENTPLANE_SECRET_KEY or $AGENTPLANE_HOME/secret.key)."""
    # The MCP SDK and the crypto libraries load only for this command, not for every CLI call.
    import asyncio
    import webbrowser

    from agentplane.tools.sources.mcp import MCPConnection
    from agentplane.tools.sources.mcp_auth import EncryptedTokenStorage, LoopbackLogin

    spec, base_dir = find_server(server, workflow, Path.cwd())
    assert spec.url is not None
    err = render.console(stderr=True)

    async def open_url(url: str) -> None:
        err.print(f"Open this address to authorize Agentplane at {spec.name}:\n{url}",
                  soft_wrap=True)
        if browser:
            await asyncio.to_thread(webbrowser.open, url)

    async def main() -> int:
        storage = EncryptedTokenStorage(spec.url or "")
        storage.forget()  # a fresh authorization (and registration, for this callback)
        connection = MCPConnection(spec, base_dir, login=LoopbackLogin(open_url, port=port))
        try:
            return len(await connection.schemas())
        finally:
            await connection.aclose()

    tools = asyncio.run(main())
    err.print(f"Authorized at MCP server {spec.name} ({tools} tool(s)); tokens stored "
              f"encrypted in {EncryptedTokenStorage(spec.url).path}")
