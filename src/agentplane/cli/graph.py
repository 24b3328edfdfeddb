"""``agentplane kb graph``: the knowledge graph — ontology checks, entities, facts, paths."""

from __future__ import annotations

from ._typer import group

graph_app = group("The knowledge graph: check an ontology, load records, query entities.")
