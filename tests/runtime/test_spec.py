"""Workflow specs: what a valid file gives, and where and how an invalid one is reported.

Every problem must name the file, the line and column of the offending YAML node and the field
path, and say what was expected, so a person can fix a file in one pass.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from agentplane.journal import EventType, SQLiteJournal
from agentplane.runtime import Runtime, SpecError, Workflow, load_workflow, workflow_from_dict
from agentplane.tools import Effect, ToolArgumentsError, Trust

from .specfiles import (
    FULL,
    MINIMAL,
    TOOLS_PY,
    context,
    listed,
    only_problem,
    problems_error,
    problems_of,
    valid_dict,
    write,
)

pytestmark = pytest.mark.usefixtures("keep_sys_path")


# -- a valid file ---------------------------------------------------------------------------------


def test_full_valid_file_loads(tmp_path: Path) -> None:
    wf = load_workflow(write(tmp_path, FULL))
    assert isinstance(wf, Workflow)
    spec = wf.spec
    assert (spec.name, spec.version, wf.source) == ("full-flow", 2, str(tmp_path / "workflow.yaml"))
    assert wf.base_dir == tmp_path.resolve()
    provider = spec.providers[0]
    assert (provider.name, provider.kind, provider.base_url, provider.api_key_env,
            provider.model, provider.timeout_s, provider.max_retries, provider.stream) == (
        "local", "openai", "http://127.0.0.1:9/v1", "LOCAL_KEY", "llama3", 5.0, 1, True)
    assert sorted(wf.tools) == ["fetch", "lookup", "refund", "undo_refund"]
    refund = wf.tools["refund"]
    assert (refund.effect, refund.idempotent, refund.compensate, refund.trust) == (
        Effect.IRREVERSIBLE, True, "undo_refund", Trust.UNTRUSTED)
    assert refund.description == "Refund money to the customer."
    assert wf.tools["lookup"].description == "Look an order up."  # first docstring paragraph
    assert wf.tools["lookup"].safe_to_repeat
    undo = wf.tools["undo_refund"]  # defaults: an undeclared tool is not assumed harmless
    # ...and the result of an undeclared write is no trusted origin (no laundering)
    assert (undo.effect, undo.idempotent, undo.trust, undo.result_trust,
            undo.safe_to_repeat) == (Effect.WRITE, False, None, None, False)
    assert wf.tools["lookup"].result_trust is Trust.TRUSTED  # an undeclared read's is
    clerk = spec.agent("clerk")
    assert clerk is not None
    assert clerk.tools == ["lookup", "refund", "researcher"]
    assert clerk.handoffs == ["writer"]
    assert (clerk.max_turns, clerk.loop_limit, clerk.escalation_timeout_s,
            clerk.max_output_tokens, clerk.temperature) == (5, 4, 30.0, 200, 0.2)
    assert [r.content for r in clerk.script] == ["Looking.", "Done."]
    assert clerk.script[0].tool_calls == [{"name": "lookup", "arguments": {"order_id": "A1"}}]
    assert clerk.script[0].usage == {"input_tokens": 3, "output_tokens": 2}
    dumped = spec.model_dump(mode="json")["steps"]
    assert dumped[0] == {"agent": "clerk", "input": "Please: {input}"}
    assert dumped[1] == {"parallel": [{"agent": "researcher", "input": None},
                                      {"parallel": [{"agent": "writer", "input": None}]}]}
    assert dumped[2] == {"supervisor": "lead", "workers": ["researcher", "writer"],
                         "max_assignments": 3}


def test_hash_is_stable_and_follows_meaningful_changes(tmp_path: Path) -> None:
    first = load_workflow(write(tmp_path, FULL))
    again = load_workflow(write(tmp_path, FULL))
    assert first.hash == again.hash
    assert len(first.hash) == 64
    assert all(c in "0123456789abcdef" for c in first.hash)

    # Comments, layout and spelling out a default do not change what the workflow does.
    same = FULL.replace("name: full-flow", "# a comment\nname:   full-flow  # trailing") \
        .replace("    python: tools:undo_refund\n",
                 "    python: tools:undo_refund\n    effect: write\n    idempotent: false\n")
    assert load_workflow(write(tmp_path, same, name="same.yaml")).hash == first.hash

    for old, new in [("You handle refunds.", "You handle refunds politely."),
                     ("effect: irreversible", "effect: write"),
                     ("max_assignments: 3", "max_assignments: 4"),
                     ("version: 2", "version: 3")]:
        assert old in FULL
        changed = write(tmp_path, FULL.replace(old, new), name="changed.yaml")
        assert load_workflow(changed).hash != first.hash, (old, new)


def test_python_way_builds_the_same_workflow(tmp_path: Path) -> None:
    (tmp_path / "tools.py").write_text(TOOLS_PY, encoding="utf-8")
    from_file = load_workflow(write(tmp_path, MINIMAL, tools=None))
    from_dict = workflow_from_dict(
        {"name": "tiny", "agents": [{"name": "a", "script": [{"content": "hi"}]}],
         "steps": [{"agent": "a"}]}, tmp_path)
    assert from_dict.hash == from_file.hash
    assert from_dict.source == "<python>"


# -- tool schemas and arguments -------------------------------------------------------------------


def test_tool_schema_comes_from_the_signature(tmp_path: Path) -> None:
    wf = load_workflow(write(tmp_path, FULL))
    lookup = wf.tools["lookup"].parameters
    assert lookup["type"] == "object"
    assert lookup["additionalProperties"] is False
    assert lookup["required"] == ["order_id"]
    props = lookup["properties"]
    assert set(props) == {"order_id", "limit", "verbose"}  # no `context`
    assert props["order_id"]["type"] == "string"
    assert (props["limit"]["type"], props["limit"]["default"]) == ("integer", 5)
    assert (props["verbose"]["type"], props["verbose"]["default"]) == ("boolean", False)
    assert "title" not in lookup

    refund = wf.tools["refund"].parameters
    assert sorted(refund["required"]) == ["amount", "order_id"]
    assert set(refund["properties"]) == {"order_id", "amount"}
    assert refund["properties"]["amount"]["type"] == "number"

    fetch = wf.tools["fetch"].parameters
    assert fetch["required"] == ["url"]
    assert fetch["properties"]["tags"]["default"] is None
    assert {"type": "array", "items": {"type": "string"}} in fetch["properties"]["tags"]["anyOf"]

    definition = wf.tools["lookup"].definition()
    assert (definition.name, definition.description, definition.parameters) == (
        "lookup", "Look an order up.", lookup)


async def test_tool_receives_validated_and_coerced_arguments(tmp_path: Path) -> None:
    wf = load_workflow(write(tmp_path, FULL))
    result = await wf.tools["lookup"].invoke({"order_id": "A1", "limit": "7"}, context())
    assert result == {"order_id": "A1", "limit": 7, "verbose": False, "run_id": "run-1"}
    refund = await wf.tools["refund"].invoke({"order_id": "A1", "amount": 20}, context("refund"))
    assert refund == {"order_id": "A1", "amount": 20.0, "key": "idem-1"}
    assert isinstance(refund["amount"], float)
    fetched = await wf.tools["fetch"].invoke({"url": "u", "tags": ["x"]}, context("fetch"))
    assert fetched == {"url": "u", "tags": ["x"]}

    with pytest.raises(ToolArgumentsError, match=r"invalid arguments for lookup: order_id: "):
        await wf.tools["lookup"].invoke({"limit": 1}, context())
    with pytest.raises(ToolArgumentsError, match=r"limit: .*integer"):
        await wf.tools["lookup"].invoke({"order_id": "A1", "limit": "many"}, context())
    with pytest.raises(ToolArgumentsError, match=r"bogus: Extra inputs are not permitted"):
        await wf.tools["lookup"].invoke({"order_id": "A1", "bogus": 1}, context())
    with pytest.raises(ToolArgumentsError, match=r"context: Extra inputs"):
        # A model cannot forge the call's context.
        await wf.tools["lookup"].invoke({"order_id": "A1", "context": {}}, context())


async def test_a_run_hands_coerced_arguments_to_the_tool(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        name: coerce
        tools:
          - {name: lookup, python: "tools:lookup", effect: read}
        agents:
          - name: a
            tools: [lookup]
            script:
              - tool_calls: [{name: lookup, arguments: {order_id: A1, limit: "7", verbose: "yes"}}]
              - content: done
        steps:
          - agent: a
        """)
    store = SQLiteJournal(tmp_path / "j.db")
    runtime = Runtime(store)
    try:
        run = await runtime.run(load_workflow(path), "go")
        events = await store.events(run.id)
    finally:
        await runtime.aclose()
        await store.close()
    assert run.status == "completed"
    [done] = [e for e in events if e.type == EventType.TOOL_COMPLETED]
    assert done.data["result"] == {"order_id": "A1", "limit": 7, "verbose": True,
                                   "run_id": run.id}


# -- syntax and shape -----------------------------------------------------------------------------


def test_yaml_syntax_error_reports_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        name: t
        agents:
          - name: a
            tools: [x
        steps: []
        """, tools=None)
    problem = only_problem(path)
    assert problem.path == ()
    assert problem.position == (5, 6)
    assert problem.message.startswith("not valid YAML: ")
    assert "expected ',' or ']'" in problem.message


def test_bad_indentation_is_a_syntax_error(tmp_path: Path) -> None:
    path = write(tmp_path, "name: t\n  bad: indent\nagents: []\n", tools=None)
    problem = only_problem(path)
    assert problem.position == (2, 6)
    assert problem.message == "not valid YAML: mapping values are not allowed here"
    assert f"{path}:2:6: (top level): not valid YAML" in str(problems_error(path))


@pytest.mark.parametrize("text", ["- a\n- b\n", "", "just text\n", "42\n"])
def test_top_level_must_be_a_mapping(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, text, tools=None)
    problem = only_problem(path)
    assert (problem.path, problem.position) == ((), (1, 1))
    assert problem.message == "expected a mapping with name, agents and steps"


def test_file_not_found(tmp_path: Path) -> None:
    path = tmp_path / "missing.yaml"
    problem = only_problem(path)
    assert (problem.path, problem.position, problem.message) == ((), None, "file not found")
    assert str(problems_error(path)) == (
        f"workflow {path} is invalid (1 problem):\n  {path}: (top level): file not found")


def test_a_folder_is_not_a_workflow_file(tmp_path: Path) -> None:
    problem = only_problem(tmp_path)
    assert problem.message.startswith("cannot read the file: ")



# -- fields ---------------------------------------------------------------------------------------


def test_unknown_field_is_reported_with_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        name: t
        agents:
          - name: a
            intructions: Be brief.
            script: [{content: hi}]
        steps:
          - agent: a
        """, tools=None)
    problem = only_problem(path)
    assert problem.path == ("agents", 0, "intructions")
    assert problem.position == (4, 5)
    assert problem.message.startswith("unknown field (check the spelling")
    assert str(problems_error(path)).splitlines() == [
        f"workflow {path} is invalid (1 problem):",
        f"  {path}:4:5: agents[0].intructions: unknown field (check the spelling; see the "
        "workflow reference in the README)",
    ]


def test_unknown_field_in_a_step(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        name: t
        agents: [{name: a, script: [{content: x}]}]
        steps: [{agent: a, inputs: "typo"}]
        """, tools=None)
    problem = only_problem(path)
    assert (problem.path, problem.position) == (("steps", 0, "inputs"), (3, 20))
    assert problem.message.startswith("unknown field")


def test_bad_enum_value_names_the_allowed_values(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        name: t
        tools:
          - name: lookup
            python: tools:lookup
            effect: destructive
        agents: [{name: a, tools: [lookup], script: [{content: x}]}]
        steps: [{agent: a}]
        """)
    problem = only_problem(path)
    assert (problem.path, problem.position) == (("tools", 0, "effect"), (5, 5))
    assert "'read', 'write' or 'irreversible'" in problem.message
    assert "(got 'destructive')" in problem.message


def test_bad_trust_and_provider_kind(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        name: t
        providers:
          - {name: p, kind: gemini}
        tools:
          - {name: lookup, python: "tools:lookup", trust: maybe}
        agents: [{name: a, tools: [lookup], script: [{content: x}]}]
        steps: [{agent: a}]
        """)
    problems = problems_of(path)
    assert [(p.path, p.position) for p in problems] == [
        (("providers", 0, "kind"), (3, 15)),
        (("tools", 0, "trust"), (5, 44)),
    ]
    assert "'openai', 'anthropic' or 'scripted'" in problems[0].message
    assert "'trusted' or 'untrusted'" in problems[1].message


def test_out_of_range_number_and_bad_name(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        name: t
        agents:
          - name: a
            max_turns: 0
            script: [{content: x}]
          - name: 9lives
            script: [{content: x}]
        steps: [{agent: a}]
        """, tools=None)
    problems = problems_of(path)
    assert [(p.path, p.position) for p in problems] == [
        (("agents", 0, "max_turns"), (4, 5)),
        (("agents", 1, "name"), (6, 5)),
    ]
    assert "greater than or equal to 1" in problems[0].message
    assert "(got 0)" in problems[0].message
    assert "(got '9lives')" in problems[1].message


def test_python_reference_must_look_like_module_function(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        name: t
        tools:
          - name: lookup
            python: tools.lookup
        agents: [{name: a, tools: [lookup], script: [{content: x}]}]
        steps: [{agent: a}]
        """)
    problem = only_problem(path)
    assert (problem.path, problem.position) == (("tools", 0, "python"), (4, 5))
    assert "(got 'tools.lookup')" in problem.message


@pytest.mark.parametrize(("text", "missing"), [
    ("name: t\ndescription: no agents nor steps\n", ["agents", "steps"]),
    ("name: t\nsteps: [{agent: a}]\n", ["agents"]),
    ("name: t\nagents: [{name: a, script: [{content: x}]}]\n", ["steps"]),
    ("agents: [{name: a, script: [{content: x}]}]\nsteps: [{agent: a}]\n", ["name"]),
])
def test_missing_required_fields(tmp_path: Path, text: str, missing: list[str]) -> None:
    problems = problems_of(write(tmp_path, text, tools=None))
    assert [p.path for p in problems] == [(m,) for m in missing]
    assert all(p.message == "required field is missing" for p in problems)
    # A missing key has no line of its own: the problem points at the top of the file.
    assert all(p.position == (1, 1) for p in problems)


def test_empty_agents_and_steps(tmp_path: Path) -> None:
    path = write(tmp_path, "name: t\nagents: []\nsteps: []\n", tools=None)
    problems = problems_of(path)
    assert [(p.path, p.position) for p in problems] == [(("agents",), (2, 1)),
                                                        (("steps",), (3, 1))]
    assert all("at least 1 item" in p.message for p in problems)


@pytest.mark.parametrize(("step", "column"), [("{foo: bar}", 5), ("clerk", 5), ("{}", 5)])
def test_step_needs_agent_parallel_or_supervisor(tmp_path: Path, step: str, column: int) -> None:
    path = write(tmp_path, f"""\
        name: t
        agents: [{{name: a, script: [{{content: x}}]}}]
        steps:
          - agent: a
          - {step}
        """, tools=None)
    problem = only_problem(path)
    assert (problem.path, problem.position) == (("steps", 1), (5, column))
    assert problem.message == "a step needs one of the keys `agent`, `parallel` or `supervisor`"


def test_step_kind_is_checked_inside_parallel(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        name: t
        agents: [{name: a, script: [{content: x}]}]
        steps:
          - parallel:
              - agent: a
              - agnet: a
        """, tools=None)
    problem = only_problem(path)
    assert (problem.path, problem.position) == (("steps", 0, "parallel", 1), (6, 9))
    assert "`agent`, `parallel` or `supervisor`" in problem.message


# -- several problems at once, and the Python way ------------------------------------------------


def test_several_problems_in_one_error(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        name: t
        tools:
          - name: lookup
            python: tools:lookup
            compensate: undo
          - name: gone
            python: tools:gone
        agents:
          - name: a
            tools: [lookup, nosuch]
            handoffs: [ghost]
            script: [{content: x}]
        steps:
          - agent: zed
        """)
    error = problems_error(path)
    rendered = str(error).splitlines()
    assert rendered[0] == f"workflow {path} is invalid (5 problems):"
    expected = [
        f"{path}:5:5: tools[0].compensate: unknown tool 'undo'",
        f"{path}:10:21: agents[0].tools[1]: unknown tool 'nosuch'",
        f"{path}:11:16: agents[0].handoffs[0]: unknown agent 'ghost'",
        f"{path}:14:5: steps[0].agent: unknown agent 'zed'",
        f"{path}:7:5: tools[1].python: module 'tools' has no function 'gone'",
    ]
    assert len(rendered) == 1 + len(expected)
    for line, start in zip(rendered[1:], expected, strict=True):
        assert line.startswith("  " + start), line
    assert len(error.problems) == 5
    assert error.exit_code == 2


def test_several_schema_problems_in_one_error(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        name: t
        tools:
          - {name: lookup, python: "tools:lookup", effect: destructive}
        agents:
          - name: a
            intructions: hi
        steps:
          - foo: bar
        """)
    error = problems_error(path)
    assert str(error).splitlines()[0] == f"workflow {path} is invalid (3 problems):"
    assert [(p.path, p.position) for p in error.problems] == [
        (("tools", 0, "effect"), (3, 44)),
        (("agents", 0, "intructions"), (6, 5)),
        (("steps", 0), (8, 5)),
    ]



def test_python_way_loads_tools_from_base_dir(tmp_path: Path) -> None:
    (tmp_path / "tools.py").write_text(TOOLS_PY, encoding="utf-8")
    wf = workflow_from_dict(valid_dict(), tmp_path)
    assert wf.tools["lookup"].effect is Effect.READ
    assert wf.tools["lookup"].parameters["required"] == ["order_id"]
    assert wf.base_dir == tmp_path


def test_python_way_reports_schema_problems(tmp_path: Path) -> None:
    data = valid_dict()
    data["agents"][0]["intructions"] = "typo"
    data["tools"][0]["effect"] = "destructive"
    del data["steps"]
    with pytest.raises(SpecError) as info:
        workflow_from_dict(data, tmp_path, source="my_flows.py")
    assert [(p.path, p.position) for p in info.value.problems] == [
        (("tools", 0, "effect"), None),
        (("agents", 0, "intructions"), None),
        (("steps",), None),
    ]
    lines = str(info.value).splitlines()
    assert lines[0] == "workflow my_flows.py is invalid (3 problems):"
    assert lines[2] == ("  my_flows.py: agents[0].intructions: unknown field (check the spelling; "
                        "see the workflow reference in the README)")
    assert lines[3] == "  my_flows.py: steps: required field is missing"


def test_python_way_reports_reference_and_import_problems(tmp_path: Path) -> None:
    data = valid_dict()
    data["agents"][0]["tools"] = ["lookup", "lokup"]
    data["tools"][0]["python"] = "flowtools_q7:lookup"
    data["steps"] = [{"agent": "a"}, {"supervisor": "a", "workers": ["ghost"]}]
    with pytest.raises(SpecError) as info:
        workflow_from_dict(data, tmp_path)  # no flowtools_q7.py in tmp_path
    error = info.value
    assert error.source == "<python>"
    assert [p.path for p in error.problems] == [
        ("agents", 0, "tools", 1), ("steps", 1, "workers", 0), ("tools", 0, "python")]
    assert error.problems[0].message.startswith("unknown tool 'lokup'; declared tools: ")
    assert "lookup" in listed(error.problems[0].message)
    assert error.problems[1].message == "unknown agent 'ghost'; declared agents: a"
    assert f"no flowtools_q7.py in {tmp_path}" in error.problems[2].message
    assert str(error).splitlines()[1].startswith(
        "  <python>: agents[0].tools[1]: unknown tool 'lokup'; declared tools: ")
