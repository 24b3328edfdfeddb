"""A run's journal as a person reads it: one timeline entry per event, with the agent's
reasoning, model calls and their tokens, tool calls with arguments and results, guardian
decisions with policy and reason, approvals, and the cost and energy of each step."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from agentplane.journal import Event, EventType

from .timeline_sim import simulation_entry

T = EventType


@dataclass(frozen=True, slots=True)
class StepCost:
    """What the ledger charged for one journal event."""

    usd: float
    """Cost in US dollars."""
    kwh: float | None
    """Energy in kilowatt-hours, when known."""


@dataclass
class Entry:
    """One event of the timeline."""

    seq: int
    time: str
    """Clock time of the event, ``HH:MM:SS.mmm`` (UTC)."""
    type: str
    kind: str
    """What the entry is about: ``run``, ``agent``, ``model``, ``tool``, ``guard``,
    ``approval``, ``simulation``, ``note`` — the badge and colour."""
    title: str
    actor: str
    step_key: str | None
    run_id: str = ""
    """The run the event belongs to (for the link to a value shown in part)."""
    tone: str = "plain"
    """``plain``, ``muted``, ``ok``, ``warn`` or ``bad``."""
    text: str | None = None
    """Prose: the agent's reasoning or answer, a task, an output."""
    alert: str | None = None
    """A highlighted reason: a guardian's block, an error, why an approval is asked for."""
    facts: list[tuple[str, str]] = field(default_factory=list)
    blocks: list[tuple[str, str]] = field(default_factory=list)
    """Labelled JSON (pretty-printed): arguments, results, details."""
    context: Packet | None = None
    """For ``context.packet``: what the model was shown, and what was left out."""


@dataclass
class Packet:
    """A context packet as the run page shows it: "why did the agent know this"."""

    items: list[Mapping[str, Any]]
    """Each item shown: id, kind, source, trust, score, text."""
    dropped: list[Mapping[str, Any]]
    """Each item left out: id, reason, detail."""
    conflicts: list[Mapping[str, Any]]
    """Each disagreement: subject, relation, kept id, dropped ids, values."""


def pretty(value: Any) -> str:
    """JSON as people read it (indented, non-ASCII kept); strings as they are."""
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)


def clock(iso: str) -> str:
    """``2026-11-22T06:54:30.227785Z`` → ``06:54:30.227``."""
    _, _, rest = iso.partition("T")
    return rest[:12] if rest else iso


def tokens_text(usage: Mapping[str, int] | None) -> str | None:
    if not usage:
        return None
    text = f"{usage.get('input_tokens', 0):,} in · {usage.get('output_tokens', 0):,} out"
    if usage.get("cached_input_tokens"):
        text += f" · {usage['cached_input_tokens']:,} cached"
    if usage.get("reasoning_tokens"):
        text += f" · {usage['reasoning_tokens']:,} reasoning"
    return text


def money(usd: float | None) -> str:
    """US dollars with enough digits for a single model call."""
    if usd is None:
        return "—"
    if usd == 0:
        return "$0.00"
    if abs(usd) < 0.01:
        return f"${usd:.6f}".rstrip("0")
    return f"${usd:,.2f}"


def energy(kwh: float | None) -> str:
    if kwh is None:
        return "—"
    if kwh < 1:
        return f"{kwh * 1000:.3g} Wh"
    return f"{kwh:,.3f} kWh"


def _latency(data: Mapping[str, Any]) -> str | None:
    ms = data.get("latency_ms")
    return f"{float(ms):,.1f} ms" if isinstance(ms, int | float) else None


def _facts(*pairs: tuple[str, Any]) -> list[tuple[str, str]]:
    return [(label, str(value)) for label, value in pairs if value not in (None, "", [], {})]


# -- one builder per kind of event ------------------------------------------------------------

def _run(e: Event, entry: Entry) -> None:
    d = e.data
    name = e.type.split(".", 1)[1].replace("_", " ")
    entry.title = f"Run {name}"
    if e.type == T.RUN_CREATED:
        entry.facts = _facts(("workflow", d.get("workflow")), ("tenant", d.get("tenant")))
        entry.blocks = [("input", pretty(d.get("input")))]
    elif e.type in (T.RUN_STARTED, T.RUN_RESUMED):
        entry.tone = "muted"
        entry.facts = _facts(("worker", d.get("worker")))
    elif e.type == T.RUN_WAITING:
        entry.title, entry.tone = "Run waiting for a person", "warn"
        entry.facts = _facts(("waits", ", ".join(d.get("waits") or [])))
    elif e.type == T.RUN_COMPLETED:
        entry.tone, entry.text = "ok", _prose(d.get("output"))
    elif e.type == T.RUN_FAILED:
        entry.tone, entry.alert = "bad", str(d.get("error", ""))
    elif e.type == T.RUN_CANCELLED:
        entry.tone = "warn"
        entry.alert = f"cancelled by {e.actor}" + (f": {d['reason']}" if d.get("reason") else "")
    elif e.type == T.RUN_NEEDS_RECONCILIATION:
        entry.title, entry.tone = "Run needs reconciliation by a person", "bad"
        entry.alert = str(d.get("reason", ""))
        if "arguments" in d:
            entry.blocks = [("arguments", pretty(d["arguments"]))]
    else:
        entry.tone = "muted"


def _prose(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else pretty(value)


def _agent(e: Event, entry: Entry) -> None:
    d = e.data
    agent = d.get("agent", e.actor.removeprefix("agent:"))
    if e.type == T.AGENT_INVOKED:
        entry.title = f"Agent {agent} takes the task"
        entry.text = _prose(d.get("task"))
        identity = d.get("identity") or {}
        entry.facts = _facts(("model", d.get("model")), ("identity", identity.get("id")),
                             ("version", identity.get("version")))
    else:
        entry.title = f"Agent {agent} answers"
        entry.tone = "ok"
        entry.text = _prose(d.get("output"))


def _routed(d: Mapping[str, Any], entry: Entry) -> None:
    """A router's decision: what it chose, why, and why the others were passed over."""
    chosen = d.get("chosen") or "nothing"
    entry.title = f"Router {d.get('router')} chooses {chosen}"
    entry.tone = "bad" if not d.get("chosen") else (
        "warn" if d.get("fallback_from") or d.get("escalated") else "muted")
    entry.facts = _facts(("reason", d.get("reason")), ("fallback from", d.get("fallback_from")),
                         ("escalated to the cloud", "yes" if d.get("escalated") else None))
    passed = {str(c.get("model")): c.get("rejected") for c in _mappings(d.get("candidates"))
              if c.get("rejected")}
    if passed:
        entry.blocks = [("passed over", pretty(passed))]


def _model(e: Event, entry: Entry) -> None:
    d = e.data
    model = d.get("provider_model") or d.get("model") or "model"
    if e.type == T.MODEL_ROUTED:
        _routed(d, entry)
        return
    if e.type == T.MODEL_REQUESTED:
        entry.title, entry.tone = f"Asks {model}", "muted"
        entry.facts = _facts(("messages", d.get("messages")),
                             ("tools offered", ", ".join(d.get("tools") or [])))
        return
    if e.type == T.MODEL_FAILED:
        entry.title, entry.tone = f"{model} failed", "bad"
        entry.alert = str(d.get("error", ""))
        entry.facts = _facts(("status", d.get("status")), ("retryable", d.get("retryable")))
        return
    response = d.get("response") or {}
    entry.title = f"{model} answers"
    entry.text = response.get("content")
    calls = response.get("tool_calls") or []
    entry.facts = _facts(("tokens", tokens_text(e.usage)), ("latency", _latency(d)),
                         ("finish", response.get("finish_reason")),
                         ("asks to call", ", ".join(str(c.get("name")) for c in calls)))
    for call in calls:
        entry.blocks.append((f"{call.get('name')}(…)", pretty(call.get("arguments", {}))))


def _tool(e: Event, entry: Entry) -> None:
    d = e.data
    tool = d.get("tool", "tool")
    if e.type == T.TOOL_PROPOSED:
        entry.title = f"Proposes {tool}"
        entry.blocks = [("arguments", pretty(d.get("arguments", {})))]
    elif e.type == T.TOOL_STARTED:
        entry.title = f"Calls {tool}"
        entry.facts = _facts(("effect", d.get("effect")), ("attempt", d.get("attempt")),
                             ("idempotent", "yes" if d.get("idempotent") else None))
        entry.blocks = [("arguments", pretty(d.get("arguments", {})))]
    elif e.type == T.TOOL_COMPLETED:
        entry.title, entry.tone = f"{tool} returns", "ok"
        entry.facts = _facts(("latency", _latency(d)))
        entry.blocks = [("result", pretty(d.get("result")))]
    elif e.type == T.TOOL_FAILED:
        entry.title, entry.tone = f"{tool} failed", "bad"
        entry.alert = str(d.get("error", ""))
    else:  # compensated
        entry.title, entry.tone = f"{tool} reversed {d.get('of', '')}", "warn"
        entry.blocks = [("arguments", pretty(d.get("arguments", {}))),
                        ("result", pretty(d.get("result")))]


GUARD_TONES = {"allow": "muted", "deny": "bad", "ask": "warn"}


def _guard(e: Event, entry: Entry) -> None:
    d = e.data
    result = str(d.get("result", "?"))
    name = str(d.get("guardian") or "guardians")
    who = "Guardians" if name == "guardians" else f"Guardian {name}"  # "guardians": all of them
    entry.title = f"{who}: {result} {d.get('tool', '')}".strip()
    entry.tone = GUARD_TONES.get(result, "warn")
    policy = d.get("policy_id")
    if policy is not None:
        policy = f"{policy} v{d.get('policy_version', '?')}"
    entry.facts = _facts(("result", result), ("policy", policy), ("agent", d.get("agent")))
    if result == "allow":
        entry.text = d.get("reason")
    else:
        entry.alert = d.get("reason")
    if d.get("details"):
        entry.blocks = [("details", pretty(d["details"]))]


def _approval(e: Event, entry: Entry) -> None:
    d = e.data
    if e.type == T.APPROVAL_REQUESTED:
        what = d.get("tool") or d.get("budget") or d.get("kind", "")
        entry.title, entry.tone = f"Approval requested: {what}", "warn"
        entry.alert = d.get("reason")
        entry.text = d.get("reasoning")
        entry.facts = _facts(("kind", d.get("kind")), ("autonomy", d.get("autonomy")),
                             ("effect", d.get("effect")), ("wait", d.get("wait_id")))
        if "arguments" in d:
            entry.blocks.append(("arguments", pretty(d["arguments"])))
        if d.get("findings"):
            entry.blocks.append(("findings", pretty(d["findings"])))
        return
    verdict = e.type.split(".", 1)[1]
    entry.title = f"Approval {verdict} by {e.actor}"
    entry.tone = "ok" if e.type == T.APPROVAL_GRANTED else "bad"
    entry.text = d.get("reason") or None


def _part(data: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    """``data[name]`` when the event nests it there, else the event's data itself."""
    found = data.get(name)
    return found if isinstance(found, Mapping) else data


def _mappings(value: Any) -> list[Mapping[str, Any]]:
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def _context(e: Event, entry: Entry) -> None:
    """``context.packet``: the context one model call was given, item by item."""
    d = e.data
    packet = _part(d, "packet")
    items = _mappings(packet.get("items"))
    agent = d.get("agent") or e.actor.removeprefix("agent:")
    entry.kind, entry.title = "context", f"Context for {agent}: {len(items)} item(s)"
    entry.context = Packet(items, _mappings(packet.get("dropped")),
                           _mappings(packet.get("conflicts")))
    query = str(packet.get("query") or "")
    entry.facts = _facts(("for", query if len(query) <= 90 else query[:90] + "…"),
                         ("tokens", _fraction(packet.get("tokens"), packet.get("budget"))),
                         ("dropped", len(entry.context.dropped) or None),
                         ("conflicts", len(entry.context.conflicts) or None))
    if entry.context.conflicts:
        entry.tone = "warn"
        entry.alert = "; ".join(
            f"sources disagree on {c.get('subject')}'s {c.get('relation')}: kept "
            f"{c.get('kept')}, dropped {', '.join(map(str, c.get('dropped') or []))}"
            for c in entry.context.conflicts)


def _fraction(used: Any, budget: Any) -> str | None:
    if not isinstance(used, int):
        return None
    return f"{used:,} of {budget:,}" if isinstance(budget, int) and budget else f"{used:,}"


def _tools_selected(e: Event, entry: Entry) -> None:
    """``tools.selected``: which of the offered tools a turn was given, and why."""
    d = e.data
    chosen = [str(t) for t in d.get("tools") or d.get("selected") or []]
    agent = d.get("agent") or e.actor.removeprefix("agent:")
    entry.kind, entry.tone = "context", "muted"
    entry.title = f"Tools for {agent}: {len(chosen)} chosen"
    offered = d.get("offered")
    offered_n = len(offered) if isinstance(offered, list) else offered
    entry.facts = _facts(("chosen", ", ".join(chosen)), ("of", offered_n),
                         ("limit", d.get("limit")),
                         ("used before", ", ".join(map(str, d.get("used") or []))))
    entry.text = d.get("reason") or None
    extra = {k: v for k, v in d.items()
             if k not in ("agent", "tools", "selected", "offered", "limit", "used", "reason")}
    if extra:
        entry.blocks = [("details", pretty(extra))]


def _memory(e: Event, entry: Entry) -> None:
    """``memory.written`` / ``memory.recalled``: what a run put in or took from memory."""
    d = e.data
    if e.type == T.MEMORY_WRITTEN:
        memory = _part(d, "memory")
        entry.title = f"Remembers ({memory.get('kind', 'memory')})"
        entry.text = memory.get("text")
        entry.facts = _facts(("id", memory.get("id")), ("subject", memory.get("subject")),
                             ("trust", memory.get("trust")), ("source", memory.get("source")))
        return
    found = _mappings(d.get("memories") or d.get("items"))
    entry.title = f"Recalls {len(found)} memor{'y' if len(found) == 1 else 'ies'}"
    entry.tone = "muted"
    entry.text = d.get("query") or None
    entry.facts = _facts(("ids", ", ".join(str(m.get("id")) for m in found)))
    if found:
        entry.blocks = [("memories", pretty(found))]


def _note(e: Event, entry: Entry) -> None:
    d = e.data
    if e.type == T.HANDOFF:
        entry.title = f"{d.get('from')} hands over to {d.get('to')} ({d.get('mode', '')})"
        entry.text = _prose(d.get("task") or d.get("reason"))
        return
    if e.type == T.CONTEXT_PACKET:
        _context(e, entry)
        return
    if e.type == T.TOOLS_SELECTED:
        _tools_selected(e, entry)
        return
    if e.type == T.NOTIFICATION:
        entry.title, entry.tone = f"People notified: {d.get('tool', '')}", "warn"
        entry.alert = d.get("reason")
        if "arguments" in d:
            entry.blocks = [("arguments", pretty(d["arguments"]))]
        return
    entry.title = e.type
    entry.tone = "muted"
    if d:
        entry.blocks = [("data", pretty(d))]


def _verify(e: Event, entry: Entry) -> None:
    """``verify.checked``: an answer's checks, each finding, and what was done about them."""
    d = e.data
    findings = _mappings(d.get("findings"))
    action = str(d.get("action") or "")
    passed = bool(d.get("passed"))
    entry.title = (f"{d.get('agent')}'s answer passed verification" if passed else
                   f"{d.get('agent')}'s answer failed verification: {len(findings)} finding(s)")
    entry.tone = "ok" if passed else ("bad" if action == "escalate" else "warn")
    entry.facts = _facts(("checks", ", ".join(map(str, d.get("checks") or []))),
                         ("attempt", d.get("attempt")),
                         ("then", None if passed else action.replace(":", " to ")),
                         ("sources seen", len(d.get("sources") or []) or None))
    if findings:
        entry.alert = "; ".join(f"{f.get('check')}: {f.get('message')}" for f in findings)


def _ensemble(e: Event, entry: Entry) -> None:
    """``ensemble.judged``: the candidates of an ensemble and the one the judge kept."""
    d = e.data
    candidates = _mappings(d.get("candidates"))
    chosen = d.get("chosen")
    judge = _part(d, "judge")
    kept = candidates[chosen] if isinstance(chosen, int) and 0 <= chosen < len(candidates) \
        else {}
    entry.title = (f"Ensemble of {len(candidates)} for {d.get('agent')}: kept "
                   f"{kept.get('label', '?')}")
    entry.tone = "ok"
    entry.facts = _facts(("judge", f"{judge.get('kind')} {judge.get('by')}"),
                         ("candidates", ", ".join(str(c.get("label")) for c in candidates)))
    entry.text = _prose(d.get("reason"))
    entry.blocks = [("candidates", pretty(candidates))]


_KINDS: dict[str, tuple[str, Callable[[Event, Entry], None]]] = {
    "run": ("run", _run), "agent": ("agent", _agent), "model": ("model", _model),
    "tool": ("tool", _tool), "guard": ("guard", _guard), "approval": ("approval", _approval),
    "memory": ("memory", _memory), "verify": ("guard", _verify), "ensemble": ("agent", _ensemble),
    "simulation": ("simulation", simulation_entry),
}


def entry(event: Event, cost: StepCost | None = None) -> Entry:
    """The timeline entry of one event (with what the ledger charged for it, if anything)."""
    kind, build = _KINDS.get(event.type.split(".", 1)[0], ("note", _note))
    item = Entry(event.seq, clock(event.time), event.type, kind, event.type, event.actor,
                 event.step_key, event.run_id)
    build(event, item)
    if cost is not None and (cost.usd or cost.kwh):
        item.facts.append(("cost", money(cost.usd)))
        if cost.kwh is not None:
            item.facts.append(("energy", energy(cost.kwh)))
    return item


def timeline(events: Iterable[Event], costs: Mapping[int, StepCost] | None = None
             ) -> list[Entry]:
    """Entries for ``events``; ``costs`` maps an event's seq to what the ledger charged."""
    costs = costs or {}
    return [entry(e, costs.get(e.seq)) for e in events]
