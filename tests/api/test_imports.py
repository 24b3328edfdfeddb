"""The top-level package stays light: names load when first used, and declaring a workflow
does not load the engine's protocol clients (a2a-sdk, MCP, OpenTelemetry)."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("a2a", "mcp", "opentelemetry", "starlette", "agentplane.runtime.runner")


def _modules(code: str) -> set[str]:
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True)
    return set(json.loads(done.stdout))


def _loaded(modules: set[str], root: str) -> bool:
    return any(m == root or m.startswith(root + ".") for m in modules)


def test_import_agentplane_loads_none_of_it() -> None:
    modules = _modules("import agentplane")
    assert not _loaded(modules, "agentplane.api")
    assert not _loaded(modules, "pydantic")
    assert not _loaded(modules, "docstring_parser")


def test_declaring_a_workflow_loads_no_engine_and_no_protocol() -> None:
    modules = _modules("from agentplane import Agent, Workflow, tool, Runtime")
    assert _loaded(modules, "agentplane.api")
    assert [root for root in HEAVY if _loaded(modules, root)] == []
    assert not _loaded(modules, "docstring_parser")  # read when a tool's schema is built


def test_the_engine_loads_with_the_first_runtime() -> None:
    modules = _modules("import agentplane\nagentplane.Runtime(':memory:')")
    assert _loaded(modules, "agentplane.runtime.runner")
