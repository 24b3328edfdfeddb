"""Compliance commands: ``compliance report``, ``provenance verify``, ``data erase``, and the
receipts under ``audit`` (``audit receipt``, ``audit verify-receipt``)."""

from __future__ import annotations

import typer


def register(app: typer.Typer, audit_app: typer.Typer) -> None:
    """Add the compliance commands to the program and to its ``audit`` group."""
