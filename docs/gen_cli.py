"""Build-time generator of the CLI reference (run by mkdocs-gen-files, see mkdocs.yml).

Typer's own Markdown generator (the one behind `typer MODULE utils docs`) walks the `agentplane`
app, so the page says exactly what `agentplane COMMAND --help` says: usage, help text, arguments
and options with their defaults. Nothing on it is written by hand.
"""

from __future__ import annotations

import typer
import typer.main
from typer.cli import get_docs_for_click

PAGE = "reference/cli-commands.md"
INTRO = """
Generated from the `agentplane` command itself each time the site is built, so it cannot drift
from `agentplane COMMAND --help`. Exit codes, errors and the environment variables are in
[The command line](cli.md).
"""


def render() -> str:
    """The whole CLI reference as Markdown, one section per command."""
    from agentplane.cli import app

    command = typer.main.get_command(app)
    ctx = typer.Context(command, info_name="agentplane")
    body = get_docs_for_click(obj=command, ctx=ctx, name="agentplane", title="CLI reference")
    title, _, rest = body.partition("\n")
    return f"{title}\n{INTRO}\n{rest.strip()}\n"


def main() -> None:
    import mkdocs_gen_files

    with mkdocs_gen_files.open(PAGE, "w") as page:
        page.write(render())


main()
