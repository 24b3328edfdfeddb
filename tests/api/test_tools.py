"""``@tool``: what it records, and the functions it refuses because no other process could
import them."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from agentplane import Agent, ToolDefinitionError, Workflow, tool
from agentplane.api.tools import declaration_of
from agentplane.runtime.spec import ToolSpec

from . import desk

ROOT = Path(__file__).resolve().parents[2]


def test_declaration_records_module_function_and_settings() -> None:
    declaration = declaration_of(desk.issue_refund)
    assert declaration.python == "tests.api.desk:issue_refund"
    assert declaration.folder == ROOT
    assert declaration.spec() == ToolSpec(name="issue_refund", python=declaration.python,
                                           effect="write", idempotent=True,
                                           compensate="cancel_refund")
    assert desk.issue_refund.__name__ == "issue_refund"  # the function itself, still callable


def test_argument_schema_from_type_hints_and_docstring() -> None:
    lookup = desk.flow.resolve().tools["lookup_order"]
    assert lookup.description == "Look an order up by its id."
    assert lookup.parameters == {
        "type": "object", "additionalProperties": False, "required": ["order_id"],
        "properties": {"order_id": {"type": "string", "title": "Order Id",
                                    "description": "The order's id, e.g. A1"}}}
    refund = desk.flow.resolve().tools["issue_refund"]
    assert set(refund.parameters["properties"]) == {"order_id", "amount"}  # not context
    assert refund.parameters["properties"]["amount"]["type"] == "number"


def test_compensation_named_by_string_joins_the_workflow() -> None:
    assert [t.name for t in desk.flow.spec.tools] == ["lookup_order", "issue_refund",
                                                      "cancel_refund"]


def test_a_lambda_is_refused() -> None:
    with pytest.raises(ToolDefinitionError, match=r"a lambda in .* cannot be a tool"):
        tool(lambda order_id: order_id)


def test_a_closure_is_refused() -> None:
    def inner(order_id: str) -> str:
        return order_id

    with pytest.raises(ToolDefinitionError,
                       match=r"test_a_closure_is_refused.<locals>.inner cannot be a tool: it "
                             r"is defined inside a function"):
        tool(effect="read")(inner)


def test_a_method_is_refused() -> None:
    class Desk:
        def refund(self, order_id: str) -> str:
            return order_id

    with pytest.raises(ToolDefinitionError, match="defined inside a"):
        tool(Desk.refund)


def test_bad_settings_are_refused_when_declared() -> None:
    with pytest.raises(ToolDefinitionError, match=r"lookup_order: effect: Input should be 'read'"):
        tool(desk.lookup_order, effect="sometimes")


def test_declaring_one_function_twice_differently_is_refused() -> None:
    assert tool(desk.lookup_order, effect="read") is desk.lookup_order  # same settings: fine
    with pytest.raises(ToolDefinitionError, match="already declared as tool lookup_order"):
        tool(desk.lookup_order, effect="write")


def test_a_replaced_function_is_refused_when_an_agent_uses_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    original = desk.cancel_refund

    def replacement(refund_id: str) -> dict[str, Any]:
        return {}

    monkeypatch.setattr(desk, "cancel_refund", replacement)
    with pytest.raises(ToolDefinitionError, match="does not name this function"):
        Agent("a", tools=[original], script=["x"])


def test_main_without_a_file_is_refused() -> None:
    code = textwrap.dedent("""\
        from agentplane import tool
        def f(x: int) -> int:
            return x
        try:
            tool(f)
        except Exception as exc:
            print(type(exc).__name__, exc)
        """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT).stdout
    assert out.startswith("ToolDefinitionError __main__.f cannot be a tool: its module has no "
                          "file")


def test_the_run_uses_the_functions_declared_not_second_copies(tmp_path: Path) -> None:
    desk.LOOKED_UP.clear()
    assert desk.flow.run_sync("Refund order A1", db=tmp_path / "r.db").status == "completed"
    assert desk.LOOKED_UP == ["A1"]


def test_tools_from_two_folders_need_a_base_dir() -> None:
    import posixpath

    join = tool(posixpath.join, effect="read")
    agent = Agent("a", tools=[desk.lookup_order, join], script=["x"])
    with pytest.raises(ToolDefinitionError, match="modules in different folders"):
        Workflow("w", steps=[agent])
    assert Workflow("w", steps=[agent], base_dir=ROOT).base_dir == ROOT


def test_a_module_run_with_dash_m_is_recorded_by_its_name(tmp_path: Path) -> None:
    package = tmp_path / "shop"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "desk.py").write_text(textwrap.dedent("""\
        from agentplane import tool
        from agentplane.api.tools import declaration_of

        @tool(effect="read")
        def look(order_id: str) -> str:
            return order_id

        if __name__ == "__main__":
            d = declaration_of(look)
            print(d.python, d.folder)
        """))
    out = subprocess.run([sys.executable, "-m", "shop.desk"], capture_output=True, text=True,
                         check=True, cwd=tmp_path).stdout.split()
    assert out == ["shop.desk:look", str(tmp_path.resolve())]
