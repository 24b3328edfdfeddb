"""``@tool``: what it records, the schema its docstring and type hints give the model, and the
functions it refuses because no other process could import them."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from agentplane import Agent, DefinitionError, Workflow, tool
from agentplane.api.tools import declaration_of
from agentplane.runtime.spec import ToolSpec
from agentplane.testing import FunctionModel, ModelCall
from agentplane.tools import Tool

from . import desk, documented

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
    with pytest.raises(DefinitionError, match=r"a lambda in .* cannot be a tool"):
        tool(lambda order_id: order_id)


def test_a_closure_is_refused() -> None:
    def inner(order_id: str) -> str:
        return order_id

    with pytest.raises(DefinitionError,
                       match=r"test_a_closure_is_refused.<locals>.inner cannot be a tool: it "
                             r"is defined inside a function"):
        tool(effect="read")(inner)


def test_a_method_is_refused() -> None:
    class Desk:
        def refund(self, order_id: str) -> str:
            return order_id

    with pytest.raises(DefinitionError, match="defined inside a"):
        tool(Desk.refund)


def test_bad_settings_are_refused_when_declared() -> None:
    with pytest.raises(DefinitionError, match=r"lookup_order: effect: Input should be 'read'"):
        tool(desk.lookup_order, effect="sometimes")


def test_declaring_one_function_twice_differently_is_refused() -> None:
    assert tool(desk.lookup_order, effect="read") is desk.lookup_order  # same settings: fine
    with pytest.raises(DefinitionError, match="already declared as tool lookup_order"):
        tool(desk.lookup_order, effect="write")


def test_a_replaced_function_is_refused_when_an_agent_uses_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    original = desk.cancel_refund

    def replacement(refund_id: str) -> dict[str, Any]:
        return {}

    monkeypatch.setattr(desk, "cancel_refund", replacement)
    with pytest.raises(DefinitionError, match="does not name this function"):
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
    assert out.startswith("DefinitionError __main__.f cannot be a tool: its module has no "
                          "file")


def test_the_run_uses_the_functions_declared_not_second_copies(tmp_path: Path) -> None:
    desk.LOOKED_UP.clear()
    assert desk.flow.run_sync("Refund order A1", db=tmp_path / "r.db").status == "completed"
    assert desk.LOOKED_UP == ["A1"]


def test_tools_from_two_folders_need_a_base_dir() -> None:
    import posixpath

    join = tool(posixpath.join, effect="read")
    agent = Agent("a", tools=[desk.lookup_order, join], script=["x"])
    with pytest.raises(DefinitionError, match="modules in different folders"):
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


# -- descriptions from docstrings ------------------------------------------------------------------


def _tools(*functions: Any) -> dict[str, Tool]:
    return Workflow("w", steps=[Agent("a", tools=list(functions), script=["x"])]).resolve().tools


def _descriptions(schema: dict[str, Any]) -> dict[str, str | None]:
    return {name: field.get("description") for name, field in schema["properties"].items()}


def test_google_docstring_describes_the_tool_and_its_parameters() -> None:
    found = _tools(documented.find_google)["find_google"]
    assert found.description == "Find a customer's latest orders,\nnewest first."
    assert _descriptions(found.parameters) == {
        "customer": "The customer's e-mail\naddress.", "limit": "How many orders at most."}
    assert found.parameters["required"] == ["customer"]  # context stays out of the schema


def test_numpy_docstring_describes_each_parameter_even_listed_together() -> None:
    found = _tools(documented.find_numpy)["find_numpy"]
    assert found.description == "Find a customer's latest orders."
    assert _descriptions(found.parameters) == {"customer": "The customer's e-mail address.",
                                               "low": "Bounds of the order numbers.",
                                               "high": "Bounds of the order numbers."}


def test_sphinx_docstring_describes_the_parameters() -> None:
    found = _tools(documented.find_sphinx)["find_sphinx"]
    assert found.description == "Find a customer's latest orders."
    assert _descriptions(found.parameters) == {"customer": "The customer's e-mail address.",
                                               "limit": "How many orders at most."}


def test_field_descriptions_and_declared_description_win_over_the_docstring() -> None:
    found = _tools(documented.find_annotated)["find_annotated"]
    assert found.description == "Find orders (the declared description)."
    properties = found.parameters["properties"]
    assert _descriptions(found.parameters) == {
        "customer": "Set with Field: this one wins.",
        "limit": "From the docstring, kept next to the bounds.",
        "since": "A Field default: this one wins too."}
    assert (properties["limit"]["minimum"], properties["limit"]["maximum"]) == (1, 50)
    assert properties["since"]["default"] == "2026-01-01"


def test_a_stale_docstring_is_read_for_what_it_gets_right() -> None:
    found = _tools(documented.find_stale)["find_stale"]
    assert found.description == "Find a customer's latest orders."  # not the Args: section
    # order_no, which the function has not, is ignored; limit, described by nothing, has none
    assert _descriptions(found.parameters) == {"customer": "The customer's e-mail address.",
                                               "limit": None}
    assert set(found.parameters["properties"]) == {"customer", "limit"}


def test_a_docstring_the_parser_cannot_read_still_gives_its_first_paragraph() -> None:
    from docstring_parser import parse

    with pytest.raises(IndexError):  # the parser itself fails on it
        parse(documented.find_odd.__doc__)
    tools = _tools(documented.find_odd, documented.find_bare)
    assert tools["find_odd"].description == "Find a customer's latest orders."
    assert _descriptions(tools["find_odd"].parameters) == {"customer": None}
    assert tools["find_bare"].description == "find_bare"  # no docstring: the name


def test_the_model_is_shown_the_docstring_descriptions(tmp_path: Path) -> None:
    seen: list[dict[str, Any]] = []

    def model(call: ModelCall) -> str:
        seen.extend({"name": t.name, "description": t.description,
                     "parameters": t.parameters} for t in call.request.tools)
        return "done"

    flow = Workflow("w", steps=[Agent("a", tools=[documented.find_sphinx], model="openai:gpt-x")])
    result = flow.run_sync("Find my orders", db=tmp_path / "r.db", model=FunctionModel(model))
    assert result.status == "completed"
    assert [(t["name"], t["description"], _descriptions(t["parameters"])) for t in seen] == [
        ("find_sphinx", "Find a customer's latest orders.",
         {"customer": "The customer's e-mail address.", "limit": "How many orders at most."})]


def test_a_yaml_tool_is_described_by_its_docstring(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "path", list(sys.path))
    (tmp_path / "shop_tools.py").write_text(textwrap.dedent('''\
        def refund(order_id: str, amount: float) -> str:
            """Refund part of an order.

            Parameters
            ----------
            order_id : str
                The order's id, e.g. A1.
            amount : float
                How much to refund, in USD.
            """
            return order_id
        '''))
    (tmp_path / "workflow.yaml").write_text(textwrap.dedent("""\
        name: yaml-desk
        tools:
          - {name: refund, python: "shop_tools:refund"}
        agents:
          - {name: clerk, tools: [refund], script: [{content: ok}]}
        steps:
          - agent: clerk
        """))
    refund = Workflow.load(tmp_path / "workflow.yaml").resolve().tools["refund"]
    assert refund.description == "Refund part of an order."
    assert _descriptions(refund.parameters) == {"order_id": "The order's id, e.g. A1.",
                                                "amount": "How much to refund, in USD."}
