"""Optional parts: a missing extra is named ("install agentplane[mcp]"), and the core works
without any of them (each test hides installed packages from a fresh interpreter)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import httpx
import pytest

from agentplane._extras import (
    EXTRAS,
    PACKAGES,
    MissingExtraError,
    installed,
    missing_extra,
    require,
)
from tests.cli.harness import REFUND, Cli, make_cli
from tests.cli.isolated import OPTIONAL, run_isolated, run_python, start_isolated
from tests.server.live import free_port


def test_require_returns_the_module() -> None:
    assert require("json", extra="mcp") is json


def test_require_names_the_extra_to_install() -> None:
    with pytest.raises(MissingExtraError) as caught:
        require("agentplane_no_such_package", extra="mcp", feature="`agentplane mcp serve`")
    message = str(caught.value)
    assert message.startswith("`agentplane mcp serve` needs the optional package "
                              "'agentplane_no_such_package'")
    assert "install agentplane[mcp]" in message
    assert caught.value.exit_code == 2


def test_require_refuses_an_unknown_extra() -> None:
    with pytest.raises(ValueError, match="unknown extra 'mpc'"):
        require("json", extra="mpc")


def test_a_broken_installed_package_is_not_called_missing(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    """An import that fails inside an installed package is a bug to show as it is, not a
    missing extra."""
    (tmp_path / "halfbroken.py").write_text("import agentplane_no_such_dependency\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ModuleNotFoundError) as caught:
        require("halfbroken", extra="mcp")
    assert not isinstance(caught.value, MissingExtraError)
    assert caught.value.name == "agentplane_no_such_dependency"
    monkeypatch.delitem(sys.modules, "halfbroken", raising=False)


def test_an_unguarded_missing_package_names_its_extra() -> None:
    missing = missing_extra(ModuleNotFoundError("No module named 'a2a'", name="a2a.client"))
    assert missing is not None
    assert "install agentplane[a2a]" in str(missing)
    assert missing_extra(ModuleNotFoundError("nope", name="pandas")) is None
    assert missing_extra(KeyError("a2a")) is None
    assert set(PACKAGES.values()) <= set(EXTRAS)


def test_installed_looks_without_importing() -> None:
    assert installed("json")
    assert not installed("agentplane_no_such_package")


def test_every_extra_is_in_pyproject() -> None:
    import tomllib

    project = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    extras = project["project"]["optional-dependencies"]
    assert set(EXTRAS) <= set(extras)
    assert extras["all"] == [f"agentplane[{','.join(EXTRAS)}]"]


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return make_cli(tmp_path)


@pytest.mark.parametrize(("args", "extra", "hidden"), [
    (["mcp", "serve", REFUND], "mcp", ["mcp"]),
    (["a2a", "serve", REFUND], "a2a", ["a2a"]),
    (["serve"], "server", ["fastapi"]),
    (["demo"], "server", ["fastapi", "uvicorn"]),
])
def test_a_missing_extra_is_named(cli: Cli, args: list[str], extra: str,
                                  hidden: list[str]) -> None:
    result = run_isolated(cli, *args, block=hidden)
    assert result.returncode == 2, result.stderr
    assert f"install agentplane[{extra}]" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""  # refused before anything ran


def test_tracing_without_the_otel_extra_is_named(cli: Cli) -> None:
    """A collector named in the environment with OpenTelemetry missing: the server says so."""
    result = run_python(cli, "from agentplane.telemetry import exporter_from_env\n"
                             "exporter_from_env()\n", block=["opentelemetry"],
                        env={"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"})
    assert result.returncode == 1
    assert "MissingExtraError" in result.stderr
    assert "install agentplane[otel]" in result.stderr


def test_no_collector_needs_no_otel_extra(cli: Cli) -> None:
    result = run_python(cli, "import asyncio\nfrom agentplane.telemetry import start_tracing\n"
                             "assert asyncio.run(start_tracing(None)) is None\n",
                        block=["opentelemetry"])
    assert result.returncode == 0, result.stderr


def test_the_core_works_with_no_extra_installed(cli: Cli) -> None:
    """Run a workflow, list and show it, list approvals, verify the chain and run the demo
    (without its console) with every optional package hidden."""
    ran = run_isolated(cli, "run", REFUND, "--input", '"Refund A1"', "--json", block=OPTIONAL)
    assert ran.returncode == 0, ran.stderr
    run = json.loads(ran.stdout)
    assert run["status"] == "completed"
    for args in (["--help"], ["runs", "list"], ["runs", "show", run["id"]],
                 ["approvals", "list"], ["audit", "verify"], ["usage", "report"]):
        result = run_isolated(cli, *args, block=OPTIONAL)
        assert result.returncode == 0, (args, result.stderr)
    listed = run_isolated(cli, "runs", "list", "--json", block=OPTIONAL)
    assert [r["id"] for r in json.loads(listed.stdout)] == [run["id"]]
    demo = run_isolated(cli, "demo", "--no-serve", block=OPTIONAL)
    assert demo.returncode == 0, demo.stderr
    assert "audit chain holds" in demo.stdout


def test_serve_without_the_protocol_extras_serves_the_api_and_says_so(cli: Cli) -> None:
    """[server] alone: the API and console are served; A2A and MCP are not, and the server says
    which extras add them."""
    port = free_port()
    server = start_isolated(cli, "serve", "--port", str(port), "--log-format", "text",
                            block=["mcp", "a2a"])
    try:
        assert server.stderr is not None
        lines = []
        for line in server.stderr:
            lines.append(line)
            if line.startswith("Agentplane at "):
                break
        said = "".join(lines)
        assert "A2A and MCP are not served on this port: install agentplane[a2a,mcp]" in said, \
            said
        health = httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=10)
        assert health.status_code == 200
        assert health.json()["status"] == "ok"
        assert httpx.get(f"http://127.0.0.1:{port}/mcp", timeout=10).status_code == 404
    finally:
        server.terminate()
        server.communicate(timeout=30)
