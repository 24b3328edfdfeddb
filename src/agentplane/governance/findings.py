"""What guardians decide about a proposed call or an output, and how decisions combine."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Verdict(StrEnum):
    """A guardian's decision. The most severe of all guardians' decisions applies."""

    ALLOW = "allow"
    REQUIRE_APPROVAL = "require_approval"
    """A person must approve before the call runs."""
    DENY = "deny"
    """The call does not run; the agent is told why."""
    REDACT = "redact"
    """For outputs: the offending parts are replaced before the output leaves."""


_SEVERITY = {Verdict.ALLOW: 0, Verdict.REDACT: 1, Verdict.REQUIRE_APPROVAL: 2, Verdict.DENY: 3}


@dataclass(frozen=True, slots=True)
class Finding:
    """One guardian's decision, as journaled in a ``guard.decided`` event."""

    guardian: str
    """Which guardian decided: ``policy``, ``provenance``, ``anomaly``, ``output``, ``agent``."""
    policy_id: str
    policy_version: int
    verdict: Verdict
    reason: str
    details: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"guardian": self.guardian, "policy_id": self.policy_id,
                "policy_version": self.policy_version, "result": self.verdict.value,
                "reason": self.reason, "details": self.details or {}}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Finding:
        return cls(str(d["guardian"]), str(d["policy_id"]), int(d["policy_version"]),
                   Verdict(d["result"]), str(d["reason"]), d.get("details") or None)


def combine(findings: list[Finding]) -> Verdict:
    """The verdict that applies: the most severe one (``allow`` when nobody objected)."""
    return max((f.verdict for f in findings), key=_SEVERITY.__getitem__, default=Verdict.ALLOW)
