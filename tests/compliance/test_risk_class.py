"""EU AI Act risk classes in a workflow spec: a high-risk workflow keeps a person in or on the
loop everywhere and declares how long its logs are kept."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from agentplane.runtime import load_workflow
from agentplane.runtime.workflow import SpecError


def _spec(**changes: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "name": "payables", "compliance": {"risk_class": "high", "retention_days": 3650,
                                           "purpose": "Pre-screens supplier invoices."},
        "tools": [{"name": "pay", "python": "tools:pay", "effect": "write"}],
        "agents": [{"name": "clerk", "model": "scripted:gpt-4.1-mini", "tools": ["pay"],
                    "script": [{"content": "ok"}]}],
        "steps": [{"agent": "clerk"}]}
    for dotted, value in changes.items():
        *path, last = dotted.split("__")
        at: Any = spec
        for part in path:
            at = at[int(part)] if part.isdigit() else at[part]
        if value is None:
            del at[last]
        else:
            at[last] = value
    return spec


def _load(tmp_path: Path, spec: dict[str, Any]) -> Any:
    (tmp_path / "tools.py").write_text("def pay(amount: int) -> int:\n    return amount\n")
    path = tmp_path / "flow.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return load_workflow(path)


def test_a_well_formed_high_risk_workflow_loads(tmp_path: Path) -> None:
    flow = _load(tmp_path, _spec())
    assert flow.spec.compliance.risk_class == "high"


@pytest.mark.parametrize(("change", "where", "says"), [
    ({"compliance__retention_days": None}, "compliance.retention_days",
     "must declare retention_days"),
    ({"compliance__retention_days": 30}, "compliance.retention_days", "at least 183 days"),
    ({"autonomy": "out_of_the_loop"}, "autonomy", "may not run out_of_the_loop"),
    ({"agents__0__autonomy": "out_of_the_loop"}, "agents[0].autonomy",
     "may not run out_of_the_loop"),
    ({"tools__0__autonomy": "out_of_the_loop"}, "tools[0].autonomy",
     "may not run out_of_the_loop"),
])
def test_a_high_risk_workflow_is_refused(tmp_path: Path, change: dict[str, Any], where: str,
                                         says: str) -> None:
    with pytest.raises(SpecError) as caught:
        _load(tmp_path, _spec(**change))
    message = str(caught.value)
    assert where in message and says in message
    assert "flow.yaml:" in message  # file and line


def test_lower_risk_classes_may_run_out_of_the_loop(tmp_path: Path) -> None:
    flow = _load(tmp_path, _spec(compliance={"risk_class": "limited"},
                                 autonomy="out_of_the_loop"))
    assert flow.spec.compliance.retention_days is None
