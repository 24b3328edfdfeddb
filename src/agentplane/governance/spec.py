"""The ``guardians:`` section of a workflow: what the guardians check and what they decide.

```yaml
guardians:
  default: allow                  # or deny: only calls an allow policy matches may run
  policies:
    - id: payment-limits
      version: 3
      tools: [pay]
      arguments:
        amount: {max: 1000}
        iban: {pattern: "^DE"}
      decision: require_approval  # when a constraint is broken
    - id: intern-no-export
      agents: [intern]
      tools: [export_data]
      decision: deny
    - id: pay-rate
      tools: [pay]
      rate: {max_calls: 3, per_seconds: 3600}
    - id: pay-budget
      tools: [pay]
      spend: {argument: amount, max_total: 5000}
  provenance: {decision: require_approval}
  anomalies: {burst: {max_calls: 20, per_seconds: 10}, max_tool_calls: 200}
  output: {secrets: deny, personal_data: require_approval}
  agent:                          # a guardian agent, composed with the rules
    model: scripted
    instructions: You review payments for fraud.
    reviews: [irreversible]      # (not `on:` — YAML reads that key as true)
```
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from agentplane.tools import Effect

Decision = Literal["allow", "deny", "require_approval"]
Objection = Literal["deny", "require_approval"]
PolicyName = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_.\-]{0,63}$")]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ArgumentRule(_Spec):
    """Constraints on one argument; breaking any of them fires the policy."""

    min: float | None = None
    max: float | None = None
    pattern: str | None = None
    """A regular expression the whole value must match."""
    one_of: list[Any] | None = None
    """An allow-list of values."""
    max_length: int | None = Field(default=None, ge=0)


class RateRule(_Spec):
    max_calls: int = Field(ge=0)
    per_seconds: float = Field(gt=0)


class SpendRule(_Spec):
    """A cap on the sum of one numeric argument over the run's calls of the policy's tools."""

    argument: str
    max_total: float = Field(ge=0)


class PolicySpec(_Spec):
    """A rule: which calls it covers, what it checks, and what it decides when it fires."""

    id: PolicyName
    version: int = Field(default=1, ge=1)
    description: str = ""
    agents: list[str] = Field(default_factory=list)
    """Agents it covers (empty: all)."""
    tools: list[str] = Field(default_factory=list)
    """Tools it covers (empty: all)."""
    arguments: dict[str, ArgumentRule] = Field(default_factory=dict)
    rate: RateRule | None = None
    spend: SpendRule | None = None
    decision: Decision = "deny"
    """What happens when the policy fires. A policy with no ``arguments``, ``rate`` or
    ``spend`` fires on every call it covers (an allow or deny list)."""

    @model_validator(mode="after")
    def _allow_is_unconditional(self) -> PolicySpec:
        if self.decision == "allow" and (self.arguments or self.rate or self.spend):
            raise ValueError("an allow policy lists what may run; it takes no arguments, rate "
                             "or spend conditions (use deny or require_approval for those)")
        return self


class ProvenanceSpec(_Spec):
    """Positive provenance, the defence against prompt injection: once untrusted content is in
    the run, what a write or irreversible call selects or addresses, and where an external call
    goes, must trace to a trusted origin (see docs/guardians.md)."""

    enabled: bool = True
    decision: Objection = "require_approval"
    """What a value that does not trace gets, with a person in or on the loop."""
    unattended: Objection = "deny"
    """What it gets out of the loop, where nobody watches: by default the call does not run and
    the agent is told why (it may go on without it), so the run is not left waiting."""
    min_length: int = Field(default=4, ge=1)
    """Shorter values (``13``, ``A1``) trace only to a whole trusted value or token, never to a
    piece of a longer one ("13" is not found in "June 13")."""
    strict_irreversible: bool = True
    """For ``irreversible`` calls, a value that untrusted content also mentions traces only to
    the request, the workflow or a source the request names — not to a trusted tool that also
    returned it, since the outside content may have chosen among trusted values (which file to
    delete, which payee to pay)."""
    known_destinations: bool = True
    """An external call's destination arguments must trace to a trusted origin."""
    review_untrusted_answers: bool = False
    """A final answer holding values that trace only to untrusted content waits for a person's
    review before the run completes (they are marked in ``run.completed`` either way)."""
    withhold_untrusted_answers: bool = False
    """Such values are replaced in the final answer by ``[withheld: from untrusted content]``
    (for runs nobody reviews: an injected recommendation does not reach the user)."""


class BurstRule(_Spec):
    max_calls: int = Field(ge=1)
    per_seconds: float = Field(gt=0)


class AnomalySpec(_Spec):
    """Run-wide limits; breaking one asks a person (``decision``) before the call runs.
    ``burst`` and ``max_tool_calls`` count calls that change something (not reads)."""

    burst: BurstRule | None = BurstRule(max_calls=30, per_seconds=10)
    max_tool_calls: int | None = Field(default=500, ge=1)
    max_tokens: int | None = Field(default=None, ge=1)
    max_seconds: float | None = Field(default=None, gt=0)
    decision: Objection = "require_approval"


class OutputSpec(_Spec):
    """Secrets and personal data leaving through external sinks (tools with ``external:
    true``), and secrets in a run's final output (redacted)."""

    secrets: Objection = "deny"
    personal_data: Decision = "require_approval"
    address_fields: list[str] = Field(default_factory=lambda: [
        "to", "cc", "bcc", "recipient", "recipients", "destination", "email"])
    """Arguments meant to hold an address (an e-mail or phone number there is not a leak), as
    are the tool's destination arguments (``destination:``, or by name).
    Personal data the run's input or the workflow itself names is not a leak either."""
    redact_final_output: bool = True


class GuardianAgentSpec(_Spec):
    """An agent with its own model that reviews proposed calls, composed with the rules."""

    name: str = "guardian"
    model: str = "scripted"
    instructions: str = ("You review actions other AI agents propose. Answer with JSON: "
                         '{"decision": "allow" | "deny" | "require_approval", "reason": "..."}')
    reviews: list[Effect] = Field(default_factory=lambda: [Effect.IRREVERSIBLE])
    """Which side-effect classes it reviews."""
    script: list[dict[str, Any]] = Field(default_factory=list)


class GuardiansSpec(_Spec):
    enabled: bool = True
    """``false`` turns every guardian off (the injection suite's baseline). Autonomy levels
    still apply."""
    default: Literal["allow", "deny"] = "allow"
    policies: list[PolicySpec] = Field(default_factory=list)
    provenance: ProvenanceSpec = ProvenanceSpec()
    anomalies: AnomalySpec = AnomalySpec()
    output: OutputSpec = OutputSpec()
    agent: GuardianAgentSpec | None = None
