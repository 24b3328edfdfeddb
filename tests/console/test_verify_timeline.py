"""Timeline entries of verification and ensembles: findings and the action taken, the
candidates and the one kept."""

from __future__ import annotations

from agentplane.journal import EventType
from agentplane.server.console.timeline import entry

from .test_views import _event


def test_a_failed_verification_shows_each_finding_and_what_follows() -> None:
    item = entry(_event(7, EventType.VERIFY_CHECKED, {
        "agent": "analyst", "attempt": 0, "passed": False, "action": "reassign:checker",
        "checks": ["grounding", "rules"], "sources": ["tool:call_0_0"],
        "findings": [{"check": "grounding", "kind": "uncited",
                      "message": "35 cites no source: 'The total is 35.'"}]}))
    assert (item.kind, item.tone) == ("guard", "warn")
    assert item.title == "analyst's answer failed verification: 1 finding(s)"
    assert item.alert == "grounding: 35 cites no source: 'The total is 35.'"
    assert ("then", "reassign to checker") in item.facts
    assert ("checks", "grounding, rules") in item.facts
    passed = entry(_event(9, EventType.VERIFY_CHECKED, {"agent": "analyst", "passed": True,
                                                        "action": "pass", "findings": []}))
    assert (passed.tone, passed.alert) == ("ok", None)
    escalated = entry(_event(9, EventType.VERIFY_CHECKED, {
        "agent": "analyst", "passed": False, "action": "escalate",
        "findings": [{"check": "judge", "message": "vague"}]}))
    assert escalated.tone == "bad"


def test_an_ensemble_shows_its_candidates_and_the_kept_one() -> None:
    item = entry(_event(5, EventType.ENSEMBLE_JUDGED, {
        "agent": "clerk", "judge": {"kind": "rule", "by": "longest"}, "chosen": 1,
        "reason": "the longest answer (40 characters)",
        "candidates": [{"label": "openai:a", "chars": 4}, {"label": "openai:b", "chars": 40}]}))
    assert item.kind == "agent"
    assert item.title == "Ensemble of 2 for clerk: kept openai:b"
    assert ("judge", "rule longest") in item.facts
    assert item.text == "the longest answer (40 characters)"
