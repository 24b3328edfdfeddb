"""The console's pure parts, without a browser: timeline entries, percentiles, redirects."""

from __future__ import annotations

from typing import Any

from agentplane.journal import Event
from agentplane.server.console.figures import StepTimes, percentile
from agentplane.server.console.session import safe_next
from agentplane.server.console.timeline import StepCost, entry, money


def _event(seq: int, type: str, data: dict[str, Any], *, step: str | None = None,
           time: str = "2026-11-22T06:54:30.000000Z",
           usage: dict[str, int] | None = None) -> Event:
    return Event("run-1", seq, time, type, "agent:payables", step, data, usage, "0", "h")


def test_a_guardians_deny_is_highlighted_with_policy_and_reason() -> None:
    item = entry(_event(11, "guard.decided", {
        "result": "deny", "guardian": "provenance", "policy_id": "untrusted-flow",
        "policy_version": 1, "reason": "iban came from read_inbox", "tool": "pay",
        "details": {"tainted": [{"argument": "iban"}]}}))
    assert (item.kind, item.tone) == ("guard", "bad")
    assert item.alert == "iban came from read_inbox"
    assert ("policy", "untrusted-flow v1") in item.facts
    assert item.blocks and "tainted" in item.blocks[0][1]


def test_a_model_answer_shows_reasoning_tokens_and_cost() -> None:
    item = entry(_event(5, "model.completed", {
        "provider_model": "openai:gpt-4.1", "latency_ms": 812.0,
        "response": {"content": "Paying INV-2041.", "tool_calls": [
            {"name": "pay", "arguments": {"amount": 1200}}]}},
        usage={"input_tokens": 1200, "output_tokens": 40}), StepCost(0.0031, 0.0004))
    assert item.text == "Paying INV-2041."
    facts = dict(item.facts)
    assert facts["tokens"] == "1,200 in · 40 out"
    assert facts["cost"] == "$0.0031"
    assert facts["energy"] == "0.4 Wh"
    assert item.blocks == [("pay(…)", '{\n  "amount": 1200\n}')]


def test_percentiles_and_step_times_come_from_event_times() -> None:
    times = StepTimes()
    times.add([
        _event(1, "model.requested", {}, step="m1", time="2026-11-22T00:00:00.000000Z"),
        _event(2, "model.completed", {}, step="m1", time="2026-11-22T00:00:00.250000Z"),
        _event(3, "tool.started", {}, step="t1", time="2026-11-22T00:00:01.000000Z"),
        _event(4, "tool.failed", {}, step="t1", time="2026-11-22T00:00:01.010000Z"),
    ])
    assert [round(ms) for ms in times.model_ms] == [250]
    assert [round(ms) for ms in times.tool_ms] == [10]
    assert percentile([5.0, 1.0, 3.0, 2.0, 4.0], 50) == 3.0
    assert percentile([float(n) for n in range(1, 101)], 95) == 95.0
    assert percentile([], 50) is None


def test_sign_in_returns_only_to_local_paths() -> None:
    assert safe_next("/runs?status=waiting") == "/runs?status=waiting"
    for hostile in ("https://evil.example/", "//evil.example/x", "/\\evil.example", "runs"):
        assert safe_next(hostile) == "/"
    assert money(0) == "$0.00" and money(12.5) == "$12.50"
