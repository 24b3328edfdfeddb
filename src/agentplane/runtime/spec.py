"""Workflow specifications: what a YAML workflow file (or the same built in Python) declares.

The shape, in YAML::

    name: refund-desk
    version: 1
    tools:
      - name: issue_refund
        python: tools:issue_refund   # module:function, importable from the file's folder
        effect: write                # read | write | irreversible
        idempotent: true
        compensate: cancel_refund
    agents:
      - name: clerk
        model: scripted              # or openai:gpt-4o-mini, or a provider entry's name
        instructions: "You handle refunds."
        tools: [issue_refund]
        script: [...]                # replies of the scripted model, in order
    steps:
      - agent: clerk                 # or parallel: [...], or supervisor: lead + workers: [...]
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_serializer,
)
from pydantic_core.core_schema import SerializerFunctionWrapHandler

from agentplane.governance.autonomy import Autonomy, most_restrictive
from agentplane.governance.spec import GuardiansSpec
from agentplane.metering.spec import BudgetSpec
from agentplane.tools.base import Effect
from agentplane.tools.isolation import Isolation
from agentplane.tools.sources.spec import MCPServerSpec, RemoteAgentSpec
from agentplane.tools.trust import TrustField

from .compliance_spec import ComplianceSpec
from .context_spec import AgentKnowledgeSpec, AgentMemorySpec, KnowledgeSpec
from .ensemble_spec import EnsembleSpec
from .personal_spec import PersonalSpec, check_paths
from .routing_spec import RouterSpec
from .trigger_spec import DeferSpec, Triggers
from .verify_spec import VerifySpec

NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_\-]{0,63}$"
Name = Annotated[str, Field(pattern=NAME_PATTERN)]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ProviderSpec(_Spec):
    """A named model endpoint, used by agents as ``model: NAME`` or ``model: NAME:MODEL``."""

    name: Name
    kind: Literal["openai", "anthropic", "scripted"] = "openai"
    """Wire format: OpenAI-compatible chat completions, or Anthropic Messages; ``scripted``:
    the agents' scripts answer, standing in for ``model`` (offline rehearsals, demos)."""
    base_url: str | None = None
    api_key_env: str | None = None
    """Name of the environment variable holding the key (the key itself never goes in a file)."""
    model: str | None = None
    """Default model name at this endpoint."""
    timeout_s: float = 60.0
    max_retries: int = Field(default=3, ge=0, le=10)
    stream: bool = False
    local: bool | None = None
    """Runs on the organisation's own machines (routers keep personal data on such models)."""
    region: str | None = None
    """Where the endpoint processes data (``eu``, ``cn``, ``us``...), for data residency."""

    @model_serializer(mode="wrap")
    def _unset_left_out(self, handler: SerializerFunctionWrapHandler) -> Any:
        return drop_unset(handler(self), ("local", "region"))


class RetrySpec(_Spec):
    """How a call that timed out or crashed is tried again. Only ``read`` and idempotent tools
    are retried; any other call that may have happened waits for a person instead."""

    attempts: int = Field(default=3, ge=1, le=20)
    """Attempts in all, the first one included."""
    backoff_s: float = Field(default=0.5, ge=0)
    """Seconds before the second attempt; each further wait is ``factor`` times longer."""
    factor: float = Field(default=2.0, ge=1)
    max_backoff_s: float = Field(default=30.0, ge=0)

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        return float(min(self.max_backoff_s, self.backoff_s * self.factor ** (attempt - 1)))


class ToolDefaults(_Spec):
    """Settings of every tool of the workflow, unless the tool sets its own."""

    timeout_s: float = Field(default=300.0, gt=0)
    """Seconds a call may take before it is given up (then: retried, failed or reconciled)."""
    isolation: Isolation = Isolation.INLINE
    """Where Python tools run: ``inline`` (a thread of the runtime) or ``process`` (a child
    process per call, which survives ``os._exit``, crashes and hangs; costs a fork)."""
    retry: RetrySpec = RetrySpec()
    max_result_chars: int = Field(default=1_000_000, ge=1_000)
    """A result longer than this (as JSON) is journaled truncated, and says so."""


class ToolSpec(_Spec):
    """A tool and its side-effect declaration."""

    name: Name
    python: str = Field(pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
    """``module:function``, importable from the workflow file's folder."""
    description: str | None = None
    effect: Effect = Effect.WRITE
    """Unknown tools are not assumed harmless: the default is ``write``."""
    idempotent: bool = False
    compensate: Name | None = None
    trust: TrustField | None = None
    """``untrusted`` for tools whose output comes from outside: mail, web pages, documents,
    other companies' agents. Values from it are traced by the provenance guardian. Or per
    field: ``{default: untrusted, trusted: ["$.files[*].id", "id"]}`` (see docs/guardians.md).
    Undeclared: a ``read`` tool's result is trusted, a ``write`` or ``irreversible`` tool's
    result is not a trusted origin."""
    external: bool = False
    """Whether the tool reaches outside the organisation (mail, web posts, exports, web
    fetches): the output guardian keeps secrets and personal data from leaving through it, and
    its destination arguments must trace to a trusted origin once untrusted content is in."""
    composed: list[str] | None = None
    """Arguments that are free text the agent composes (default: by name, e.g. ``body``)."""
    destination: list[str] | None = None
    """Arguments that say where an external call goes (default: by name, e.g. ``url``)."""
    cost_usd: float = Field(default=0.0, ge=0)
    """What one call costs (a paid API, an SMS), in USD; metered and checked against budgets."""
    autonomy: Autonomy | None = None
    timeout_s: float | None = Field(default=None, gt=0)
    """Overrides ``tool_defaults.timeout_s`` for this tool."""
    isolation: Isolation | None = None
    """Overrides ``tool_defaults.isolation`` for this tool."""
    retry: RetrySpec | None = None
    """Overrides ``tool_defaults.retry`` for this tool."""
    classification: Literal["public", "internal", "personal", "confidential"] | None = None
    """What the tool's results are: personal or confidential data stays on local models and
    in the workflow's allowed regions."""
    region: str | None = None
    """Where the tool's data lives (``eu``, ``cn``...), for data residency."""
    personal: list[str] | None = None
    """Paths of the tool's result whose values are personal data (``$`` for all of it): the
    journal keeps them encrypted under the run's subject's key (see ``personal:``)."""

    @field_validator("personal")
    @classmethod
    def _personal_paths(cls, paths: list[str] | None) -> list[str] | None:
        return check_paths(paths)

    @model_serializer(mode="wrap")
    def _unset_left_out(self, handler: SerializerFunctionWrapHandler) -> Any:
        return drop_unset(handler(self), ("classification", "region", "personal"))


class ScriptedReplySpec(_Spec):
    """One reply of the scripted model."""

    content: str | None = None
    tool_calls: list[dict[str, Any]] = Field(default_factory=list)
    usage: dict[str, int] | None = None
    latency_ms: float = Field(default=0.0, ge=0)
    error: str | None = None
    retryable: bool = False


class AgentSpec(_Spec):
    """An agent: a model, instructions and the tools it may use."""

    name: Name
    model: str = "scripted"
    instructions: str = ""
    description: str | None = None
    """What the agent is for; shown to supervisors and to agents that hand off to it."""
    tools: list[Name] = Field(default_factory=list)
    """Tool names, or names of other agents to call as tools (agent-as-tool)."""
    handoffs: list[Name] = Field(default_factory=list)
    """Agents this one may hand the conversation over to."""
    max_turns: int = Field(default=20, ge=1, le=1000)
    """Model calls per invocation before the run escalates to a person."""
    loop_limit: int = Field(default=3, ge=2, le=100)
    """The same tool call with the same arguments this many times is a loop: escalate."""
    autonomy: Autonomy | None = None
    escalation_timeout_s: float | None = Field(default=None, gt=0)
    """Seconds a person has to answer an escalation before it expires (expiry = deny)."""
    max_output_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    script: list[ScriptedReplySpec] = Field(default_factory=list)
    knowledge: AgentKnowledgeSpec | None = None
    """What the agent retrieves from the tenant's knowledge base before its model calls."""
    memory: AgentMemorySpec | None = None
    """What the agent recalls, whether it has ``remember`` / ``recall`` tools, and what is
    written at the run's end."""
    max_tools: int | None = Field(default=None, ge=1, le=1000)
    """Offer at most this many of the agent's tools per turn: those used in this run first,
    then the most relevant to the task (None: all of them)."""

    @model_serializer(mode="wrap")
    def _unset_context_left_out(self, handler: SerializerFunctionWrapHandler) -> Any:
        return drop_unset(handler(self), ("knowledge", "memory", "max_tools"))


def drop_unset(data: Any, keys: tuple[str, ...]) -> Any:
    """A dumped spec without the settings that are not set (None or an empty list): a workflow
    that uses none of them hashes (and pins runs) exactly as it did before they existed."""
    if isinstance(data, dict):
        for key in keys:
            if key in data and (data[key] is None or data[key] == []):
                del data[key]
    return data


class AgentStep(_Spec):
    """Run one agent on the step's input."""

    agent: Name
    input: str | None = None
    """Text given to the agent instead of the previous step's output. ``{input}`` is replaced by
    that output."""
    ensemble: EnsembleSpec | None = None
    """Send the task to several models or agents at once; a judge keeps one answer."""
    verify: VerifySpec | None = None
    """Checks the agent's answer must pass before it goes on."""

    @model_serializer(mode="wrap")
    def _unset_left_out(self, handler: SerializerFunctionWrapHandler) -> Any:
        return drop_unset(handler(self), ("ensemble", "verify"))


class ParallelStep(_Spec):
    """Run several steps at once on the same input; the output maps each branch to its result."""

    parallel: list[Step] = Field(min_length=1)


class SupervisorStep(_Spec):
    """A supervisor agent plans, assigns tasks to workers, checks their results and re-plans."""

    supervisor: Name
    workers: list[Name] = Field(min_length=1)
    max_assignments: int = Field(default=10, ge=1, le=200)
    """Tasks the supervisor may assign in all before the run escalates to a person."""
    verify: VerifySpec | None = None
    """Checks every worker's result must pass before the supervisor (or another agent) sees it."""

    @model_serializer(mode="wrap")
    def _unset_left_out(self, handler: SerializerFunctionWrapHandler) -> Any:
        return drop_unset(handler(self), ("verify",))


def _step_kind(value: Any) -> str | None:
    if isinstance(value, dict):
        keys = value.keys()
    elif isinstance(value, BaseModel):
        keys = type(value).model_fields.keys()
    else:
        return None
    for key, tag in (("parallel", "parallel-step"), ("supervisor", "supervisor-step"),
                     ("agent", "agent-step")):
        if key in keys:
            return tag
    return None


Step = Annotated[
    Annotated[AgentStep, Tag("agent-step")]
    | Annotated[ParallelStep, Tag("parallel-step")]
    | Annotated[SupervisorStep, Tag("supervisor-step")],
    Discriminator(
        _step_kind,
        custom_error_type="step_kind",
        custom_error_message="a step needs one of the keys `agent`, `parallel` or `supervisor`",
    ),
]
STEP_TAGS = frozenset({"agent-step", "parallel-step", "supervisor-step"})

ParallelStep.model_rebuild()


class WorkflowSpec(_Spec):
    """A whole workflow: providers, tools, agents and the steps that use them."""

    name: Name
    version: int | str = 1
    description: str | None = None
    autonomy: Autonomy = Autonomy.ON_THE_LOOP
    """The workflow's autonomy level; agents and tools may set a stricter one."""
    approval_timeout_s: float | None = Field(default=None, gt=0)
    """Seconds a person has to decide on a tool call before it expires (expiry = deny)."""
    guardians: GuardiansSpec = GuardiansSpec()
    tags: dict[str, str] = Field(default_factory=dict)
    """Copied onto every usage event of the workflow's runs (e.g. ``department: finance``)."""
    outcome: str | None = None
    """The business outcome a completed run delivers (e.g. ``ticket_resolved``): recorded as
    an ``outcome.recorded`` event, for per-outcome billing and cost per outcome."""
    budgets: list[BudgetSpec] = Field(default_factory=list)
    tool_defaults: ToolDefaults = ToolDefaults()
    """Timeout, isolation, retry policy and result size limit of every tool."""
    providers: list[ProviderSpec] = Field(default_factory=list)
    mcp_servers: list[MCPServerSpec] = Field(default_factory=list)
    """MCP servers whose declared tools agents may use, as ``<server>_<tool>``."""
    remote_agents: list[RemoteAgentSpec] = Field(default_factory=list)
    """Remote A2A agents agents may hand tasks to, as tools named after them."""
    tools: list[ToolSpec] = Field(default_factory=list)
    agents: list[AgentSpec] = Field(min_length=1)
    steps: list[Step] = Field(min_length=1)
    knowledge: KnowledgeSpec | None = None
    """The knowledge layer agents retrieve from: the graph's ontology, an embeddings
    endpoint for vectors, the tenant scope."""
    routers: list[RouterSpec] = Field(default_factory=list)
    """Routers agents use as ``model: router:NAME``: a model chosen per call."""
    triggers: Triggers = Field(default_factory=list)
    """What starts the workflow's runs by itself: schedules, webhooks, mailboxes."""
    defer: DeferSpec | None = None
    """Runs may wait for the cheapest or greenest window of a signal, within a deadline."""
    compliance: ComplianceSpec | None = None
    """Risk class, intended purpose, log retention, labels, data residency."""
    personal: PersonalSpec | None = None
    """Whom each run is about and which values are personal: kept encrypted per subject in
    the journal, so they can be erased (``agentplane data erase``) with the chain intact."""

    @model_serializer(mode="wrap")
    def _unset_context_left_out(self, handler: SerializerFunctionWrapHandler) -> Any:
        return drop_unset(handler(self), ("knowledge", "routers", "triggers", "defer",
                                          "compliance", "personal"))

    def tool(self, name: str) -> ToolSpec | None:
        return next((t for t in self.tools if t.name == name), None)

    def retry_for(self, tool: str) -> RetrySpec:
        spec = self.tool(tool)
        return spec.retry if spec is not None and spec.retry is not None else (
            self.tool_defaults.retry)

    def agent(self, name: str) -> AgentSpec | None:
        return next((a for a in self.agents if a.name == name), None)

    def mcp_tool_names(self) -> set[str]:
        return {s.exposed(t.name) for s in self.mcp_servers for t in s.tools}

    def remote_tool_names(self) -> set[str]:
        return {r.name for r in self.remote_agents}

    def autonomy_for(self, agent: str, tool: str) -> Autonomy:
        """The level that applies to ``agent`` calling ``tool``: the most restrictive one set."""
        agent_spec, tool_spec = self.agent(agent), self.tool(tool)
        return most_restrictive(self.autonomy, agent_spec.autonomy if agent_spec else None,
                                tool_spec.autonomy if tool_spec else None)
