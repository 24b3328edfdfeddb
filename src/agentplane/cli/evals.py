"""``agentplane eval`` and ``agentplane simulate``: score a workflow on a dataset, and stress it
with perturbed tools and models before it goes live."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add ``eval`` and ``simulate`` to the program."""
