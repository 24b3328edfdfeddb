"""``agentplane memory``: review, quarantine and delete what agents remember."""

from __future__ import annotations

from ._typer import group

memory_app = group("What agents remember: list, show, quarantine, delete, forget a subject.")
