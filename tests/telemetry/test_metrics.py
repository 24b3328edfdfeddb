"""Prometheus metrics agree with the journal they are derived from."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from prometheus_client.parser import text_string_to_metric_families

from agentplane.journal import RUN_STATUSES, EventType, JournalStore
from agentplane.metering.usage import Price
from agentplane.telemetry import JournalMetrics

from .conftest import approval_flow, approve, clerk_flow, failing_flow, handoff_flow, run

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def per_token(model: str, usage: Mapping[str, int]) -> Price:
    """A test price: 1 USD per 1000 input tokens and 2 USD per 1000 output tokens."""
    return Price(usage.get("input_tokens", 0) / 1000 + usage.get("output_tokens", 0) * 2 / 1000)


async def scrape(metrics: JournalMetrics, tenant: str | None = None) -> Samples:
    body, content_type = await metrics.render(tenant=tenant)
    assert content_type.startswith("text/plain")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(body.decode())
            for s in family.samples}


def pick(samples: Samples, metric: str, /, **labels: str) -> list[float]:
    return [v for (n, ls), v in samples.items()
            if n == metric and all(dict(ls).get(k) == want for k, want in labels.items())]


async def test_metrics_match_the_journal(store: JournalStore) -> None:
    for workflow in (clerk_flow(), handoff_flow(), failing_flow(), approval_flow()):
        await run(store, workflow)
    metrics = JournalMetrics(store, pricer=per_token)
    samples = await scrape(metrics)

    runs = await store.list_runs()
    statuses = Counter((r.workflow, r.status) for r in runs)
    for r in runs:
        for status in RUN_STATUSES:
            [value] = pick(samples, "agentplane_runs", tenant="default", workflow=r.workflow,
                           status=status)
            assert value == statuses[(r.workflow, status)]

    events = [e for r in runs for e in await store.events(r.id)]
    completions = [e for e in events if e.type == EventType.MODEL_COMPLETED]
    for direction in ("input", "output"):
        expected = sum((e.usage or {}).get(f"{direction}_tokens", 0) for e in completions)
        assert expected > 0
        assert pick(samples, "agentplane_tokens_total", model="scripted:scripted",
                    direction=direction) == [expected]
    model_cost = sum(per_token("", e.usage or {}).usd for e in completions)
    [cost] = pick(samples, "agentplane_cost_usd_total", kind="model", name="scripted:scripted")
    assert abs(cost - model_cost) < 1e-9
    assert pick(samples, "agentplane_cost_usd_total", kind="tool", name="pay") == [0.25]

    decisions = Counter((e.data["guardian"], e.data["result"]) for e in events
                        if e.type == EventType.GUARD_DECIDED)
    assert decisions[("policy", "deny")] == 1
    for (guardian, result), count in decisions.items():
        assert pick(samples, "agentplane_guardian_decisions_total", guardian=guardian,
                    result=result) == [count]

    assert pick(samples, "agentplane_step_duration_seconds_count", kind="model",
                name="scripted:scripted", outcome="ok") == [len(completions)]
    latency = sum(e.data["latency_ms"] for e in completions) / 1000
    [total] = pick(samples, "agentplane_step_duration_seconds_sum", kind="model")
    assert abs(total - latency) < 1e-9
    assert pick(samples, "agentplane_step_duration_seconds_count", kind="tool",
                name="explode", outcome="error") == [1]
    assert pick(samples, "agentplane_step_duration_seconds_count", kind="tool",
                name="lookup", outcome="ok") == [2]
    [inf] = pick(samples, "agentplane_step_duration_seconds_bucket", kind="tool",
                 name="lookup", le="+Inf")
    assert inf == 2

    open_approvals = await store.waits(status="open")
    assert len(open_approvals) == 1
    assert pick(samples, "agentplane_approvals_waiting", kind="tool_call") == [1]
    assert sum(pick(samples, "agentplane_journal_events_total")) == len(events)


async def test_scrapes_read_only_what_is_new(store: JournalStore) -> None:
    record = await run(store, approval_flow())
    metrics = JournalMetrics(store, pricer=per_token)
    before = await scrape(metrics)
    assert pick(before, "agentplane_approvals_waiting", kind="tool_call") == [1]
    assert pick(before, "agentplane_runs", workflow="approval-flow", status="waiting") == [1]
    assert await metrics.sync() == 0

    await approve(store, record.id)
    new = len(await store.events(record.id)) - int(
        sum(pick(before, "agentplane_journal_events_total")))
    assert await metrics.sync() == new
    after = await scrape(metrics)
    assert pick(after, "agentplane_approvals_waiting") == []
    assert pick(after, "agentplane_runs", workflow="approval-flow", status="waiting") == [0]
    assert pick(after, "agentplane_runs", workflow="approval-flow", status="completed") == [1]
    assert pick(after, "agentplane_step_duration_seconds_count", kind="tool", name="pay") == [1]
    assert pick(after, "agentplane_cost_usd_total", kind="tool", name="pay") == [0.25]


async def test_one_tenants_metrics(store: JournalStore) -> None:
    await run(store, clerk_flow(), tenant="acme")
    await run(store, handoff_flow(), tenant="globex")
    metrics = JournalMetrics(store, pricer=per_token)
    everyone = await scrape(metrics)
    acme = await scrape(metrics, tenant="acme")
    assert {dict(labels)["tenant"] for (_, labels) in everyone} == {"acme", "globex"}
    assert {dict(labels)["tenant"] for (_, labels) in acme} == {"acme"}
    assert pick(acme, "agentplane_runs", workflow="clerk-flow", status="completed") == [1]
    assert pick(acme, "agentplane_runs", workflow="handoff-flow") == []


async def test_openmetrics_when_the_scraper_asks(store: JournalStore) -> None:
    await run(store, handoff_flow())
    metrics = JournalMetrics(store, pricer=per_token)
    body, content_type = await metrics.render(
        accept="application/openmetrics-text; version=1.0.0")
    assert content_type.startswith("application/openmetrics-text")
    assert body.rstrip().endswith(b"# EOF")
