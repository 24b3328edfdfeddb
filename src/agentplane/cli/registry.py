"""``agentplane registry add|list|find|check``: the agent registry ("marketplace").

The registry lives in the journal's SQLite file (``--db``), in tables of its own.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from agentplane.errors import ConfigError

from . import render, settings
from ._typer import group
from .render import escape

if TYPE_CHECKING:
    from rich.console import RenderableType

    from agentplane.tools.sources.registry import AgentEntry, Registry, TrustLevel

T = TypeVar("T")

DbOption = Annotated[str | None, typer.Option("--db", help="Database URL (default: "
                                              "$AGENTPLANE_DB or a SQLite file in "
                                              "$AGENTPLANE_HOME).", show_default=False)]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]

out = render.lazy_console()


def _with_registry(db: str | None, body: Callable[[Registry], Awaitable[T]], *,
                   create: bool = False) -> T:
    """Run ``body`` with the registry in the database's SQLite file (made only when
    ``create``: a command that reads never leaves an empty journal behind)."""
    import asyncio

    from agentplane.journal import open_store
    from agentplane.tools.sources.registry import registry_for

    async def main() -> T:
        store = open_store(settings.database_url(db), create=create)
        try:
            registry = registry_for(store)
            try:
                return await body(registry)
            finally:
                registry.close()
        finally:
            await store.close()

    return asyncio.run(main())


def _trust(value: str) -> TrustLevel:
    if value == "trusted":
        return "trusted"
    if value == "untrusted":
        return "untrusted"
    raise ConfigError(f"--trust {value!r}: use trusted or untrusted")


def _entries_table(entries: list[AgentEntry], registry: Registry) -> RenderableType:
    """Agents at the terminal's width: ids and trust whole, capabilities and replicas wrapped,
    price, owner and version dropped first when it is narrow."""
    from rich.text import Text

    from ._tables import Column, fitted

    columns = [Column("AGENT"), Column("VERSION", drop=3), Column("OWNER", drop=2),
               Column("TRUST"), Column("CAPABILITIES", wrap=True), Column("PRICE", drop=1),
               Column("REPLICAS", wrap=True)]
    rows: list[list[Text | str]] = []
    for e in entries:
        replicas = Text()
        for n, url in enumerate(e.replicas):
            up = registry.is_up(url)
            replicas.append(("\n" if n else "") + url + " ")
            replicas.append("up" if up else "down", style="green" if up else "red")
        rows.append([e.id, e.version[:16], e.owner, e.trust, ", ".join(e.capabilities),
                     ", ".join(f"{k}={v:g}" for k, v in e.price.items()), replicas])
    return fitted(columns, rows, out.width)


def _merge(registry: Registry, entry: AgentEntry) -> AgentEntry:
    """The entry, with the replicas already registered for its id and version kept."""
    known = registry.get(entry.id, entry.version)
    if known is None:
        return entry
    merged = list(dict.fromkeys([*known.replicas, *entry.replicas]))
    return replace(entry, price=entry.price or known.price, replicas=merged)


async def _load(sources: list[str], owner: str | None, trust: TrustLevel,
                price: dict[str, float], capabilities: list[str]) -> list[AgentEntry]:
    from agentplane.runtime import load_workflow
    from agentplane.runtime.registered import entries_from_workflow
    from agentplane.tools.sources.registry import entry_from_card, fetch_agent_card

    entries: list[AgentEntry] = []
    for source in sources:
        if source.startswith(("http://", "https://")):
            url = source.rstrip("/")
            card = await fetch_agent_card(url)
            entry = entry_from_card(card, url, owner=owner, trust=trust, price=price)
            if capabilities:
                entry = replace(entry, capabilities=list(capabilities))
            entries.append(entry)
            continue
        path = Path(source)
        if not path.exists():
            raise ConfigError(f"{source} is neither an A2A agent URL (http://...) nor a "
                              "workflow file")
        workflow = load_workflow(path)
        explicit = {a.name: capabilities for a in workflow.spec.agents} if capabilities else None
        entries += entries_from_workflow(workflow, owner=owner or "local", trust=trust,
                                         price=price, capabilities=explicit)
    return entries


def registry_add(
    sources: Annotated[list[str], typer.Argument(
        help="A2A agent base URLs (card at URL/.well-known/agent-card.json) or workflow YAML "
             "files (one entry per agent).", show_default=False)],
    owner: Annotated[str | None, typer.Option(
        "--owner", help="Who answers for the agent (default: the card's provider, or 'local' "
                        "for workflows).", show_default=False)] = None,
    trust: Annotated[str, typer.Option(
        "--trust", help="trusted or untrusted (default: untrusted for URLs, trusted for "
                        "workflows).", show_default=False)] = "",
    price_per_task: Annotated[float | None, typer.Option(
        "--price-per-task", min=0, help="Price of one task, US dollars.",
        show_default=False)] = None,
    capability: Annotated[list[str] | None, typer.Option(
        "--capability", help="A capability (repeat for more), instead of those from the card "
                             "or the agents' descriptions.", show_default=False)] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Register agents: remote A2A agents from their cards (a URL of an agent already
    registered in the same version adds a replica), or the agents of a workflow."""
    price = {"per_task_usd": price_per_task} if price_per_task is not None else {}
    remote = [s for s in sources if s.startswith(("http://", "https://"))]
    local = [s for s in sources if s not in remote]
    remote_trust = _trust(trust or "untrusted")
    local_trust = _trust(trust or "trusted")

    async def body(registry: Registry) -> list[AgentEntry]:
        entries = await _load(remote, owner, remote_trust, price, capability or [])
        entries += await _load(local, owner, local_trust, price, capability or [])
        return [registry.register(_merge(registry, e)) for e in entries]

    stored = _with_registry(db, body, create=True)
    if as_json:
        print(render.dump_json([e.to_json() for e in stored]))
        return
    for e in stored:
        out.print(f"registered [bold]{escape(e.id)}[/] {escape(e.version[:16])} "
                  f"({len(e.replicas)} replica(s))")


def registry_list(db: DbOption = None, as_json: JsonOption = False) -> None:
    """The registered agents (current versions) and whether their replicas are up."""

    async def body(registry: Registry) -> None:
        entries = registry.list()
        if as_json:
            print(render.dump_json([e.to_json() | {"health": [registry.health(u).to_json()
                                                              for u in e.replicas]}
                                    for e in entries]))
        elif entries:
            out.print(_entries_table(entries, registry))
        else:
            out.print("no agents registered; add one with `agentplane registry add`")

    _with_registry(db, body)


def registry_find(
    capability: Annotated[str, typer.Argument(help="A capability, e.g. refunds.")],
    min_trust: Annotated[str | None, typer.Option(
        "--min-trust", help="Only agents at least this trusted (trusted or untrusted).",
        show_default=False)] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Agents with a capability, those with healthy replicas first."""
    floor = _trust(min_trust) if min_trust is not None else None

    async def body(registry: Registry) -> None:
        entries = registry.find(capability, min_trust=floor)
        if as_json:
            print(render.dump_json([e.to_json() for e in entries]))
        elif entries:
            out.print(_entries_table(entries, registry))
        else:
            out.print(f"no agent registered can do {escape(capability)!r}")

    _with_registry(db, body)


def registry_check(
    timeout: Annotated[float, typer.Option(
        "--timeout", min=0.1, help="Seconds each replica has to answer.")] = 10.0,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """One health round: fetch every A2A replica's agent card and record the result.
    Exits 1 when a replica did not answer."""
    from rich.table import Table

    from agentplane.tools.sources.registry import check_health

    async def body(registry: Registry) -> bool:
        results = await check_health(registry, timeout_s=timeout)
        healths = [registry.health(url) for url in results]
        if as_json:
            print(render.dump_json([h.to_json() for h in healths]))
        elif not healths:
            out.print("no remote replicas to check")
        else:
            table = Table("replica", "status", "latency ms", "failures", "error")
            for h in healths:
                table.add_row(escape(h.url), "[green]ok[/]" if h.ok else "[red]failed[/]",
                              f"{h.latency_ms:.0f}" if h.latency_ms is not None else "",
                              str(h.failures), escape(h.error or ""))
            out.print(table)
        return all(results.values())

    if not _with_registry(db, body):
        raise typer.Exit(1)


registry_app = group()
registry_app.command("add")(registry_add)
registry_app.command("list")(registry_list)
registry_app.command("find")(registry_find)
registry_app.command("check")(registry_check)

__all__ = ["registry_add", "registry_app", "registry_check", "registry_find", "registry_list"]
