"""The program makes its commands only when a command line uses them (cli/_lazy_group.py), and
says exactly what typer says of the same commands made all at once: every ``--help`` page,
the program's list of commands, and the usage errors that name or suggest a command."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
import typer.main
from typer.testing import CliRunner

from agentplane.cli import app
from agentplane.cli._lazy_group import LazyGroup
from agentplane.cli.app import Program

from .harness import REPO, make_cli
from .isolated import run_isolated, run_python

WIDTH = {"COLUMNS": "120"}
ERRORS = [[], ["nosuch"], ["runs", "lst"], ["runs"], ["kb", "graph"], ["runs", "show"],
          ["--bogus"], ["audit", "verfy"], ["runs", "list", "--limit", "x"]]
"""Command lines that print help or a usage error (with typer's suggestions)."""


def _made_at_once() -> typer.Typer:
    """The same program registered with typer itself, which makes every command up front."""
    eager = typer.Typer(help=app.info.help, name="agentplane", no_args_is_help=True,
                        rich_markup_mode=None, add_completion=False,
                        pretty_exceptions_enable=False)
    for entry in Program.entries:
        assert entry.load is not None
        if entry.help is None:
            eager.command(entry.name)(entry.load())
        else:
            eager.add_typer(entry.load(), name=entry.name, help=entry.help)
    return eager


def _paths(command: object, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [prefix]
    for name, sub in getattr(command, "commands", {}).items():
        found += _paths(sub, (*prefix, name))
    return found


EAGER = _made_at_once()
PATHS = _paths(typer.main.get_command(EAGER))


def _says(program: typer.Typer, args: list[str]) -> tuple[int, str]:
    result = CliRunner().invoke(program, args, prog_name="agentplane", env=WIDTH)
    return result.exit_code, result.output


def test_every_command_is_listed_in_order() -> None:
    assert len(PATHS) > 80
    lazy = typer.main.get_command(app)
    assert isinstance(lazy, Program)
    assert list(lazy.commands) == [e.name for e in Program.entries]
    assert _paths(lazy) == PATHS


@pytest.mark.parametrize("path", PATHS, ids=lambda p: " ".join(p) or "agentplane")
def test_help_is_what_typer_prints_for_the_commands_made_at_once(path: tuple[str, ...]
                                                                  ) -> None:
    assert _says(app, [*path, "--help"]) == _says(EAGER, [*path, "--help"])


@pytest.mark.parametrize("args", ERRORS, ids=lambda a: " ".join(a) or "no arguments")
def test_usage_errors_are_typers(args: list[str]) -> None:
    said = _says(app, args)
    assert said == _says(EAGER, args)
    assert said[0] == 2


def test_help_lists_commands_without_making_them() -> None:
    lazy = typer.main.get_command(app)
    assert isinstance(lazy, Program)
    with typer.Context(lazy, info_name="agentplane") as ctx:
        text = lazy.get_help(ctx)
    assert "kb          The knowledge base" in text
    assert lazy.made() == []
    runs = lazy.commands["runs"]
    assert lazy.commands["runs"] is runs  # made once, on first use
    assert lazy.made() == ["runs"]
    assert isinstance(runs, LazyGroup)  # and so are its own commands
    assert runs.made() == []
    assert runs.commands["list"].name == "list"
    assert runs.made() == ["list"]


def test_a_fresh_process_prints_the_same_help(tmp_path: Path) -> None:
    cli = make_cli(tmp_path)
    eager = (f"sys.path.insert(0, {str(REPO)!r})\n"
             "from tests.cli.test_help_pages import _made_at_once\n"
             "sys.argv = ['agentplane', *sys.argv[1:]]\n_made_at_once()()\n")
    for args in (["--help"], ["audit", "--help"], ["runs", "list", "--help"], ["runs", "lst"]):
        lazy, made = run_isolated(cli, *args), run_python(cli, eager, *args)
        assert (lazy.returncode, lazy.stdout, lazy.stderr) == \
            (made.returncode, made.stdout, made.stderr), args
