"""``agentplane kb``: the knowledge base of a tenant — add, list, search, remove documents."""

from __future__ import annotations

from ._typer import group
from .graph import graph_app

kb_app = group("The knowledge base: add, list, search and remove documents; the graph.")
kb_app.add_typer(graph_app, name="graph")
