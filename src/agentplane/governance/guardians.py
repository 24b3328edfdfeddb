"""Guardians: independent checks on every proposed call, outside the agent that proposed it.

Each guardian sees the proposal (agent, tool, side effect, arguments, the agent's reasoning),
the run's history so far and the provenance of every value, and returns findings. The runtime
journals every finding (``guard.decided``) and applies the most severe verdict.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from agentplane.tools import Effect

from .arguments import composed_arguments, destination_arguments
from .autonomy import Autonomy
from .detectors import find_personal_data, find_secrets, redact
from .findings import Finding, Verdict
from .provenance import ProvenanceLedger, TaintedValue
from .spec import ArgumentRule, GuardiansSpec, PolicySpec


@dataclass(frozen=True, slots=True)
class Proposal:
    """A tool call an agent proposes."""

    agent: str
    tool: str
    effect: Effect
    external: bool
    """Whether the tool sends data outside the organisation (an external sink)."""
    arguments: dict[str, Any]
    reasoning: str = ""
    """What the agent said in the turn it proposed the call."""
    composed: frozenset[str] | None = None
    """Arguments that are free text the agent composed; every other argument selects or
    addresses something. None: by name and schema (``arguments.composed_arguments``)."""
    destinations: frozenset[str] | None = None
    """Arguments that say where an external call goes. None: by name
    (``arguments.destination_arguments``)."""
    schema: Mapping[str, Any] | None = None
    """The tool's JSON Schema of its arguments: a value one of its ``enum`` lists traces to the
    tool's declaration."""
    autonomy: Autonomy | None = None
    """The level that applies; out of the loop, the provenance guardian's objection is
    ``provenance.unattended`` (a deny the agent is told of, by default)."""

    def composed_arguments(self) -> frozenset[str]:
        return composed_arguments(self.arguments, self.schema, self.composed)

    def destination_arguments(self) -> frozenset[str]:
        return destination_arguments(self.arguments, self.destinations)


@dataclass(frozen=True, slots=True)
class PastCall:
    tool: str
    arguments: dict[str, Any]
    at: float
    """Unix time (seconds) the call started."""
    effect: Effect = Effect.WRITE


@dataclass(frozen=True, slots=True)
class RunStats:
    """What the run has done so far, for rate, spend and anomaly checks."""

    calls: Sequence[PastCall] = ()
    tokens: int = 0
    started_at: float = 0.0
    now: float = 0.0


class Guardian(Protocol):
    name: str

    def review(self, proposal: Proposal, stats: RunStats,
               ledger: ProvenanceLedger) -> list[Finding]: ...


def _covers(policy: PolicySpec, proposal: Proposal) -> bool:
    return ((not policy.agents or proposal.agent in policy.agents)
            and (not policy.tools or proposal.tool in policy.tools))


def _broken(name: str, rule: ArgumentRule, value: Any) -> str | None:
    """Why ``value`` breaks ``rule``, or None."""
    if rule.one_of is not None and value not in rule.one_of:
        return f"{name}={value!r} is not one of {rule.one_of!r}"
    if rule.min is not None or rule.max is not None:
        if not isinstance(value, int | float) or isinstance(value, bool):
            return f"{name}={value!r} is not a number"
        if rule.min is not None and value < rule.min:
            return f"{name}={value} is below the minimum {rule.min:g}"
        if rule.max is not None and value > rule.max:
            return f"{name}={value} is above the maximum {rule.max:g}"
    text = value if isinstance(value, str) else json.dumps(value)
    if rule.pattern is not None and not re.fullmatch(rule.pattern, text):
        return f"{name}={value!r} does not match {rule.pattern!r}"
    if rule.max_length is not None and len(text) > rule.max_length:
        return f"{name} is {len(text)} characters long, more than {rule.max_length}"
    return None


@dataclass
class PolicyGuardian:
    """Rule policies: allow and deny lists, argument constraints, rate and spend limits."""

    spec: GuardiansSpec
    name: str = "policy"

    def review(self, proposal: Proposal, stats: RunStats,
               ledger: ProvenanceLedger) -> list[Finding]:
        findings: list[Finding] = []
        allowed = False
        for policy in self.spec.policies:
            if not _covers(policy, proposal):
                continue
            reasons = self._fires(policy, proposal, stats)
            if policy.decision == "allow":
                allowed = True
                findings.append(self._finding(policy, Verdict.ALLOW, "listed as allowed"))
            elif reasons:
                findings += [self._finding(policy, Verdict(policy.decision), r) for r in reasons]
        if self.spec.default == "deny" and not allowed:
            findings.append(Finding(self.name, "default", 1, Verdict.DENY,
                                    f"no allow policy covers {proposal.agent} calling "
                                    f"{proposal.tool}, and the default is deny"))
        return findings

    def _finding(self, policy: PolicySpec, verdict: Verdict, reason: str) -> Finding:
        return Finding(self.name, policy.id, policy.version, verdict, reason)

    @staticmethod
    def _fires(policy: PolicySpec, proposal: Proposal, stats: RunStats) -> list[str]:
        if not (policy.arguments or policy.rate or policy.spend):
            return [policy.description or f"{proposal.tool} is listed by policy {policy.id}"]
        reasons = []
        for name, rule in policy.arguments.items():
            if name in proposal.arguments:
                why = _broken(name, rule, proposal.arguments[name])
                if why:
                    reasons.append(why)
        covered = [c for c in stats.calls if not policy.tools or c.tool in policy.tools]
        if policy.rate is not None:
            recent = [c for c in covered if stats.now - c.at < policy.rate.per_seconds]
            if len(recent) + 1 > policy.rate.max_calls:
                reasons.append(f"{len(recent) + 1} calls in {policy.rate.per_seconds:g} s, more "
                               f"than the {policy.rate.max_calls} allowed")
        if policy.spend is not None:
            arg = policy.spend.argument
            spent = sum(float(c.arguments.get(arg) or 0) for c in covered
                        if isinstance(c.arguments.get(arg), int | float))
            this = proposal.arguments.get(arg)
            if isinstance(this, int | float) and spent + this > policy.spend.max_total:
                reasons.append(f"{arg} {this:g} would bring the run's total to "
                               f"{spent + this:g}, above {policy.spend.max_total:g}")
        return reasons


def _enum_values(schema: Mapping[str, Any] | None, argument: str) -> list[Any]:
    """The values the tool's schema lists for an argument (``enum``, through ``$ref``,
    ``anyOf``/``oneOf``/``allOf`` and array ``items``)."""
    root = schema or {}
    prop = (root.get("properties") or {}).get(argument.split(".")[0].split("[")[0])
    found: list[Any] = []

    def walk(node: Any, depth: int = 0) -> None:
        if not isinstance(node, Mapping) or depth > 8:
            return
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/"):
            target: Any = root
            for key in ref[2:].split("/"):
                target = target.get(key) if isinstance(target, Mapping) else None
            walk(target, depth + 1)
        found.extend(node.get("enum") or [])
        if "const" in node:
            found.append(node["const"])
        for key in ("anyOf", "oneOf", "allOf"):
            for sub in node.get(key) or []:
                walk(sub, depth + 1)
        walk(node.get("items"), depth + 1)

    walk(prop)
    return found


def _untraced_data(values: list[TaintedValue]) -> dict[str, Any]:
    return {"untraced": [{"argument": t.argument, "value": t.value, "seen_in": t.source}
                         for t in values]}


def _listed(values: list[TaintedValue]) -> str:
    return "; ".join(f"{t.argument}={t.value!r}" + (f" (in untrusted content from {t.source})"
                                                    if t.source != "nowhere" else "")
                     for t in values[:5]) + (f"; and {len(values) - 5} more"
                                             if len(values) > 5 else "")


@dataclass
class ProvenanceGuardian:
    """Positive provenance: once untrusted content is in the run, what a consequential call
    selects or addresses must trace to a trusted origin.

    - every select/address argument of a ``write`` or ``irreversible`` call, whole value;
    - identifier-like pieces of composed text may not come from untrusted content;
    - the destination of an ``external`` call, reads included.
    """

    spec: GuardiansSpec
    name: str = "provenance"

    def review(self, proposal: Proposal, stats: RunStats,
               ledger: ProvenanceLedger) -> list[Finding]:
        spec = self.spec.provenance
        if not spec.enabled or not ledger.untrusted_seen:
            return []
        verdict = Verdict(spec.unattended if proposal.autonomy is Autonomy.OUT_OF_THE_LOOP
                          else spec.decision)
        strict = spec.strict_irreversible and proposal.effect is Effect.IRREVERSIBLE
        findings: list[Finding] = []
        destinations = proposal.destination_arguments() if proposal.external else frozenset()
        if proposal.effect is not Effect.READ:
            # (an external call's destinations are checked below, as destinations)
            composed_names = proposal.composed_arguments()
            apart = composed_names | destinations
            selects = {k: v for k, v in proposal.arguments.items() if k not in apart}
            untraced = [t for t in ledger.untraced(selects, strict=strict)
                        if t.value not in map(str, _enum_values(proposal.schema, t.argument))]
            if untraced:
                findings.append(Finding(
                    self.name, "untraced-value", 1, verdict,
                    f"{proposal.effect.value} call {proposal.tool} uses values no trusted source "
                    f"gave (not the request, the workflow, a trusted tool or field"
                    f"{', unless the request named it' if strict else ''}): {_listed(untraced)}",
                    _untraced_data(untraced)))
            composed = {k: v for k, v in proposal.arguments.items() if k in composed_names}
            tainted = ledger.tainted(composed, strict=strict)
            if tainted:
                findings.append(Finding(
                    self.name, "untrusted-flow", 1, verdict,
                    f"{proposal.effect.value} call {proposal.tool} writes values that came from "
                    f"untrusted content into its text: {_listed(tainted)}",
                    {"tainted": [{"argument": t.argument, "value": t.value, "source": t.source}
                                 for t in tainted]}))
        if proposal.external and spec.known_destinations:
            where = {k: v for k, v in proposal.arguments.items() if k in destinations}
            unknown = ledger.untraced(where, destination=True)
            if unknown:
                findings.append(Finding(
                    self.name, "unknown-destination", 1, verdict,
                    f"external call {proposal.tool} would reach an address no trusted source "
                    f"named (not the request, the workflow or a trusted tool): "
                    f"{_listed(unknown)}",
                    _untraced_data(unknown)))
        if not findings and proposal.effect is not Effect.READ:
            designated = ledger.traced_designated(proposal.arguments)
            if designated:
                listed = "; ".join(f"{a}={v!r} from {src}" for a, v, src in designated[:5])
                findings.append(Finding(self.name, "designated-source", 1, Verdict.ALLOW,
                                        f"values traced to a source the request names: {listed}",
                                        {"designated": [{"argument": a, "value": v, "source": src}
                                                        for a, v, src in designated]}))
        return findings


@dataclass
class AnomalyGuardian:
    """Bursts of calls and run-wide budgets of calls, tokens and time."""

    spec: GuardiansSpec
    name: str = "anomaly"

    def review(self, proposal: Proposal, stats: RunStats,
               ledger: ProvenanceLedger) -> list[Finding]:
        a = self.spec.anomalies
        verdict = Verdict(a.decision)
        problems = []
        # Bursts and the call cap count calls that change something; reads are bounded by the
        # turn limit, loop detection and the token budget.
        acting = proposal.effect is not Effect.READ
        changes = [c for c in stats.calls if c.effect is not Effect.READ]
        if acting and a.burst is not None:
            recent = sum(1 for c in changes if stats.now - c.at < a.burst.per_seconds)
            if recent + 1 > a.burst.max_calls:
                problems.append(("burst", f"{recent + 1} write calls within "
                                          f"{a.burst.per_seconds:g} s"))
        if acting and a.max_tool_calls is not None and len(changes) + 1 > a.max_tool_calls:
            problems.append(("max-tool-calls", f"more than {a.max_tool_calls} write calls"))
        if a.max_tokens is not None and stats.tokens > a.max_tokens:
            problems.append(("max-tokens", f"{stats.tokens} tokens used, over {a.max_tokens}"))
        if a.max_seconds is not None and stats.now - stats.started_at > a.max_seconds:
            problems.append(("max-seconds", f"running for {stats.now - stats.started_at:.0f} s,"
                                            f" over {a.max_seconds:g}"))
        return [Finding(self.name, pid, 1, verdict, why) for pid, why in problems]


@dataclass
class OutputGuardian:
    """Secrets and personal data must not leave through an external sink."""

    spec: GuardiansSpec
    name: str = "output"

    def review(self, proposal: Proposal, stats: RunStats,
               ledger: ProvenanceLedger) -> list[Finding]:
        if not proposal.external:
            return []
        out = self.spec.output
        findings = []
        addresses = proposal.destination_arguments() | set(out.address_fields)
        for key, value in proposal.arguments.items():
            text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
            secrets = find_secrets(text)
            if secrets:
                kinds = ", ".join(sorted({m.kind for m in secrets}))
                findings.append(Finding(self.name, "secrets", 1, Verdict(out.secrets),
                                        f"argument {key} of external sink {proposal.tool} holds "
                                        f"a secret ({kinds})"))
            personal = [] if key in addresses else [
                m for m in find_personal_data(text)
                if not ledger.is_declared(text[m.start:m.end])]
            if personal and out.personal_data != "allow":
                kinds = ", ".join(sorted({m.kind for m in personal}))
                findings.append(Finding(self.name, "personal-data", 1,
                                        Verdict(out.personal_data),
                                        f"argument {key} of external sink {proposal.tool} holds "
                                        f"personal data ({kinds})"))
        return findings


def output_check(spec: GuardiansSpec, text: str) -> tuple[str, list[Finding]]:
    """A run's final output: secrets are redacted before it leaves the run."""
    if not spec.enabled or not spec.output.redact_final_output:
        return text, []
    secrets = find_secrets(text)
    if not secrets:
        return text, []
    kinds = ", ".join(sorted({m.kind for m in secrets}))
    return redact(text, secrets), [Finding("output", "final-output-secrets", 1, Verdict.REDACT,
                                           f"the final output held {len(secrets)} secret(s) "
                                           f"({kinds}); they were redacted")]


@dataclass
class RuleGuardians:
    """Every rule-based guardian a workflow declares, in one place."""

    spec: GuardiansSpec
    members: list[Guardian] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.members = [PolicyGuardian(self.spec), ProvenanceGuardian(self.spec),
                        AnomalyGuardian(self.spec), OutputGuardian(self.spec)]

    def review(self, proposal: Proposal, stats: RunStats,
               ledger: ProvenanceLedger) -> list[Finding]:
        if not self.spec.enabled:
            return []
        return [f for g in self.members for f in g.review(proposal, stats, ledger)]


def guardian_agent_prompt(proposal: Proposal, findings: list[Finding]) -> str:
    """What the guardian agent is shown: the proposal and the rules' findings, as data."""
    return json.dumps({
        "proposed_call": {"agent": proposal.agent, "tool": proposal.tool,
                          "effect": proposal.effect.value, "external": proposal.external,
                          "arguments": proposal.arguments},
        "agent_reasoning": proposal.reasoning,
        "rule_findings": [f.to_dict() for f in findings],
        "answer_with": {"decision": "allow | deny | require_approval", "reason": "..."},
    }, ensure_ascii=False, indent=1)


_DECISION = re.compile(r'"decision"\s*:\s*"(allow|deny|require_approval)"')


def parse_guardian_reply(name: str, text: str) -> Finding:
    """Read the guardian agent's decision; anything unclear asks a person (fail safe)."""
    reason = text.strip()
    match = _DECISION.search(text)
    if match:
        verdict = Verdict(match.group(1))
        reason_match = re.search(r'"reason"\s*:\s*"((?:[^"\\]|\\.)*)"', text)
        reason = reason_match.group(1) if reason_match else reason
    else:
        word = reason.split(maxsplit=1)[0].strip(".:,").lower() if reason else ""
        verdict = {"allow": Verdict.ALLOW, "deny": Verdict.DENY,
                   "escalate": Verdict.REQUIRE_APPROVAL}.get(word, Verdict.REQUIRE_APPROVAL)
        if word not in ("allow", "deny", "escalate"):
            reason = f"the guardian agent's answer was unclear, so a person decides: {reason!r}"
    return Finding("agent", name, 1, verdict, reason[:500] or verdict.value)
