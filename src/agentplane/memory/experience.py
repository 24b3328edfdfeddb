"""Experiential memory: what a finished run was asked, how it ended, what it cost and what
went wrong, summarised from its journal.

The summary is deterministic — the same run and events always give the same memory, id
included — so writing it at run end is a step that happens once (its write key is
``run:<id>/summary``) and a replay writes nothing new. No model is asked to summarise.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from agentplane.journal import Event, EventType, RunRecord, canonical_json
from agentplane.knowledge.types import TrustLevel

from .store import memory_id
from .types import Memory

HEAD_CHARS = 240
"""How much of the task, the output and each error a summary keeps (characters)."""
_CLOSES = {EventType.APPROVAL_GRANTED: "granted", EventType.APPROVAL_DENIED: "denied",
           EventType.APPROVAL_EXPIRED: "expired"}
_ENDS = {EventType.RUN_COMPLETED: "completed", EventType.RUN_FAILED: "failed",
         EventType.RUN_CANCELLED: "cancelled"}


def summary_key(run_id: str) -> str:
    """The write key of a run's summary: one summary per run."""
    return f"run:{run_id}/summary"


def _head(value: Any, chars: int = HEAD_CHARS) -> str:
    text = value if isinstance(value, str) else canonical_json(value)
    text = " ".join(text.split())
    return text if len(text) <= chars else text[:chars - 1] + "…"


def _field(data: Any, path: str) -> Any:
    """``customer_id`` or ``order.customer_id`` in a run's input (None when absent)."""
    for part in path.split("."):
        if not isinstance(data, Mapping) or part not in data:
            return None
        data = data[part]
    return data


def _wait(e: Event) -> str:
    """The wait an approval event opens or closes."""
    return str(e.data.get("wait_id") or e.step_key or "")


@dataclass(slots=True)
class _Tally:
    """What the events of a run add up to."""

    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = None
    calls: Counter[str] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)
    refusals: list[dict[str, Any]] = field(default_factory=list)
    approvals: dict[str, dict[str, Any]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    end: str | None = None
    end_data: dict[str, Any] = field(default_factory=dict)

    def add(self, e: Event) -> None:
        if e.usage:
            self.input_tokens += int(e.usage.get("input_tokens", 0) or 0)
            self.output_tokens += int(e.usage.get("output_tokens", 0) or 0)
        cost = e.data.get("cost_usd")
        if isinstance(cost, int | float) and not isinstance(cost, bool):
            self.cost_usd = (self.cost_usd or 0.0) + float(cost)
        tool = str(e.data.get("tool", ""))
        if e.type == EventType.TOOL_COMPLETED:
            self.calls[tool] += 1
        elif e.type == EventType.TOOL_FAILED:
            self.calls[tool] += 1
            self.failures[tool] += 1
            self._error(f"{tool}: {e.data.get('error', '')}")
        elif e.type == EventType.MODEL_FAILED:
            self._error(f"model: {e.data.get('error', '')}")
        elif e.type == EventType.GUARD_DECIDED and e.data.get("result") == "deny":
            self.refusals.append({"tool": tool or None, "by": e.data.get("guardian"),
                                  "reason": _head(e.data.get("reason", ""))})
        elif e.type == EventType.APPROVAL_REQUESTED:
            self.approvals[_wait(e)] = {
                "kind": e.data.get("kind"), "tool": tool or None,
                "asked_because": _head(e.data.get("reason", "")), "decision": "pending",
                "by": None, "said": None}
        elif e.type in _CLOSES and _wait(e) in self.approvals:
            said = e.data.get("reason")
            self.approvals[_wait(e)].update(
                decision=_CLOSES[e.type], by=e.actor, said=_head(said) if said else None)
        elif e.type in _ENDS:
            self.end, self.end_data = _ENDS[e.type], dict(e.data)
            if e.type == EventType.RUN_FAILED:
                self._error(str(e.data.get("error", "")))

    def _error(self, text: str) -> None:
        head = _head(text)
        if head not in self.errors:
            self.errors.append(head)


def _lines(task: str, outcome: str, output: str | None, t: _Tally) -> list[str]:
    lines = [f"Task: {task}", f"Outcome: {outcome}" + (f" — {output}" if output else "")]
    cost = f"Cost: {t.input_tokens + t.output_tokens} tokens ({t.input_tokens} in, " \
           f"{t.output_tokens} out)"
    lines.append(cost + (f", ${t.cost_usd:.4f}." if t.cost_usd is not None else "."))
    if t.calls:
        lines.append("Tools: " + ", ".join(
            name + (f" ×{n}" if n > 1 else "")
            + (f" ({t.failures[name]} failed)" if t.failures[name] else "")
            for name, n in t.calls.items()) + ".")
    for r in t.refusals:
        lines.append(f"Refused: {r['tool'] or 'output'} by {r['by']} — {r['reason']}")
    for a in t.approvals.values():
        line = f"Approval ({a['kind']}) for {a['tool'] or 'the run'}, asked because " \
               f"{a['asked_because'] or 'a person had to decide'}: {a['decision']}"
        lines.append(line + (f" by {a['by']}" if a["by"] else "")
                     + (f" — {a['said']}" if a["said"] else "") + ".")
    if t.errors:
        lines.append("Errors: " + "; ".join(t.errors))
    return lines


def summarise_run(run: RunRecord, events: Sequence[Event], *,
                  subject_field: str | None = None, untrusted_tools: Collection[str] = (),
                  created_by: str = "system") -> Memory:
    """The experiential memory of a finished run (not yet written: give it to
    ``MemoryStore.write(memory, key=summary_key(run.id))``).

    Its text states the task (the run's input), the outcome (completed / failed / cancelled
    and the head of the output or error), the cost (tokens, and US dollars where events carry
    ``cost_usd``), the tools called, refusals, approvals (asked why, decided by whom, what they
    said) and errors. ``subject_field`` names an input field (``customer_id``) whose value, when
    the input has it, becomes the memory's subject. The summary is untrusted when the run's
    output was marked as tracing to untrusted content, or when it used a tool named in
    ``untrusted_tools``: recalled later, it is then guarded as untrusted content."""
    tally = _Tally()
    for e in events:
        tally.add(e)
    outcome = tally.end or run.status
    output: str | None = None
    if tally.end == "completed":
        output = _head(tally.end_data.get("output"))
    elif tally.end in ("failed", "cancelled"):
        reason = tally.end_data.get("error") or tally.end_data.get("reason")
        output = _head(reason) if reason else None
    task = _head(run.input)
    found = _field(run.input, subject_field) if subject_field else None
    subject = None if found is None or isinstance(found, Mapping | list) else str(found)
    untrusted = bool(tally.end_data.get("untrusted_values")) or any(
        tool in tally.calls for tool in untrusted_tools)
    trust: TrustLevel = "untrusted" if untrusted else "trusted"
    value = {"run": run.id, "workflow": run.workflow, "task": task, "outcome": outcome,
             "output": output,
             "tokens": {"input": tally.input_tokens, "output": tally.output_tokens},
             "cost_usd": tally.cost_usd,
             "tools": [{"tool": n, "calls": c, "failed": tally.failures[n]}
                       for n, c in tally.calls.items()],
             "refusals": tally.refusals, "approvals": list(tally.approvals.values()),
             "errors": tally.errors}
    last = events[-1].time if events else run.updated_at
    return Memory(id=memory_id(run.tenant, summary_key(run.id)), tenant=run.tenant,
                  kind="experiential", text="\n".join(_lines(task, outcome, output, tally)),
                  subject=subject,
                  relation="run", value=value, source=f"run:{run.id}", trust=trust,
                  created_at=last, created_by=created_by,
                  meta={"workflow": run.workflow, "outcome": outcome})
