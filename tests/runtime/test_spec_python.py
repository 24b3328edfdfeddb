"""Workflow specs: ``module:function`` tool references — what is reported when a module or
function is missing, fails to import, or has parameters that cannot be described."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from agentplane.runtime import load_workflow

from .specfiles import only_problem, write

pytestmark = pytest.mark.usefixtures("keep_sys_path")


# -- python references ----------------------------------------------------------------------------


def test_missing_module_names_the_folder(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        name: t
        tools:
          - name: f
            python: nosuch_module_q7:fn
        agents: [{name: a, tools: [f], script: [{content: x}]}]
        steps: [{agent: a}]
        """, tools=None)
    problem = only_problem(path)
    assert (problem.path, problem.position) == (("tools", 0, "python"), (4, 5))
    assert problem.message.startswith(
        f"cannot import module 'nosuch_module_q7' for tool 'nosuch_module_q7:fn': "
        f"no nosuch_module_q7.py in {tmp_path.resolve()} and no installed module")


def test_missing_function_names_the_module(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        name: t
        tools:
          - name: f
            python: tools:nofn
        agents: [{name: a, tools: [f], script: [{content: x}]}]
        steps: [{agent: a}]
        """)
    problem = only_problem(path)
    assert (problem.path, problem.position) == (("tools", 0, "python"), (4, 5))
    assert problem.message == "module 'tools' has no function 'nofn' (tool 'tools:nofn')"


def test_a_module_that_fails_to_import(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        name: t
        tools:
          - name: f
            python: tools:fn
        agents: [{name: a, tools: [f], script: [{content: x}]}]
        steps: [{agent: a}]
        """, tools="def fn(:\n    pass\n")
    problem = only_problem(path)
    assert (problem.path, problem.position) == (("tools", 0, "python"), (4, 5))
    assert problem.message.startswith("importing 'tools' for tool 'tools:fn' failed: SyntaxError")


def test_installed_module_reference(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        name: t
        tools:
          - {name: join, python: "posixpath:join", effect: read}
        agents: [{name: a, tools: [join], script: [{content: x}]}]
        steps: [{agent: a}]
        """, tools=None)
    assert "join" in load_workflow(path).tools


def test_parameters_that_cannot_be_described(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        name: t
        tools:
          - name: f
            python: tools:opaque
        agents: [{name: a, tools: [f], script: [{content: x}]}]
        steps: [{agent: a}]
        """)
    problem = only_problem(path)
    assert (problem.path, problem.position) == (("tools", 0, "python"), (4, 5))
    assert problem.message.startswith("cannot describe the function's parameters: ")
    assert "Opaque" in problem.message


def test_parameters_that_cannot_be_described_fit_on_one_line(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        name: t
        tools: [{name: f, python: "tools:opaque"}]
        agents: [{name: a, tools: [f], script: [{content: x}]}]
        steps: [{agent: a}]
        """)
    problem = only_problem(path)
    assert "\n" not in problem.message


def test_undefined_annotation_is_a_spec_problem(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        name: t
        tools:
          - name: f
            python: tools:typo
        agents: [{name: a, tools: [f], script: [{content: x}]}]
        steps: [{agent: a}]
        """, tools="from __future__ import annotations\n\n\n"
                   "def typo(a: Strr) -> str:  # noqa: F821\n    return a\n")
    problem = only_problem(path)
    assert (problem.path, problem.position) == (("tools", 0, "python"), (4, 5))
    assert problem.message.startswith("cannot describe the function's parameters")
    assert "Strr" in problem.message


def test_tool_modules_do_not_leak_between_workflow_folders(tmp_path: Path) -> None:
    text = """\
        name: t
        tools: [{name: f, python: "leaky_helpers_q7:fn"}]
        agents: [{name: a, tools: [f], script: [{content: x}]}]
        steps: [{agent: a}]
        """
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    write(first, text, tools=None)
    (first / "leaky_helpers_q7.py").write_text("def fn(a: int) -> int:\n    return a\n")
    write(second, text, tools=None)
    try:
        load_workflow(first / "workflow.yaml")
        problem = only_problem(second / "workflow.yaml")
    finally:
        sys.modules.pop("leaky_helpers_q7", None)
    assert "no leaky_helpers_q7.py in" in problem.message
