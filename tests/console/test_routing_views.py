"""The run timeline's entry for a router's decision."""

from __future__ import annotations

from typing import Any

from agentplane.journal import Event
from agentplane.server.console.timeline import entry


def _routed(data: dict[str, Any]) -> Event:
    return Event("run-1", 4, "2026-11-22T06:54:30.000000Z", "model.routed", "agent:clerk",
                 "s0/clerk/m2", data, None, "0", "h")


def test_a_routing_decision_shows_choice_reason_and_passed_over_candidates() -> None:
    item = entry(_routed({
        "router": "desk", "chosen": "onprem", "reason": "prefer first; passed over: cloud ...",
        "fallback_from": None, "escalated": False,
        "candidates": [{"model": "cloud", "rejected": "data residency: personal data"},
                       {"model": "onprem", "chosen": True}]}))
    assert (item.kind, item.title, item.tone) == ("model", "Router desk chooses onprem", "muted")
    assert dict(item.facts)["reason"].startswith("prefer first")
    assert item.blocks == [("passed over", '{\n  "cloud": "data residency: personal data"\n}')]


def test_a_fallback_to_the_cloud_is_highlighted() -> None:
    item = entry(_routed({"router": "desk", "chosen": "cloud", "reason": "fallback",
                          "fallback_from": "onprem", "escalated": True, "candidates": []}))
    assert item.tone == "warn"
    assert ("fallback from", "onprem") in item.facts
    assert ("escalated to the cloud", "yes") in item.facts
    nothing = entry(_routed({"router": "desk", "chosen": "", "reason": "no candidate",
                             "candidates": []}))
    assert (nothing.title, nothing.tone) == ("Router desk chooses nothing", "bad")
