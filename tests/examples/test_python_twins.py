"""Every YAML workflow in examples/ has a Python twin next to it: the twin runs, and its
workflow's pinned hash is the YAML's (they are the same workflow)."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from agentplane.api import Workflow
from agentplane.runtime import load_workflow

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TWINS = {"refund-desk/workflow.yaml": "refund-desk/refund_desk.py"}
"""YAML workflow → its Python twin."""


def _workflow_files() -> set[str]:
    found = set()
    for path in EXAMPLES.rglob("*.yaml"):
        if "steps:" in path.read_text() and "agents:" in path.read_text():
            found.add(path.relative_to(EXAMPLES).as_posix())
    return found


def test_every_yaml_workflow_has_a_twin() -> None:
    assert _workflow_files() == set(TWINS)
    assert all((EXAMPLES / twin).is_file() for twin in TWINS.values())


def _import(twin: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """Import the twin as its folder's script would: the folder first on the path."""
    monkeypatch.syspath_prepend(str(twin.parent))
    for name in ("tools", twin.stem):  # the examples' modules, fresh for each twin
        monkeypatch.delitem(sys.modules, name, raising=False)
    return importlib.import_module(twin.stem)


@pytest.mark.parametrize(("yaml_file", "twin"), sorted(TWINS.items()))
def test_twin_has_the_yaml_hash(yaml_file: str, twin: str,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    module = _import(EXAMPLES / twin, monkeypatch)
    flow = module.flow
    assert isinstance(flow, Workflow)
    yaml_workflow = load_workflow(EXAMPLES / yaml_file)
    assert flow.spec == yaml_workflow.spec
    assert flow.hash == yaml_workflow.hash == flow.resolve().hash
    assert flow.base_dir == (EXAMPLES / yaml_file).parent


@pytest.mark.parametrize("twin", sorted(TWINS.values()))
def test_twin_runs_as_a_script(twin: str, tmp_path: Path) -> None:
    env = {**os.environ, "AGENTPLANE_HOME": str(tmp_path),
           "REFUND_LEDGER": str(tmp_path / "ledger.jsonl")}
    env.pop("AGENTPLANE_DB", None)
    done = subprocess.run([sys.executable, str(EXAMPLES / twin)], capture_output=True,
                          text=True, cwd=tmp_path, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "completed: Refunded 20 on order A1."
    assert (tmp_path / "agentplane.db").is_file()
    assert (tmp_path / "ledger.jsonl").read_text().count("\n") == 1
