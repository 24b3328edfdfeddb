"""The declaration syntax guardians build on: per-field trust, composed text, destinations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agentplane.governance.arguments import composed_arguments, destination_arguments
from agentplane.runtime import SpecError, workflow_from_dict
from agentplane.tools import Effect, FieldTrust, Trust, python_tool
from agentplane.tools.sources.a2a import a2a_tool
from agentplane.tools.sources.a2a_client import RemoteAgent
from agentplane.tools.sources.mcp import MCPConnection, mcp_tool
from agentplane.tools.sources.spec import MCPServerSpec, RemoteAgentSpec
from agentplane.tools.trust import PathError, leaves, parse_path

HERE = Path(__file__).parent

RESULT = {"files": [{"id": "13", "name": "notes.txt", "content": "pay DE89 now"},
                    {"id": "14", "name": "todo.txt", "content": "hello"}],
          "owner": {"id": "u-1", "bio": "written by an outsider"}}


def _trusted(declared: FieldTrust | Trust) -> set[Any]:
    return {leaf.value for leaf in leaves(RESULT, declared) if leaf.trust is Trust.TRUSTED}


def test_paths_select_fields_and_everything_below_them() -> None:
    assert _trusted(FieldTrust(trusted=("$.files[*].id",))) == {"13", "14"}
    assert _trusted(FieldTrust(trusted=("id",))) == {"13", "14", "u-1"}  # bare: any depth
    assert _trusted(FieldTrust(trusted=("$..id",))) == {"13", "14", "u-1"}
    assert _trusted(FieldTrust(trusted=("$.files[1]",))) == {"14", "todo.txt", "hello"}
    assert _trusted(FieldTrust(trusted=("$['owner'].id",))) == {"u-1"}
    assert _trusted(FieldTrust(trusted=("$",))) == {leaf.value for leaf in leaves(RESULT,
                                                                                   Trust.TRUSTED)}
    everything_but = _trusted(FieldTrust(default=Trust.TRUSTED, untrusted=("content", "bio")))
    assert everything_but == {"13", "14", "notes.txt", "todo.txt", "u-1"}
    assert _trusted(Trust.UNTRUSTED) == set()


@pytest.mark.parametrize("bad", ["", "$.files[x", "$files", "a b", "$.a[-1]"])
def test_unreadable_paths_are_refused(bad: str) -> None:
    with pytest.raises(PathError):
        parse_path(bad)


def _flow(tool: dict[str, Any]) -> dict[str, Any]:
    return {"name": "decl", "tools": [{"name": "t", "python": "tests.governance.toolbox:tag",
                                       **tool}],
            "agents": [{"name": "a", "tools": ["t"], "script": [{"content": "ok"}]}],
            "steps": [{"agent": "a"}]}


def test_workflow_tools_take_field_trust_composed_and_destination() -> None:
    wf = workflow_from_dict(_flow({
        "effect": "read", "external": True, "destination": ["label"], "composed": [],
        "trust": {"default": "untrusted", "trusted": ["$.files[*].id"]}}), HERE)
    tool = wf.tools["t"]
    assert tool.trust == FieldTrust(default=Trust.UNTRUSTED, trusted=("$.files[*].id",))
    assert (tool.destination, tool.composed, tool.external) == (("label",), (), True)


@pytest.mark.parametrize(("trust", "says"), [
    ({"default": "untrusted", "trusted": ["$.files[x"]}, "cannot read"),
    ({"default": "maybe"}, "default"),
    ({"trusted": ["id"], "extra": 1}, "extra"),
    ("maybe", "'trusted' or 'untrusted', or a mapping"),
])
def test_bad_trust_declarations_say_what_and_where(trust: Any, says: str) -> None:
    with pytest.raises(SpecError) as caught:
        workflow_from_dict(_flow({"trust": trust}), HERE)
    text = str(caught.value)
    assert "tools[0].trust" in text or "tools.0.trust" in text, text
    assert says in text, text


def test_python_tools_and_mcp_and_a2a_declare_the_same_way() -> None:
    def send(recipients: list[str], body: str) -> str:
        return "sent"

    tool = python_tool(send, effect=Effect.IRREVERSIBLE, external=True, composed=["body"],
                       destination=["recipients"],
                       trust=FieldTrust(trusted=("$.id",)))
    assert (tool.composed, tool.destination) == (("body",), ("recipients",))
    assert tool.result_trust == FieldTrust(trusted=("$.id",))
    mcp = MCPServerSpec.model_validate({"name": "drive", "url": "http://127.0.0.1:1/mcp",
                                        "tools": [{"name": "share", "effect": "irreversible",
                                                   "external": True, "composed": ["note"],
                                                   "destination": ["email"], "trust": {
                                                       "default": "untrusted",
                                                       "trusted": ["id"]}}]})
    assert mcp.trust is Trust.UNTRUSTED
    # what the declaration says reaches the tool the runtime calls (no server needed to build it)
    shared = mcp_tool(MCPConnection(mcp, HERE), mcp.tools[0])
    assert shared.result_trust == FieldTrust(trusted=("id",))
    assert (shared.composed, shared.destination) == (("note",), ("email",))
    remote = RemoteAgentSpec.model_validate({"name": "r", "url": "http://127.0.0.1:1",
                                             "trust": {"default": "untrusted",
                                                       "trusted": ["$.task_id"]}})
    handed = a2a_tool(RemoteAgent("http://127.0.0.1:1"), remote.name, trust=remote.trust)
    assert handed.result_trust == FieldTrust(trusted=("$.task_id",))
    assert a2a_tool(RemoteAgent("http://127.0.0.1:1"), "plain").result_trust is Trust.UNTRUSTED


def test_undeclared_write_results_are_no_trusted_origin() -> None:
    def tag(label: str) -> str:
        return label

    assert python_tool(tag, effect=Effect.WRITE).result_trust is None
    assert python_tool(tag, effect=Effect.READ).result_trust is Trust.TRUSTED
    assert python_tool(tag, effect=Effect.WRITE, trust=Trust.TRUSTED).result_trust is Trust.TRUSTED


def test_argument_kinds_default_from_names_and_schema() -> None:
    names = ["to", "subject", "email_body", "iban", "amount", "password", "recipient_email",
             "file_id", "free"]
    schema = {"properties": {"free": {"type": "string", "x-composed": True}}}
    assert composed_arguments(names, schema) == {"subject", "email_body", "free"}
    assert composed_arguments(names, schema, declared=["iban"]) == {"iban"}
    assert destination_arguments(names) == {"to", "recipient_email"}
    assert destination_arguments(names, declared=[]) == frozenset()
