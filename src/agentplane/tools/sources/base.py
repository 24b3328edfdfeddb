"""The tool-source interface: how tools that live outside the process reach a workflow.

A workflow declares its outside tools in fields of its spec (``mcp_servers``,
``remote_agents``); each such field is served by one *tool source* of the runtime. A source is
made when a workflow first declares it (its module is imported only then, so a runtime whose
workflows declare none never loads the MCP or A2A SDKs), ``open`` gives the tools of what a
workflow version declares (connecting as it needs to), and ``aclose`` closes what it holds when
the runtime closes. The runtime knows no source by name: ``SOURCES`` maps each spec field to the
module that serves it.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from agentplane.tools import Tool

if TYPE_CHECKING:
    from agentplane.journal import JournalStore

    from .registry import Registry


@dataclass(frozen=True, slots=True)
class SourceSite:
    """Where a workflow version's declarations are opened."""

    base_dir: Path
    """The workflow's folder (stdio servers start there, relative paths resolve from it)."""
    workflow_hash: str
    """The workflow version: tools are made once per version and reused by its runs."""


@dataclass(frozen=True, slots=True)
class SourceHost:
    """What a runtime lends its tool sources."""

    store: JournalStore
    """The journal (remote agents journal their tasks in the calling run's journal)."""
    registry: Registry | None = None
    """The agent registry to find remote agents in (default: the journal database's own)."""


class ToolSource(Protocol):
    """Tools that come from outside the process, for the workflows of one runtime."""

    async def open(self, declared: Sequence[Any], site: SourceSite) -> dict[str, Tool]:
        """The tools of ``declared`` (a workflow's declarations of this source's kind), by the
        name the workflow calls them; raises an ``AgentplaneError`` saying what is missing."""
        ...

    async def aclose(self) -> None:
        """Close the connections and handles the source opened."""
        ...


SOURCES: Mapping[str, str] = {
    "mcp_servers": "agentplane.tools.sources.mcp",
    "remote_agents": "agentplane.tools.sources.remote",
}
"""Which module serves each spec field; each has ``source(host: SourceHost) -> ToolSource``."""


class ToolSources:
    """A runtime's tool sources, made as its workflows first declare them."""

    def __init__(self, host: SourceHost, sources: Mapping[str, str] = SOURCES) -> None:
        self.host = host
        self.modules = dict(sources)
        self._open: dict[str, ToolSource] = {}

    def source(self, field: str) -> ToolSource:
        """The source serving a spec field (made, and its module imported, on first use)."""
        made = self._open.get(field)
        if made is None:
            made = importlib.import_module(self.modules[field]).source(self.host)
            self._open[field] = made
        return made

    def declared(self, spec: Any) -> dict[str, Sequence[Any]]:
        """The fields of a workflow spec that declare outside tools, with what they declare."""
        return {f: getattr(spec, f) for f in self.modules if getattr(spec, f, None)}

    async def open(self, spec: Any, site: SourceSite) -> dict[str, Tool]:
        """Every outside tool a workflow spec declares."""
        tools: dict[str, Tool] = {}
        for field, declared in self.declared(spec).items():
            tools.update(await self.source(field).open(declared, site))
        return tools

    async def aclose(self) -> None:
        for made in self._open.values():
            await made.aclose()
        self._open.clear()


__all__ = ["SOURCES", "SourceHost", "SourceSite", "ToolSource", "ToolSources"]
