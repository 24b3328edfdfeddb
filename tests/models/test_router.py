"""The router's choice, criterion by criterion, on the real price catalog."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agentplane.governance.residency import UNMARKED, DataMarks, Placement
from agentplane.metering.pricing import catalog_pricing
from agentplane.models.base import Message, ModelRequest, ToolDefinition
from agentplane.models.breaker import Breakers, Health
from agentplane.models.router import Needs, NoCandidateError, Router
from agentplane.runtime import SpecError, workflow_from_dict
from agentplane.runtime.routing_spec import RouterSpec

PERSONAL = DataMarks("personal", None, ("the run is marked personal",))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def router(candidates: list[dict[str, Any]], prefer: str = "cheapest", *,
           placements: dict[str, Placement] | None = None, health: Health | None = None,
           breakers: Breakers | None = None) -> Router:
    spec = RouterSpec.model_validate({"name": "desk", "candidates": candidates,
                                      "prefer": prefer})
    return Router(spec, placements=placements or {}, default_models={},
                  worst_case=catalog_pricing()[1], health=health or Health(),
                  breakers=breakers or Breakers())


TWO = [{"model": "openai:gpt-4o", "tags": ["tools", "json", "vision"], "context_window": 128000},
       {"model": "openai:gpt-4o-mini", "tags": ["tools", "json"], "context_window": 128000}]


def rejected(decision_rows: tuple[dict[str, Any], ...]) -> dict[str, str]:
    return {r["model"]: r["rejected"] for r in decision_rows if "rejected" in r}


def test_cheapest_by_catalog_price() -> None:
    decision = router(TWO).choose(Needs(prompt_tokens=1000), UNMARKED)
    assert decision.chosen == "openai:gpt-4o-mini"
    costs = {r["model"]: r["cost_usd"] for r in decision.candidates}
    assert costs["openai:gpt-4o-mini"] < costs["openai:gpt-4o"]
    assert router(TWO, "first").choose(Needs(), UNMARKED).chosen == "openai:gpt-4o"


def test_capabilities_tools_vision_json() -> None:
    r = router([{"model": "scripted:plain", "tags": []}, *TWO])
    assert r.choose(Needs(), UNMARKED).chosen == "scripted:plain"  # free, needs nothing
    assert r.choose(Needs(tools=True), UNMARKED).chosen == "openai:gpt-4o-mini"
    vision = r.choose(Needs(tools=True, vision=True), UNMARKED)
    assert vision.chosen == "openai:gpt-4o"
    assert rejected(vision.candidates) == {"scripted:plain": "lacks tools, vision",
                                           "openai:gpt-4o-mini": "lacks vision"}
    assert r.choose(Needs(json=True), UNMARKED).chosen == "openai:gpt-4o-mini"


def test_needs_read_from_the_request() -> None:
    tool = ToolDefinition("t", "a tool", {"type": "object"})
    image = Message("user", "look: data:image/png;base64,AAAA")
    needs = Needs.of(ModelRequest("m", [image], tools=[tool], max_output_tokens=100))
    assert (needs.tools, needs.vision, needs.json, needs.output_tokens) == (True, True, False,
                                                                             100)
    assert not Needs.of(ModelRequest("m", [Message("user", "hello")])).vision


def test_context_window() -> None:
    r = router([{"model": "scripted:small", "tags": [], "context_window": 8000},
                {"model": "openai:gpt-4o-mini", "context_window": 128000}])
    short = r.choose(Needs(prompt_tokens=2000), UNMARKED)
    assert short.chosen == "scripted:small"
    long = r.choose(Needs(prompt_tokens=20_000), UNMARKED)
    assert long.chosen == "openai:gpt-4o-mini"
    assert rejected(long.candidates)["scripted:small"].startswith("context window 8000")


def test_personal_data_only_on_local_models() -> None:
    candidates = [{"model": "openai:gpt-4o-mini", "tags": ["tools"]},
                  {"model": "onprem", "tags": ["tools"]}]
    r = router(candidates, "first", placements={"onprem": Placement("onprem", local=True)})
    assert r.choose(Needs(), UNMARKED).chosen == "openai:gpt-4o-mini"
    private = r.choose(Needs(), PERSONAL)
    assert private.chosen == "onprem"
    assert "not a local model" in rejected(private.candidates)["openai:gpt-4o-mini"]
    assert not private.escalated
    only_cloud = router([candidates[0]])
    with pytest.raises(NoCandidateError) as refused:
        only_cloud.choose(Needs(), PERSONAL)
    assert "data residency" in str(refused.value)


def test_personal_data_may_go_to_an_allowed_region() -> None:
    r = router([{"model": "openai:gpt-4o", "region": "us"},
                {"model": "openai:gpt-4o-mini", "region": "eu"}], "first")
    eu_only = DataMarks("personal", frozenset({"eu"}), ("workflow regions",))
    decision = r.choose(Needs(), eu_only)
    assert decision.chosen == "openai:gpt-4o-mini"
    assert "outside the allowed regions (eu)" in rejected(decision.candidates)["openai:gpt-4o"]


def test_fastest_and_failing_models_go_last() -> None:
    health = Health(min_calls=2)
    r = router(TWO, "fastest", health=health)
    health.completed("openai:gpt-4o", 300.0)
    health.completed("openai:gpt-4o-mini", 900.0)
    assert r.choose(Needs(), UNMARKED).chosen == "openai:gpt-4o"
    for _ in range(3):
        health.failed("openai:gpt-4o")
    assert health.error_rate("openai:gpt-4o") == 0.75
    assert r.choose(Needs(), UNMARKED).chosen == "openai:gpt-4o-mini"


def test_budget_downgrades_before_it_would_stop_the_run() -> None:
    r = router(TWO, "first")
    needs = Needs(prompt_tokens=10_000, output_tokens=1000)
    strong = r.choose(needs, UNMARKED, budget_left_usd=10.0)
    assert strong.chosen == "openai:gpt-4o"
    tight = r.choose(needs, UNMARKED, budget_left_usd=0.01)
    assert tight.chosen == "openai:gpt-4o-mini"
    assert tight.reason.startswith("downgraded from openai:gpt-4o")


def test_breaker_opens_then_half_opens_for_one_trial() -> None:
    clock = Clock()
    breakers = Breakers(threshold=2, cooldown_s=30, clock=clock)
    r = router([{"model": "a:m"}, {"model": "b:m"}], "first", breakers=breakers,
               placements={"a": Placement("a"), "b": Placement("b")})
    assert r.choose(Needs(), UNMARKED).chosen == "a:m"
    breaker = breakers.get("a")
    breaker.failed(clock())
    assert breakers.state("a") == "closed"
    breaker.failed(clock())
    assert breakers.state("a") == "open"
    decision = r.choose(Needs(), UNMARKED)
    assert decision.chosen == "b:m"
    assert rejected(decision.candidates) == {"a:m": "circuit breaker of a is open"}
    clock.now += 31
    assert breakers.state("a") == "half_open"
    assert r.choose(Needs(), UNMARKED).chosen == "a:m"
    breaker.started(clock())  # the trial call is out: nobody else goes to a meanwhile
    assert r.choose(Needs(), UNMARKED).chosen == "b:m"
    breaker.failed(clock())  # the trial failed: open again, for a new cool-down
    assert breakers.state("a") == "open"
    clock.now += 31
    breaker.started(clock())
    breaker.succeeded()
    assert breakers.state("a") == "closed"
    assert r.choose(Needs(), UNMARKED).chosen == "a:m"


def test_fallback_skips_what_failed_and_counts_escalations() -> None:
    r = router([{"model": "onprem", "tags": ["tools"]}, {"model": "openai:gpt-4o-mini"}],
               "first", placements={"onprem": Placement("onprem", local=True)})
    first = r.choose(Needs(), UNMARKED)
    assert first.chosen == "onprem" and not first.escalated
    second = r.choose(Needs(), UNMARKED, tried=["onprem"], fallback_from="onprem")
    assert second.chosen == "openai:gpt-4o-mini"
    assert second.escalated and second.fallback_from == "onprem"
    assert second.reason.startswith("fallback after onprem failed")
    with pytest.raises(NoCandidateError):
        r.choose(Needs(), UNMARKED, tried=["onprem", "openai:gpt-4o-mini"])


def test_a_workflow_names_known_routers_and_candidates(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as bad:
        workflow_from_dict({
            "name": "w", "providers": [{"name": "onprem", "kind": "scripted", "model": "m"}],
            "routers": [{"name": "desk", "candidates": [{"model": "onprem"},
                                                        {"model": "nowhere"}]}],
            "agents": [{"name": "a", "model": "router:dsk", "script": [{"content": "x"}]}],
            "steps": [{"agent": "a"}]}, tmp_path)
    problems = {p.path: p.message for p in bad.value.problems}
    assert problems[("agents", 0, "model")] == "unknown router 'dsk'; declared routers: desk"
    assert "candidate 'nowhere' is neither a declared provider" in problems[
        ("routers", 0, "candidates", 1, "model")]
