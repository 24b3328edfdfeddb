"""``Agent``: a model, instructions and the tools it may use, declared in Python."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentplane.governance.autonomy import Autonomy
from agentplane.models.scripted import ScriptedReply
from agentplane.runtime.context_spec import AgentKnowledgeSpec, AgentMemorySpec
from agentplane.runtime.spec import AgentSpec, ScriptedReplySpec

from .tools import ToolDeclaration, declaration_of

if TYPE_CHECKING:
    from agentplane.models.base import ModelProvider

    from .results import RunResult
    from .workflows import Workflow

ScriptLine = str | ScriptedReply | ScriptedReplySpec | dict[str, Any]
"""A reply of the scripted model: text (a final answer), a ``Reply`` or its dict form."""


def _reply(line: ScriptLine) -> dict[str, Any]:
    if isinstance(line, str):
        return {"content": line}
    if isinstance(line, ScriptedReplySpec):
        return line.model_dump(exclude_defaults=True)
    if isinstance(line, ScriptedReply):
        return ScriptedReplySpec(content=line.content, tool_calls=line.tool_calls,
                                 usage=line.usage, latency_ms=line.latency_ms, error=line.error,
                                 retryable=line.retryable).model_dump(exclude_defaults=True)
    return dict(line)


def _knowledge(value: AgentKnowledgeSpec | Mapping[str, Any] | bool | None
               ) -> AgentKnowledgeSpec | dict[str, Any] | None:
    if value is True:
        return {}  # every default: retrieve k=5 passages for the task, 1500 tokens at most
    if value is False or value is None:
        return None
    return value if isinstance(value, AgentKnowledgeSpec) else dict(value)


class Agent:
    """An agent: a model, instructions, and the tools (functions, or other agents) it may use.

    The same settings as a YAML ``agents:`` entry (``AgentSpec``); the agent's tools and the
    agents it calls or hands off to join the workflow it is used in.

    Context (docs/context.md): ``knowledge`` — ``True`` for the defaults, or the YAML mapping
    (``{"k": 5, "budget_tokens": 1500, "modes": ["lexical", "graph"], "per_turn": False}``)
    — retrieves from the run tenant's knowledge base before the first model call; ``memory``
    (``{"recall": ["factual"], "tools": True, "write": ["experiential"],
    "subject": "$.customer_id"}``) recalls memories into the same packet, offers ``remember``
    / ``recall`` and says what the run leaves in memory; ``max_tools`` offers at most that many
    of the agent's tools per model call, the most relevant ones.
    """

    def __init__(
        self,
        name: str,
        *,
        model: str = "scripted",
        instructions: str = "",
        description: str | None = None,
        tools: Sequence[Callable[..., Any] | Agent] = (),
        handoffs: Sequence[Agent] = (),
        max_turns: int = 20,
        loop_limit: int = 3,
        autonomy: Autonomy | str | None = None,
        escalation_timeout_s: float | None = None,
        max_output_tokens: int | None = None,
        temperature: float | None = None,
        script: Sequence[ScriptLine] = (),
        knowledge: AgentKnowledgeSpec | Mapping[str, Any] | bool | None = None,
        memory: AgentMemorySpec | Mapping[str, Any] | None = None,
        max_tools: int | None = None,
    ) -> None:
        self.tool_declarations: list[ToolDeclaration] = []
        """The agent's function tools, as declared with ``@tool`` (in the order given)."""
        self.agent_tools: list[Agent] = []
        """Agents this one calls as tools (agent-as-tool)."""
        for item in tools:
            if isinstance(item, Agent):
                self.agent_tools.append(item)
            else:
                declaration = declaration_of(item)
                declaration.check_identity()
                self.tool_declarations.append(declaration)
        self.handoffs = list(handoffs)
        """Agents this one may hand the conversation over to."""
        self.spec = AgentSpec.model_validate(dict(
            name=name, model=model, instructions=instructions, description=description,
            tools=[t.name for t in self.tool_declarations] + [a.name for a in self.agent_tools],
            handoffs=[a.name for a in self.handoffs], max_turns=max_turns,
            loop_limit=loop_limit, autonomy=Autonomy(autonomy) if autonomy else None,
            escalation_timeout_s=escalation_timeout_s, max_output_tokens=max_output_tokens,
            temperature=temperature,
            script=[ScriptedReplySpec.model_validate(_reply(line)) for line in script],
            knowledge=_knowledge(knowledge),
            memory=memory if memory is None or isinstance(memory, AgentMemorySpec)
            else dict(memory),
            max_tools=max_tools))
        """The agent's entry in a workflow spec (the same as in its YAML twin)."""

    @property
    def name(self) -> str:
        return self.spec.name

    def workflow(self) -> Workflow:
        """A workflow of this agent alone, named after it."""
        from .workflows import Workflow

        return Workflow(self.name, steps=[self])

    def run_sync(self, input: Any = None, *, db: str | Path | None = None,
                 model: ModelProvider | None = None) -> RunResult:
        """Run this agent alone (``workflow().run_sync``): a durable run like any other."""
        return self.workflow().run_sync(input, db=db, model=model)

    async def run(self, input: Any = None, *, db: str | Path | None = None,
                  model: ModelProvider | None = None) -> RunResult:
        return await self.workflow().run(input, db=db, model=model)

    def __repr__(self) -> str:
        return f"Agent({self.name!r}, model={self.spec.model!r})"
