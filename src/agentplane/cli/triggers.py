"""``agentplane triggers``: what starts runs by itself — schedules, webhooks, mailboxes."""

from __future__ import annotations

import typer

from ._typer import group

triggers_app = group("Schedules, webhooks and mailboxes that start runs: list, enable, "
                     "disable, fire.")


def register(app: typer.Typer) -> None:
    """Add the trigger commands to the program."""
    app.add_typer(triggers_app, name="triggers")
