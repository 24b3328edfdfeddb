"""Loading and resolving workflows: YAML or Python spec → a ``Workflow`` ready to run.

Errors name the file, line, column and field, say what was expected, and list every problem at
once, so a person fixes a file in one pass.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pydantic
import yaml

from agentplane._yaml import (
    FileError,
    FileProblem,
    Position,
    load_with_positions,
    positioned,
    validation_problems,
    yaml_problem,
)
from agentplane._yaml import Path as DataPath
from agentplane.journal import canonical_json, sha256_hex
from agentplane.journal.safe import make_safe
from agentplane.tools import Tool, ToolImportError, import_function, python_tool

from .compliance_spec import compliance_problems
from .context_spec import context_problems, ontology_problem
from .routing_spec import ROUTER_PREFIX
from .spec import STEP_TAGS, AgentSpec, AgentStep, ParallelStep, Step, SupervisorStep, WorkflowSpec

SpecProblem = FileProblem


class SpecError(FileError):
    """A workflow spec is invalid. ``problems`` lists every problem found."""

    what = "workflow"


@dataclass(frozen=True, slots=True)
class Workflow:
    """A validated workflow with its tools imported, pinned by ``hash``."""

    spec: WorkflowSpec
    base_dir: Path
    """Folder ``python:`` tool modules are imported from."""
    tools: dict[str, Tool] = field(default_factory=dict)
    source: str = "<python>"
    _hash: str | None = field(default=None, init=False, repr=False, compare=False)
    _agents: dict[str, AgentSpec] | None = field(default=None, init=False, repr=False,
                                                 compare=False)

    @property
    def hash(self) -> str:
        """SHA-256 of the spec's canonical JSON: a run is pinned to it. Computed once: the spec
        is a frozen model, so its hash cannot change."""
        if self._hash is None:
            object.__setattr__(self, "_hash", spec_hash(self.spec))
        assert self._hash is not None
        return self._hash

    def agent(self, name: str) -> AgentSpec | None:
        """The agent ``name`` declares (``WorkflowSpec.agent``), found in an index made once:
        a run looks its agents up at every invocation and hand-off."""
        if self._agents is None:
            # the first declaration of a name, as the spec's own lookup finds it
            object.__setattr__(self, "_agents", {
                a.name: a for a in reversed(self.spec.agents)})
        assert self._agents is not None
        return self._agents.get(name)


def spec_hash(spec: WorkflowSpec) -> str:
    return sha256_hex(canonical_json(spec.model_dump(mode="json")))


def _step_kind_message(path: DataPath, err: Any) -> str | None:
    return str(err["msg"]) if err["type"] == "step_kind" else None


def _pydantic_problems(exc: pydantic.ValidationError) -> list[SpecProblem]:
    return validation_problems(exc, reference="the workflow reference in the README",
                               skip=STEP_TAGS, message_for=_step_kind_message)


def _walk_steps(steps: list[Step], path: DataPath) -> list[tuple[DataPath, Step]]:
    out: list[tuple[DataPath, Step]] = []
    for i, step in enumerate(steps):
        out.append(((*path, i), step))
        if isinstance(step, ParallelStep):
            out.extend(_walk_steps(step.parallel, (*path, i, "parallel")))
    return out


def _duplicates(names: list[str], path: str, kind: str) -> list[SpecProblem]:
    seen: set[str] = set()
    problems = []
    for i, name in enumerate(names):
        if name in seen:
            problems.append(SpecProblem((path, i, "name"), f"{kind} {name!r} is declared twice"))
        seen.add(name)
    return problems


def _unknown(name: str, known: set[str], kind: str) -> str:
    listed = ", ".join(sorted(known)) or "none"
    return f"unknown {kind} {name!r}; declared {kind}s: {listed}"


def _check_tools(spec: WorkflowSpec, tools: set[str]) -> list[SpecProblem]:
    return [SpecProblem(("tools", i, "compensate"), _unknown(t.compensate, tools, "tool"))
            for i, t in enumerate(spec.tools)
            if t.compensate is not None and t.compensate not in tools]


def _check_model_name(model: str, path: DataPath, providers: set[str], routers: set[str]
                      ) -> list[SpecProblem]:
    """``model`` names ``scripted``, a declared provider, a ``provider:model`` pair of a known
    provider, or ``router:NAME`` of a declared router."""
    if model.startswith(ROUTER_PREFIX):
        name = model.removeprefix(ROUTER_PREFIX)
        return [] if name in routers else [SpecProblem(path, _unknown(name, routers, "router"))]
    known = providers | {"openai", "anthropic"}
    if ":" not in model and model != "scripted" and model not in providers:
        return [SpecProblem(path, f"model {model!r} is neither `scripted`, a `provider:model` "
                                  "pair such as openai:gpt-4o-mini, nor a declared provider")]
    prefix = model.split(":", 1)[0]
    if ":" in model and prefix not in known | {"scripted"}:
        return [SpecProblem(path, _unknown(prefix, known, "provider"))]
    return []


def _check_model(agent: AgentSpec, path: DataPath, providers: set[str],
                 routers: set[str]) -> list[SpecProblem]:
    problems = _check_model_name(agent.model, (*path, "model"), providers, routers)
    if not problems and agent.model.split(":", 1)[0] == "scripted" and not agent.script:
        return [SpecProblem((*path, "script"), "an agent on the scripted model needs a `script:`")]
    return problems


def _check_other_models(spec: WorkflowSpec, providers: set[str], routers: set[str]
                        ) -> list[SpecProblem]:
    """The models an ensemble asks, its judge model, a verification's judge model and the
    guardian agent's model: the same forms as an agent's, checked at load instead of failing
    the run that first calls them."""
    named: list[tuple[str, DataPath]] = []
    for path, step in _walk_steps(spec.steps, ("steps",)):
        if isinstance(step, AgentStep) and step.ensemble is not None:
            named += [(m, (*path, "ensemble", "models", k))
                      for k, m in enumerate(step.ensemble.models)]
            if step.ensemble.judge.model is not None:
                named.append((step.ensemble.judge.model, (*path, "ensemble", "judge", "model")))
        verify = step.verify if isinstance(step, AgentStep | SupervisorStep) else None
        if verify is not None and verify.judge is not None:
            named.append((verify.judge.model, (*path, "verify", "judge", "model")))
    if spec.guardians.agent is not None:
        named.append((spec.guardians.agent.model, ("guardians", "agent", "model")))
    return [problem for model, path in named
            for problem in _check_model_name(model, path, providers, routers)]


def _check_agent(agent: AgentSpec, path: DataPath, tools: set[str], agents: set[str],
                 providers: set[str], routers: set[str]) -> list[SpecProblem]:
    problems = []
    others = agents - {agent.name}
    for j, name in enumerate(agent.tools):
        if name == agent.name:
            problems.append(SpecProblem((*path, "tools", j), "an agent cannot be its own tool"))
        elif name not in tools and name not in agents:
            problems.append(SpecProblem((*path, "tools", j),
                                        _unknown(name, tools | others, "tool")))
    for j, name in enumerate(agent.handoffs):
        if name == agent.name:
            problems.append(SpecProblem((*path, "handoffs", j),
                                        "an agent cannot hand off to itself"))
        elif name not in others:
            problems.append(SpecProblem((*path, "handoffs", j),
                                        _unknown(name, others, "agent")))
    return problems + _check_model(agent, path, providers, routers)


def _check_routers(spec: WorkflowSpec, providers: set[str]) -> list[SpecProblem]:
    """Each router's candidates name a declared provider or a ``provider:model`` pair."""
    problems = _duplicates([r.name for r in spec.routers], "routers", "router")
    for i, router in enumerate(spec.routers):
        for j, candidate in enumerate(router.candidates):
            prefix, colon, _ = candidate.model.partition(":")
            if prefix in providers or (colon and prefix in {"openai", "anthropic", "scripted"}):
                continue
            problems.append(SpecProblem(("routers", i, "candidates", j, "model"),
                                        f"candidate {candidate.model!r} is neither a declared "
                                        "provider nor a `provider:model` pair such as "
                                        "openai:gpt-4o-mini"))
    return problems


def _check_steps(spec: WorkflowSpec, agents: set[str]) -> list[SpecProblem]:
    problems = []
    for path, step in _walk_steps(spec.steps, ("steps",)):
        names: list[tuple[str, DataPath]] = []
        if isinstance(step, AgentStep):
            names = [(step.agent, (*path, "agent"))]
            if step.ensemble is not None:
                names += [(a, (*path, "ensemble", "agents", k))
                          for k, a in enumerate(step.ensemble.agents)]
        elif isinstance(step, SupervisorStep):
            names = [(step.supervisor, (*path, "supervisor"))]
            # a worker may also be a remote A2A agent
            names += [(w, (*path, "workers", k)) for k, w in enumerate(step.workers)
                      if w not in spec.remote_tool_names()]
        problems += [SpecProblem(p, _unknown(n, agents, "agent")) for n, p in names
                     if n not in agents]
    return problems


def _check_guardians(spec: WorkflowSpec, tools: set[str], agents: set[str]
                     ) -> list[SpecProblem]:
    problems = _duplicates([p.id for p in spec.guardians.policies], "guardians.policies",
                           "policy")
    for i, policy in enumerate(spec.guardians.policies):
        path: DataPath = ("guardians", "policies", i)
        problems += [SpecProblem((*path, "tools", j), _unknown(t, tools, "tool"))
                     for j, t in enumerate(policy.tools) if t not in tools]
        problems += [SpecProblem((*path, "agents", j), _unknown(a, agents, "agent"))
                     for j, a in enumerate(policy.agents) if a not in agents]
        for name, rule in policy.arguments.items():
            if rule.pattern is None:
                continue
            try:
                re.compile(rule.pattern)
            except re.error as exc:
                problems.append(SpecProblem((*path, "arguments", name, "pattern"),
                                            f"not a regular expression: {exc}"))
    guard = spec.guardians.agent
    if guard is not None and guard.model == "scripted" and not guard.script:
        problems.append(SpecProblem(("guardians", "agent", "script"),
                                    "a guardian agent on the scripted model needs a `script:`"))
    if guard is not None and guard.name in agents | tools:
        problems.append(SpecProblem(("guardians", "agent", "name"),
                                    f"{guard.name!r} already names an agent or a tool"))
    return problems


def cross_check(spec: WorkflowSpec) -> list[SpecProblem]:
    """Problems pydantic cannot see: references between tools, agents and steps."""
    python_tools = {t.name for t in spec.tools}
    tools = python_tools | spec.mcp_tool_names() | spec.remote_tool_names()
    agents = {a.name for a in spec.agents}
    providers = {p.name for p in spec.providers}
    problems = _duplicates([t.name for t in spec.tools], "tools", "tool")
    problems += _duplicates([s.name for s in spec.mcp_servers], "mcp_servers", "MCP server")
    problems += _duplicates([r.name for r in spec.remote_agents], "remote_agents",
                            "remote agent")
    problems += [SpecProblem(("remote_agents",), f"{name!r} names both a remote agent and "
                                                 "another tool or agent")
                 for name in sorted(spec.remote_tool_names() & (
                     python_tools | spec.mcp_tool_names() | {a.name for a in spec.agents}))]
    problems += [SpecProblem(("mcp_servers",), f"{name!r} names both a Python tool and an MCP "
                                               "server's tool")
                 for name in sorted(python_tools & spec.mcp_tool_names())]
    problems += _duplicates([a.name for a in spec.agents], "agents", "agent")
    problems += _duplicates([p.name for p in spec.providers], "providers", "provider")
    problems += [SpecProblem(("agents",), f"{name!r} names both a tool and an agent")
                 for name in sorted(tools & agents)]
    problems += _check_tools(spec, python_tools)
    routers = {r.name for r in spec.routers}
    for i, agent in enumerate(spec.agents):
        problems += _check_agent(agent, ("agents", i), tools, agents, providers, routers)
    problems += _check_routers(spec, providers)
    problems += [SpecProblem(p, m) for p, m in context_problems(
        tools | agents, [(a.name, a.memory) for a in spec.agents])]
    problems += [SpecProblem(p, m) for p, m in compliance_problems(spec)]
    problems += _check_other_models(spec, providers, routers)
    return problems + _check_steps(spec, agents) + _check_guardians(spec, tools, agents)


def _unsafe_text(spec: WorkflowSpec) -> list[SpecProblem]:
    """A spec is pinned by the hash of its JSON, so its text must be valid Unicode."""
    changes = make_safe(spec.model_dump(mode="json"), "").changes
    return [SpecProblem(_data_path(c["path"]), "text that is not valid Unicode (a lone UTF-16 "
                                               "surrogate such as \\udc80)") for c in changes]


def _data_path(text: str) -> DataPath:
    """``.agents[0].script`` → ``("agents", 0, "script")``."""
    return tuple(int(p) if p.isdigit() else p for p in re.findall(r"[^.\[\]]+", text))


def resolve(spec: WorkflowSpec, base_dir: Path, *, source: str = "<python>",
            positions: dict[DataPath, Position] | None = None) -> Workflow:
    """Check references and import the tools of a spec."""
    marks = positions or {}
    problems = cross_check(spec) + _unsafe_text(spec)
    ontology = ontology_problem(spec.knowledge, base_dir)
    if ontology is not None:
        problems.append(SpecProblem(*ontology))
    tools: dict[str, Tool] = {}
    for i, t in enumerate(spec.tools):
        try:
            fn = import_function(t.python, base_dir)
            tools[t.name] = python_tool(fn, name=t.name, description=t.description,
                                        effect=t.effect, idempotent=t.idempotent,
                                        compensate=t.compensate, trust=t.trust,
                                        external=t.external, cost_usd=t.cost_usd,
                                        timeout_s=t.timeout_s,
                                        composed=t.composed, destination=t.destination,
                                        isolation=t.isolation or spec.tool_defaults.isolation,
                                        ref=t.python, folder=base_dir)
        except ToolImportError as exc:
            problems.append(SpecProblem(("tools", i, "python"), str(exc)))
        except Exception as exc:  # a bad annotation: NameError, TypeError, pydantic's own
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
            problems.append(SpecProblem(
                ("tools", i, "python"),
                f"cannot describe the function's parameters: {type(exc).__name__}: "
                f"{first_line}"))
    if problems:
        raise SpecError(source, positioned(problems, marks))
    return Workflow(spec=spec, base_dir=base_dir, tools=tools, source=source)


def parse_spec(text: str, source: str) -> tuple[WorkflowSpec, dict[DataPath, Position]]:
    """Parse and validate YAML text into a spec; ``SpecError`` lists every problem."""
    try:
        data, marks = load_with_positions(text)
    except yaml.YAMLError as exc:
        raise SpecError(source, [yaml_problem(exc)]) from exc
    if not isinstance(data, dict):
        raise SpecError(source, [SpecProblem((), "expected a mapping with name, agents and steps",
                                             (1, 1))])
    try:
        spec = WorkflowSpec.model_validate(data)
    except pydantic.ValidationError as exc:
        raise SpecError(source, positioned(_pydantic_problems(exc), marks)) from exc
    return spec, marks


def load_workflow(path: str | Path) -> Workflow:
    """Load a workflow YAML file."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise SpecError(str(file), [SpecProblem((), "file not found")]) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(str(file), [SpecProblem((), f"cannot read the file: {exc}")]) from exc
    spec, marks = parse_spec(text, str(file))
    return resolve(spec, file.resolve().parent, source=str(file), positions=marks)


def workflow_from_dict(data: dict[str, Any], base_dir: Path, *, source: str = "<python>"
                       ) -> Workflow:
    """Build a workflow from a plain dict (the Python way to declare one)."""
    try:
        spec = WorkflowSpec.model_validate(data)
    except pydantic.ValidationError as exc:
        raise SpecError(source, _pydantic_problems(exc)) from exc
    return resolve(spec, base_dir, source=source)
