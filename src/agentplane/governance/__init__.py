"""Governance: autonomy levels, guardians, provenance of values, approvals' rules.

Pure decisions: this package says what may happen; the runtime journals the decisions, waits
for people, and calls the guardian agent's model.
"""

from .arguments import composed_arguments, destination_arguments
from .autonomy import Autonomy, most_restrictive, needs_approval, notifies
from .findings import Finding, Verdict, combine
from .guardians import (
    PastCall,
    Proposal,
    RuleGuardians,
    RunStats,
    guardian_agent_prompt,
    output_check,
    parse_guardian_reply,
)
from .provenance import ProvenanceLedger, TaintedValue
from .spec import GuardianAgentSpec, GuardiansSpec, PolicySpec

__all__ = [
    "Autonomy",
    "Finding",
    "GuardianAgentSpec",
    "GuardiansSpec",
    "PastCall",
    "PolicySpec",
    "Proposal",
    "ProvenanceLedger",
    "RuleGuardians",
    "RunStats",
    "TaintedValue",
    "Verdict",
    "combine",
    "composed_arguments",
    "destination_arguments",
    "guardian_agent_prompt",
    "most_restrictive",
    "needs_approval",
    "notifies",
    "output_check",
    "parse_guardian_reply",
]
