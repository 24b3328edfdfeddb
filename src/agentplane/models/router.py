"""The model router: which of a router's candidates answers one model call.

Per call, a candidate is rejected when it lacks a capability the call needs (``tools`` when
tools are offered, ``vision`` for images, ``json`` for a JSON response format), when the
estimated prompt does not fit its context window, when the call's data may not go to it
(``agentplane.governance.residency``), when its endpoint's circuit breaker is open, or when it
already failed this call (a fallback). Among the rest, the router's ``prefer`` orders them
(``first``: as declared; ``cheapest``: by the catalog's price of the call; ``fastest``: by the
observed latency), models failing more than half their recent calls go last, and when the
remaining budget cannot pay the preferred one the best one it can pay is taken (a downgrade).

The decision is plain data, journaled as ``model.routed``; a run that resumes uses the
journaled decision and never decides again (``agentplane.runtime.routed``).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agentplane.governance.residency import DataMarks, Placement, refusal

from .base import ModelRequest
from .breaker import Breakers, Health

if TYPE_CHECKING:  # the spec lives with the runtime's, which imports the models
    from agentplane.runtime.routing_spec import RouteCandidate, RouterSpec

WorstCase = Callable[[str, int, int], float]
"""(model, prompt tokens, output tokens) → USD, the metering's ``worst_case``."""
EXPECTED_OUTPUT_TOKENS = 4096
"""Output a call is weighed at when its agent sets no ``max_output_tokens`` (as the budget
check does: a call that may produce this much must fit the window and the budget)."""
IMAGE_MARK = "data:image/"
UNHEALTHY_ERROR_RATE = 0.5


@dataclass(frozen=True, slots=True)
class Needs:
    """What one call asks of a model."""

    tools: bool = False
    vision: bool = False
    json: bool = False
    prompt_tokens: int = 0
    output_tokens: int = EXPECTED_OUTPUT_TOKENS

    @classmethod
    def of(cls, request: ModelRequest, *, json: bool = False) -> Needs:
        chars = 0
        vision = False
        for message in request.messages:
            content = message.content
            if content:
                chars += len(content)
                if not vision and IMAGE_MARK in content:
                    vision = True
        chars += sum(len(t.description) + 200 for t in request.tools)
        # 3 characters a token: conservative, as the budget check estimates a prompt
        return cls(bool(request.tools), vision, json, chars // 3 + 1,
                   request.max_output_tokens or EXPECTED_OUTPUT_TOKENS)


@dataclass(frozen=True, slots=True)
class Option:
    """A candidate as the router weighs it."""

    model: str
    """As declared: what the resolver is asked for."""
    endpoint: str
    """What its circuit breaker is keyed by: the provider entry, or the whole model string."""
    tags: frozenset[str]
    context_window: int | None
    placement: Placement
    input_usd: float
    """Per token, from the catalog."""
    output_usd: float

    def cost(self, needs: Needs) -> float:
        return needs.prompt_tokens * self.input_usd + needs.output_tokens * self.output_usd


@dataclass(frozen=True, slots=True)
class Decision:
    """One routing decision, as journaled in ``model.routed``."""

    router: str
    chosen: str
    reason: str
    candidates: tuple[dict[str, Any], ...]
    fallback_from: str | None = None
    escalated: bool = False
    """A cloud model took a call a local candidate could not (lacking something, failing)."""

    def to_dict(self) -> dict[str, Any]:
        return {"router": self.router, "chosen": self.chosen, "reason": self.reason,
                "candidates": list(self.candidates), "fallback_from": self.fallback_from,
                "escalated": self.escalated}


class NoCandidateError(Exception):
    """Every candidate was rejected; ``decision`` says why each one was."""

    def __init__(self, decision: Decision) -> None:
        super().__init__(decision.reason)
        self.decision = decision


def priced_name(model: str, endpoints: Mapping[str, str | None]) -> str:
    """The name the usage ledger prices a candidate's calls by (what ``model.completed``
    records): ``openai:gpt-4o`` → ``gpt-4o``; a provider entry → its default model."""
    prefix, _, name = model.partition(":")
    if name:
        return name
    return endpoints.get(prefix) or prefix


class Router:
    """A router of a workflow, ready to decide calls."""

    def __init__(self, spec: RouterSpec, *, placements: Mapping[str, Placement],
                 default_models: Mapping[str, str | None], worst_case: WorstCase,
                 health: Health, breakers: Breakers) -> None:
        self.spec = spec
        self.health = health
        self.breakers = breakers
        self.options = tuple(self._option(c, placements, default_models, worst_case)
                             for c in spec.candidates)
        self._by_model = {o.model: o for o in self.options}

    @staticmethod
    def _option(c: RouteCandidate, placements: Mapping[str, Placement],
                default_models: Mapping[str, str | None], worst_case: WorstCase) -> Option:
        prefix = c.model.partition(":")[0]
        entry = placements.get(prefix)
        endpoint = prefix if entry is not None else c.model
        local = c.local or (entry is not None and entry.local)
        region = c.region or (entry.region if entry is not None else None)
        priced = priced_name(c.model, default_models)
        if prefix == "scripted":
            priced = c.model  # the catalog prices ``scripted:X`` as X
        million = 1_000_000
        return Option(c.model, endpoint, frozenset(c.tags), c.context_window,
                      Placement(endpoint, local, region),
                      worst_case(priced, million, 0) / million,
                      worst_case(priced, 0, million) / million)

    def option(self, model: str) -> Option | None:
        return self._by_model.get(model)

    def _rejection(self, option: Option, needs: Needs, marks: DataMarks,
                   tried: Collection[str]) -> str | None:
        if option.model in tried:
            return "already failed this call"
        missing = [tag for tag, needed in (("tools", needs.tools), ("vision", needs.vision),
                                           ("json", needs.json))
                   if needed and tag not in option.tags]
        if missing:
            return f"lacks {', '.join(missing)}"
        if option.context_window is not None and (
                needs.prompt_tokens + needs.output_tokens > option.context_window):
            return (f"context window {option.context_window} < about "
                    f"{needs.prompt_tokens + needs.output_tokens} tokens")
        refused = refusal(marks, option.placement)
        if refused is not None:
            return f"data residency: {refused}"
        if not self.breakers.allows(option.endpoint):
            return f"circuit breaker of {option.endpoint} is open"
        return None

    def _rank(self, options: Sequence[Option], needs: Needs) -> list[Option]:
        order = {o.model: i for i, o in enumerate(self.options)}
        health = self.health

        def key(o: Option) -> tuple[bool, float, int]:
            unhealthy = health.error_rate(o.model) > UNHEALTHY_ERROR_RATE
            if self.spec.prefer == "cheapest":
                return unhealthy, o.cost(needs), order[o.model]
            if self.spec.prefer == "fastest":
                latency = health.latency_ms(o.model)
                return unhealthy, 0.0 if latency is None else latency, order[o.model]
            return unhealthy, 0.0, order[o.model]

        return sorted(options, key=key)

    def choose(self, needs: Needs, marks: DataMarks, *, budget_left_usd: float | None = None,
               tried: Collection[str] = (), fallback_from: str | None = None) -> Decision:
        """Pick a candidate for one call; raises ``NoCandidateError`` when none qualifies."""
        rows: list[dict[str, Any]] = []
        fit: list[Option] = []
        for option in self.options:
            why = self._rejection(option, needs, marks, tried)
            row: dict[str, Any] = {"model": option.model, "local": option.placement.local,
                                   "cost_usd": round(option.cost(needs), 8)}
            if option.placement.region:
                row["region"] = option.placement.region
            if why is not None:
                row["rejected"] = why
            else:
                fit.append(option)
            rows.append(row)
        if not fit:
            raise NoCandidateError(Decision(
                self.spec.name, "", f"no candidate of router {self.spec.name} may take this "
                "call: " + "; ".join(f"{r['model']}: {r['rejected']}" for r in rows),
                tuple(rows), fallback_from))
        ranked = self._rank(fit, needs)
        chosen, reason = ranked[0], f"prefer {self.spec.prefer}"
        passed = [f"{r['model']} {r['rejected']}" for r in rows if "rejected" in r]
        if passed:
            reason += "; passed over: " + "; ".join(passed)
        if self.health.error_rate(chosen.model) > UNHEALTHY_ERROR_RATE:
            reason += f"; every candidate fails often (error rate of {chosen.model})"
        if budget_left_usd is not None and chosen.cost(needs) > budget_left_usd:
            affordable = [o for o in ranked if o.cost(needs) <= budget_left_usd]
            cheaper = affordable[0] if affordable else min(ranked, key=lambda o: o.cost(needs))
            if cheaper is not chosen:
                reason = (f"downgraded from {chosen.model}: the remaining budget "
                          f"({budget_left_usd:.6f} USD) cannot pay it")
                chosen = cheaper
        if fallback_from is not None:
            reason = f"fallback after {fallback_from} failed; {reason}"
        escalated = not chosen.placement.local and any(
            o.placement.local and o not in fit for o in self.options)
        for row in rows:
            if row["model"] == chosen.model:
                row["chosen"] = True
        return Decision(self.spec.name, chosen.model, reason, tuple(rows), fallback_from,
                        escalated)


@dataclass(slots=True)
class RouteBook:
    """What routing keeps for a process: breakers per endpoint, health per model, and the
    routers built so far (per workflow version and router name)."""

    breakers: Breakers = field(default_factory=Breakers)
    health: Health = field(default_factory=Health)
    routers: dict[tuple[str, str], Router] = field(default_factory=dict)
    seeded: bool = False
    """Whether ``health`` has read the journal's recent outcomes (once per process)."""
