"""Command groups as the CLI makes them.

Help is printed plain (click's formatter), not through rich: rendering help with rich loads
rich, markdown-it and pygments, which would double what ``agentplane --help`` costs a person
(docs/install.md, "Start-up").
"""

from __future__ import annotations

import typer

PLAIN_HELP = None
"""typer's ``rich_markup_mode`` for every group and command: plain help."""


def group(help: str, *, name: str | None = None, top: bool = False) -> typer.Typer:
    """A group of commands that prints its help when called without one; ``top`` for the
    program itself (no shell-completion commands, errors printed by ``_exits.run_main``)."""
    return typer.Typer(help=help, name=name, no_args_is_help=True, rich_markup_mode=PLAIN_HELP,
                       add_completion=not top, pretty_exceptions_enable=not top)
