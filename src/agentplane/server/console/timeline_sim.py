"""``simulation.perturbed`` as a timeline entry: what the runtime changed around a real tool or
model call during ``agentplane simulate`` (the kind of perturbation, what it hit, what changed)
and the scenario and trial it belongs to."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agentplane.journal import Event

    from .timeline import Entry

_TITLES = {
    "tool_latency": "slowed {tool} by {latency}",
    "tool_error": "made {tool} fail",
    "tool_timeout": "made {tool} time out",
    "drop_fields": "dropped fields from {tool}'s result",
    "contradict": "contradicted {tool}'s result",
    "inject": "injected content into {tool}'s result",
    "model_latency": "slowed {agent}'s model call by {latency}",
    "model_error": "made {agent}'s model call fail",
    "malformed_args": "broke the arguments of {agent}'s call to {tool}",
    "conflicting_goal": "gave {agent} a conflicting goal",
}


def scenario_of(label: Any) -> tuple[str | None, str | None]:
    """A perturbation's label, ``scenario#trial``, as (scenario, trial)."""
    if not isinstance(label, str) or not label:
        return None, None
    scenario, _, trial = label.rpartition("#")
    return (scenario, trial) if scenario else (label, None)


def simulation_entry(e: Event, entry: Entry) -> None:
    """Fill ``entry`` for a ``simulation.perturbed`` event."""
    from .timeline import _facts, pretty

    d = e.data
    kind = str(d.get("kind") or "perturbation")
    ms = d.get("latency_ms")
    names = {"tool": d.get("tool") or "a tool", "agent": d.get("agent") or "an agent",
             "latency": f"{float(ms):,.0f} ms" if isinstance(ms, int | float) else "a delay"}
    entry.kind, entry.tone = "simulation", "warn"
    entry.title = "Simulation " + _TITLES.get(kind, kind.replace("_", " ")).format(**names)
    scenario, trial = scenario_of(d.get("simulation"))
    entry.facts = _facts(("perturbation", kind), ("scenario", scenario), ("trial", trial),
                         ("tool", d.get("tool")), ("agent", d.get("agent")))
    entry.alert = d.get("error") or d.get("injected") or d.get("instruction") or None
    if d.get("dropped"):
        entry.facts.append(("dropped", ", ".join(map(str, d["dropped"]))))
    if d.get("contradicted"):
        entry.blocks.append(("contradicted (was → now)", pretty(d["contradicted"])))
    if d.get("raw_arguments") is not None:
        entry.blocks.append(("arguments sent instead", pretty(d["raw_arguments"])))
