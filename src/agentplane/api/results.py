"""What a run gives back to Python: its output, status, usage, cost and open approvals."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from agentplane.journal import Event, EventType, RunRecord, WaitRecord
from agentplane.metering.usage import Pricer


@dataclass(frozen=True, slots=True)
class Approval:
    """A decision a person owes a waiting run (a tool call to allow, an escalation, ...)."""

    id: str
    """Pass it to ``Runtime.approve`` / ``Runtime.deny``."""
    run_id: str
    kind: str
    """``tool_call``, ``escalation``, ``budget`` or ``answer_review``."""
    step_key: str
    """The step of the run that waits."""
    data: dict[str, Any]
    """What is asked: for a tool call ``tool``, ``arguments``, ``agent`` and ``reason``."""
    deadline: float | None
    """Unix time (seconds) after which the approval expires (= deny); None: never."""

    @property
    def tool(self) -> str | None:
        """The tool whose call waits for the decision, if any."""
        value = self.data.get("tool")
        return str(value) if value is not None else None

    @classmethod
    def from_wait(cls, wait: WaitRecord) -> Approval:
        return cls(wait.id, wait.run_id, wait.kind, wait.step_key, dict(wait.data),
                   wait.deadline)


@dataclass(frozen=True, slots=True)
class RunUsage:
    """What a run used, from its journal."""

    input_tokens: int = 0
    """Prompt tokens of every model call, cached ones included."""
    output_tokens: int = 0
    """Completion tokens of every model call, reasoning ones included."""
    cached_input_tokens: int = 0
    reasoning_tokens: int = 0
    model_calls: int = 0
    """Model calls completed."""
    tool_calls: int = 0
    """Tool calls that ended (completed or failed)."""

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


@dataclass(frozen=True, slots=True)
class RunResult:
    """A run as it stands when the call that drove it returned."""

    run_id: str
    status: str
    """``completed``, ``waiting`` (see ``waiting``), ``failed``, ``cancelled``,
    ``needs_reconciliation``, or ``pending`` / ``running`` while another process drives it."""
    output: Any
    """The last step's output once ``completed``; otherwise None."""
    error: str | None
    """Why the run failed (``failed``) or stopped (``needs_reconciliation``)."""
    waiting: tuple[Approval, ...]
    """Open approvals the run waits for (status ``waiting``)."""
    usage: RunUsage
    cost: float
    """What the run cost so far, in USD: model calls priced from the price catalog, plus the
    declared ``cost_usd`` of tool calls."""
    workflow_hash: str
    """SHA-256 of the workflow version the run is pinned to."""
    events: tuple[Event, ...]
    """The run's journal at the time of the result (``agentplane.testing`` reads it)."""
    label: dict[str, Any] | None = None
    """The output's implicit AI-content label (producer, models, run id, time, content
    SHA-256) when the workflow's ``compliance`` labels it; the visible label is in ``output``."""

    @property
    def completed(self) -> bool:
        return self.status == "completed"


def _usage_and_cost(events: Sequence[Event], pricer: Pricer) -> tuple[RunUsage, float]:
    tokens = dict.fromkeys(("input_tokens", "output_tokens", "cached_input_tokens",
                            "reasoning_tokens"), 0)
    models = tools = 0
    cost = 0.0
    for e in events:
        if e.type == EventType.MODEL_COMPLETED:
            models += 1
            usage = e.usage or {}
            for key in tokens:
                tokens[key] += int(usage.get(key, 0) or 0)
            model = str(e.data.get("provider_model") or e.data.get("model") or "")
            cost += pricer(model, usage).usd
        elif e.type in (EventType.TOOL_COMPLETED, EventType.TOOL_FAILED) and not e.data.get(
                "reconciled"):
            tools += 1
            cost += float(e.data.get("cost_usd") or 0.0)
    return RunUsage(**tokens, model_calls=models, tool_calls=tools), cost


def result_of(run: RunRecord, events: Sequence[Event], waits: Sequence[WaitRecord],
              pricer: Pricer) -> RunResult:
    """The result of ``run`` from its journal and its open waits."""
    output: Any = None
    error: str | None = None
    for e in reversed(events):
        if e.type == EventType.RUN_COMPLETED and run.status == "completed":
            output = e.data.get("output")
            break
        if e.type in (EventType.RUN_FAILED, EventType.RUN_NEEDS_RECONCILIATION) and (
                run.status in ("failed", "needs_reconciliation")):
            error = str(e.data.get("error") or e.data.get("reason") or "")
            break
    from agentplane.journal.events import APPROVAL_KINDS

    usage, cost = _usage_and_cost(events, pricer)
    waiting = tuple(Approval.from_wait(w) for w in waits
                    if w.status == "open" and w.kind in APPROVAL_KINDS)
    from agentplane.compliance.labels import label_of

    return RunResult(run.id, run.status, output, error, waiting, usage, round(cost, 9),
                     run.workflow_hash, tuple(events), label_of(events))
