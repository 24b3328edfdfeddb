"""``Workflow``: agents and the steps that use them, declared in Python.

The Python declaration and its YAML twin are one thing: ``spec`` is the same ``WorkflowSpec``
a YAML file parses into, so both pin runs to the same hash, and ``to_yaml()`` writes the twin.
(``agentplane.runtime.Workflow`` is the engine's form of either: checked, tools imported;
``resolve()`` makes it.)
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict, Unpack

import pydantic
import yaml

from agentplane._yaml import validation_problems
from agentplane.governance.autonomy import Autonomy
from agentplane.governance.spec import GuardiansSpec
from agentplane.metering.spec import BudgetSpec
from agentplane.runtime.context_spec import KnowledgeSpec
from agentplane.runtime.ensemble_spec import EnsembleSpec
from agentplane.runtime.personal_spec import PersonalSpec
from agentplane.runtime.spec import (
    STEP_TAGS,
    AgentStep,
    ParallelStep,
    ProviderSpec,
    SupervisorStep,
    ToolDefaults,
    WorkflowSpec,
)
from agentplane.runtime.trigger_spec import DeferSpec, TriggerSpec
from agentplane.runtime.verify_spec import VerifySpec
from agentplane.runtime.workflow import SpecError, cross_check, load_workflow, resolve, spec_hash
from agentplane.runtime.workflow import Workflow as ResolvedWorkflow
from agentplane.tools.sources.spec import MCPServerSpec, RemoteAgentSpec

from .agents import Agent
from .tools import DefinitionError, ToolDeclaration, declaration_of, share_modules

if TYPE_CHECKING:
    from agentplane.models.base import ModelProvider

    from .results import RunResult

@dataclass(frozen=True, slots=True)
class Step:
    """A step of a workflow (``step``, ``parallel``, ``supervisor``) and the agents it uses."""

    spec: AgentStep | ParallelStep | SupervisorStep
    """The step as a YAML file declares it."""
    agents: tuple[Agent, ...]


StepLike = Agent | Step


def step(agent: Agent, *, input: str | None = None,
         verify: VerifySpec | Mapping[str, Any] | None = None,
         ensemble: EnsembleSpec | Mapping[str, Any] | None = None,
         others: Sequence[Agent] = ()) -> Step:
    """Run ``agent`` on ``input`` instead of the previous step's output (``{input}`` in the
    text is replaced by that output). ``verify``: checks its answer must pass (as in YAML,
    docs/verification.md); ``ensemble``: several models or agents answer and a judge keeps one
    (``others``: the agents an ensemble names besides ``agent``)."""
    spec = AgentStep(agent=agent.name, input=input,
                     verify=None if verify is None else VerifySpec.model_validate(verify),
                     ensemble=None if ensemble is None else EnsembleSpec.model_validate(ensemble))
    return Step(spec, (agent, *others))


def parallel(*steps: StepLike) -> Step:
    """Run ``steps`` at once on the same input; the output maps each branch to its result."""
    inner = [_step(s) for s in steps]
    return Step(ParallelStep(parallel=[s.spec for s in inner]),
                tuple(a for s in inner for a in s.agents))


def supervisor(lead: Agent, workers: Sequence[Agent], *, max_assignments: int = 10,
               verify: VerifySpec | Mapping[str, Any] | None = None) -> Step:
    """``lead`` plans, assigns tasks to ``workers``, checks their results and re-plans;
    after ``max_assignments`` tasks in all the run escalates to a person. ``verify``: checks
    every worker's result must pass before ``lead`` sees it."""
    return Step(SupervisorStep(supervisor=lead.name, workers=[w.name for w in workers],
                               max_assignments=max_assignments,
                               verify=None if verify is None
                               else VerifySpec.model_validate(verify)), (lead, *workers))


def _step(item: StepLike) -> Step:
    return step(item) if isinstance(item, Agent) else item


class WorkflowSettings(TypedDict, total=False):
    """The other settings of a workflow: those of a YAML file (``WorkflowSpec``)."""

    approval_timeout_s: float
    """Seconds a person has to decide on a tool call before it expires (expiry = deny)."""
    guardians: GuardiansSpec | dict[str, Any]
    tags: dict[str, str]
    """Copied onto every usage event of the workflow's runs (e.g. ``department: finance``)."""
    outcome: str
    """The business outcome a completed run delivers (e.g. ``ticket_resolved``)."""
    budgets: list[BudgetSpec | dict[str, Any]]
    tool_defaults: ToolDefaults | dict[str, Any]
    providers: list[ProviderSpec | dict[str, Any]]
    mcp_servers: list[MCPServerSpec | dict[str, Any]]
    remote_agents: list[RemoteAgentSpec | dict[str, Any]]
    knowledge: KnowledgeSpec | dict[str, Any]
    """The knowledge layer: ``{"ontology": "ontology.yaml", "embeddings": {...}}``
    (docs/context.md)."""
    personal: PersonalSpec | dict[str, Any]
    """Whom runs are about and which input values are personal: ``{"subject":
    "$.customer_id", "input": ["$.email"]}`` (docs/personal-data.md)."""
    triggers: list[TriggerSpec | dict[str, Any]]
    """What starts runs by itself: ``[{"name": "inbox", "mail": {...}}]`` (docs/triggers.md,
    docs/mail.md)."""
    defer: DeferSpec | dict[str, Any]
    """Runs may wait for the best window of a price / carbon signal:
    ``{"within": "12h", "prefer": "greenest", "signal": "grid.json"}`` (docs/deferral.md)."""


class Workflow:
    """A workflow declared in Python: a name, steps (agents, or the ``step`` / ``parallel`` /
    ``supervisor`` helpers) and the workflow-wide settings of a YAML file (``WorkflowSpec``).

    Agents and tools are gathered from the steps in order (an agent, then the tools, agents
    and compensating tools it refers to); ``agents=`` and ``tools=`` put some first, or add
    ones the steps do not name. ``settings``: the other ``WorkflowSpec`` fields (``tags``,
    ``outcome``, ``budgets``, ``guardians``, ``tool_defaults``, ``providers``, ...).
    """

    def __init__(self, name: str, steps: Sequence[StepLike], *,
                 agents: Sequence[Agent] = (), tools: Sequence[Callable[..., Any]] = (),
                 version: int | str = 1, description: str | None = None,
                 autonomy: Autonomy | str = Autonomy.ON_THE_LOOP,
                 base_dir: str | Path | None = None,
                 **settings: Unpack[WorkflowSettings]) -> None:
        self._agents: dict[str, Agent] = {}
        self._tools: dict[str, ToolDeclaration] = {}
        for agent in agents:
            self._add_agent(agent)
        for fn in tools:
            self._add_tool(declaration_of(fn))
        gathered = [_step(s) for s in steps]
        for item in gathered:
            for agent in item.agents:
                self._add_agent(agent)
        source = self._source = f"<python workflow {name}>"
        try:
            self.spec = WorkflowSpec.model_validate({
                "name": name, "version": version, "description": description,
                "autonomy": autonomy, **settings,
                "tools": [d.spec() for d in self._tools.values()],
                "agents": [a.spec for a in self._agents.values()],
                "steps": [s.spec for s in gathered]})
        except pydantic.ValidationError as exc:
            raise SpecError(source, validation_problems(
                exc, reference="docs/python.md", skip=STEP_TAGS)) from None
        """The same spec a YAML file parses into."""
        problems = cross_check(self.spec)
        if problems:  # e.g. a scripted agent without a script, an unknown handoff
            raise SpecError(source, problems)
        self.base_dir = Path(base_dir).resolve() if base_dir is not None else self._folder()
        """Folder the tools' modules are imported from, in any process that resumes a run."""

    @classmethod
    def load(cls, path: str | Path) -> Workflow:
        """A workflow from its YAML file, to run from Python (``SpecError`` lists every
        problem with its line and column)."""
        resolved = load_workflow(path)
        flow = cls.__new__(cls)
        flow._agents, flow._tools = {}, {}
        flow.spec, flow.base_dir, flow._source = resolved.spec, resolved.base_dir, str(path)
        return flow

    def _add_agent(self, agent: Agent) -> None:
        known = self._agents.get(agent.name)
        if known is agent:
            return
        if known is not None:
            raise DefinitionError(f"two different Agent objects are named {agent.name!r}; "
                                  "define each agent once and use that object")
        self._agents[agent.name] = agent
        for declaration in agent.tool_declarations:
            self._add_tool(declaration)
        for other in [*agent.agent_tools, *agent.handoffs]:
            self._add_agent(other)

    def _add_tool(self, declaration: ToolDeclaration) -> None:
        known = self._tools.get(declaration.name)
        if known is not None:
            if known.spec() != declaration.spec():
                raise DefinitionError(
                    f"two different tools are named {declaration.name!r}: {known.python} and "
                    f"{declaration.python}")
            return
        self._tools[declaration.name] = declaration
        compensate = declaration.compensate
        if callable(compensate):
            self._add_tool(declaration_of(compensate))
        elif compensate is not None and compensate not in self._tools:
            # a compensation named by a string: the function of that name in the same module
            module = sys.modules.get(declaration.function.__module__)
            fn = getattr(module, compensate, None)
            if callable(fn):
                self._add_tool(declaration_of(fn))

    def _folder(self) -> Path:
        folders = {d.folder for d in self._tools.values()}
        if len(folders) > 1:
            listed = ", ".join(sorted(str(f) for f in folders))
            raise DefinitionError(
                f"workflow {self.spec.name}: its tools come from modules in different folders "
                f"({listed}); pass base_dir= the one they are importable from")
        return folders.pop() if folders else Path.cwd().resolve()

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def hash(self) -> str:
        """SHA-256 of the spec's canonical JSON: runs are pinned to it (as with YAML)."""
        return spec_hash(self.spec)

    def resolve(self) -> ResolvedWorkflow:
        """The engine's form: references checked (``SpecError`` lists every problem), tools
        imported — the functions declared here, not second copies."""
        share_modules(list(self._tools.values()), self.base_dir)
        return resolve(self.spec, self.base_dir, source=self._source)

    def to_yaml(self) -> str:
        """The YAML twin: loaded from a file in ``base_dir`` it pins runs to the same hash."""
        data = self.spec.model_dump(mode="json", exclude_defaults=True)
        header = (f"# Workflow {self.spec.name}, written by Workflow.to_yaml(); "
                  f"hash {self.hash[:12]}\n")
        return header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)

    async def run(self, input: Any = None, *, db: str | Path | None = None,
                  model: ModelProvider | None = None) -> RunResult:
        """Run to the end (or until it waits) on a journal of its own; see ``Runtime``."""
        from .runtime import Runtime

        async with Runtime(db, model=model) as runtime:
            return await runtime.run(self, input)

    def run_sync(self, input: Any = None, *, db: str | Path | None = None,
                 model: ModelProvider | None = None) -> RunResult:
        """``run`` for code without an event loop: starts one, runs, closes everything.

        ``db``: the journal (a SQLite path or URL, or ``postgresql://...``); default
        ``AGENTPLANE_DB``, else the SQLite file the CLI uses, so ``agentplane runs list`` shows
        the run. ``model``: a provider that answers every agent (e.g. ``FunctionModel``)."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self.run(input, db=db, model=model))
        raise RuntimeError("run_sync cannot run inside a running event loop; use "
                           "`await flow.run(...)` there (and if a script's tools are being "
                           "imported to resume a run, keep the script's own run under "
                           "`if __name__ == \"__main__\":`)")

    def __repr__(self) -> str:
        return f"Workflow({self.name!r}, hash={self.hash[:12]})"
