"""The commands people call most load only what they use (start-up time; bench/startup.py
times them). What a command imports is the cause of its start-up time and, unlike the time,
the same on every machine, so these tests pin it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .harness import REFUND, STUCK, Cli, make_cli
from .isolated import modules_of, optional_loaded, packages, run_python

READ_COMMANDS_SKIP = ("agentplane.runtime", "agentplane.governance", "agentplane.models",
                      "agentplane.tools", "agentplane.metering", "agentplane.server",
                      "agentplane.telemetry", "agentplane.economics")
"""What a command that only reads the journal has no use for."""

HEAVY = {"rich", "pydantic", "sqlite3", "asyncio", "yaml", "jsonschema", "cryptography", "httpx",
         "platformdirs", "logging", "socket", "ssl", "orjson"}
"""Packages ``--help`` has no use for: printing the list of commands needs typer alone."""

HELP_LOADS = {"agentplane.cli", "agentplane.cli.app", "agentplane.cli._lazy_group",
              "agentplane.cli._typer", "agentplane.cli._exits", "agentplane.cli._inputs",
              "agentplane.cli.render", "agentplane.cli.settings",
              "agentplane.cli.economics", "agentplane.cli.serve", "agentplane.cli.evals"}
"""The CLI modules ``--help`` loads: the program's, and those of its top-level commands (the
help lists each by its docstring). No command group's module."""

GROUP_MODULES = {"agentplane.cli." + m for m in (
    "a2a", "compliance", "data", "db", "demo", "economics", "evals", "graph", "kb", "mcp",
    "mcp_login", "memory", "registry", "serve", "triggers", "usage")}
"""The modules of commands other than those of ``runs``, ``approvals`` and ``audit``."""


@pytest.fixture(scope="module")
def journal(tmp_path_factory: pytest.TempPathFactory) -> tuple[Cli, str]:
    """A journal with a completed run and one waiting for a person; the run id of the first."""
    cli = make_cli(tmp_path_factory.mktemp("startup"))
    done = json.loads(cli.ok("run", REFUND, "--input", '"Refund A1"', "--json").stdout)
    cli.ok("run", STUCK, "--input", '"Go ahead."', "--json")
    return cli, str(done["id"])


def _loaded(modules: set[str], prefixes: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if m.startswith(prefixes))


def test_help_loads_no_journal_runtime_rich_or_pydantic(tmp_path: Path) -> None:
    modules = modules_of(make_cli(tmp_path), "--help")
    ours = _loaded(modules, ("agentplane.",))
    assert all(m.startswith(("agentplane.cli", "agentplane.errors", "agentplane._extras",
                             "agentplane._lazy"))
               for m in ours), ours
    assert not packages(modules) & HEAVY, sorted(packages(modules))
    assert not optional_loaded(modules)
    assert {m for m in ours if m.startswith("agentplane.cli")} == HELP_LOADS


def test_a_read_command_loads_no_other_command_group(journal: tuple[Cli, str]) -> None:
    cli, run_id = journal
    for command in (["runs", "list"], ["runs", "show", run_id], ["approvals", "list"]):
        modules = modules_of(cli, *command)
        assert not modules & GROUP_MODULES, sorted(modules & GROUP_MODULES)
        assert "platformdirs" not in packages(modules)  # AGENTPLANE_HOME is set


@pytest.mark.parametrize("command", [["runs", "list"], ["runs", "show", "RUN"],
                                     ["audit", "verify"], ["approvals", "list"]])
def test_read_commands_load_the_journal_only(journal: tuple[Cli, str],
                                             command: list[str]) -> None:
    cli, run_id = journal
    modules = modules_of(cli, *[run_id if a == "RUN" else a for a in command])
    assert "agentplane.journal" in modules
    assert not _loaded(modules, READ_COMMANDS_SKIP)
    assert optional_loaded(modules) == []


def test_runs_list_as_json_needs_no_rich(journal: tuple[Cli, str]) -> None:
    cli, _ = journal
    assert "rich" not in packages(modules_of(cli, "runs", "list", "--json"))


def test_approvals_list_loads_no_optional_package(journal: tuple[Cli, str]) -> None:
    cli, _ = journal
    modules = modules_of(cli, "approvals", "list")
    assert not _loaded(modules, ("agentplane.server", "agentplane.telemetry"))
    assert optional_loaded(modules) == []


@pytest.mark.parametrize("command", [
    ["runs", "list", "--limit", "3", "--status", "completed", "--status", "waiting",
     "--workflow", "refund"],
    ["runs", "show", "RUN", "--json"],
    ["approvals", "list"],
])
def test_read_commands_convert_their_options_without_pydantic(journal: tuple[Cli, str],
                                                              command: list[str]) -> None:
    cli, run_id = journal
    modules = modules_of(cli, *[run_id if a == "RUN" else a for a in command])
    assert "agentplane.journal" in modules
    assert "pydantic" not in packages(modules)


def test_importing_the_cli_leaves_the_collector_as_it_was(tmp_path: Path) -> None:
    cli = make_cli(tmp_path)
    program = ("import gc\nstates, runs, importing = [], [], [False]\n"
               "gc.callbacks.append(lambda phase, info: runs.append(importing[0]))\n"
               "for enabled in (True, False):\n"
               "    gc.enable() if enabled else gc.disable()\n"
               "    sys.modules.pop('agentplane.cli', None)\n"
               "    importing[0] = True\n"
               "    import agentplane.cli\n"
               "    importing[0] = False\n"
               "    states.append(gc.isenabled())\n"
               "print(json.dumps([states, runs.count(True), gc.get_freeze_count()]))\n")
    result = run_python(cli, program)
    assert result.returncode == 0, result.stderr
    states, collections, frozen = json.loads(result.stdout)
    assert states == [True, False]
    # at most the one collection as the collector comes back (dozens without the pause)
    assert collections <= 2  # its callback runs at its start and at its stop
    assert frozen == 0  # importing the CLI freezes nothing


def test_a_command_line_freezes_what_start_up_made(tmp_path: Path) -> None:
    cli = make_cli(tmp_path)
    program = ("import gc\n"
               "atexit.register(lambda: print(gc.isenabled(), gc.get_freeze_count() > 10000))\n"
               "sys.argv = ['agentplane', '--help']\n"
               "from agentplane.cli import main\nmain()\n")
    result = run_python(cli, program)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "True True"
