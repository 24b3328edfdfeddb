"""Prometheus metrics derived from the journal.

``JournalMetrics`` follows the journal by cursor (``events_since``) and keeps running totals, so
a scrape costs only the events written since the previous one. The totals cover the whole
journal: after a restart the first scrape reads the journal once from the beginning and the
counters come back to the same values (a Prometheus counter "reset" that ``rate()`` handles).

Metric names (every series has a ``tenant`` label):

==========================================  =========  =======================================
``agentplane_runs``                         gauge      runs by ``workflow`` and ``status``
``agentplane_step_duration_seconds``        histogram  model and tool calls: ``kind``
                                                       (``model``/``tool``), ``name``,
                                                       ``outcome`` (``ok``/``error``)
``agentplane_tokens_total``                 counter    tokens by ``model`` and ``direction``
                                                       (``input``/``output``)
``agentplane_cost_usd_total``               counter    USD by ``kind`` (``model``/``tool``)
                                                       and ``name``
``agentplane_guardian_decisions_total``     counter    by ``guardian`` and ``result``
``agentplane_approvals_waiting``            gauge      open approval requests by ``kind``
``agentplane_journal_events_total``         counter    journal events by ``type``
==========================================  =========  =======================================
"""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from agentplane.journal import RUN_STATUSES, Event, EventType, JournalStore
from agentplane.journal.events import STATUS_OF_EVENT, WAIT_CLOSE_TYPES
from agentplane.metering.usage import (
    ACTION,
    MODEL,
    REMOTE_TASK_FINISHED,
    Pricer,
    RunTags,
    derive,
)

from ._time import time_ns

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
           300.0)
"""Upper bounds (seconds) of the step duration histogram's buckets; ``+Inf`` is added."""

_PRICED = frozenset({EventType.MODEL_COMPLETED, EventType.TOOL_COMPLETED, EventType.TOOL_FAILED,
                     REMOTE_TASK_FINISHED})


@dataclass(slots=True)
class _Run:
    tenant: str
    workflow: str
    status: str


@dataclass(slots=True)
class _Histogram:
    counts: list[int] = field(default_factory=lambda: [0] * (len(BUCKETS) + 1))
    """Observations per bucket (not cumulative); the last one is ``+Inf``."""
    sum: float = 0.0

    def observe(self, seconds: float) -> None:
        index = next((i for i, bound in enumerate(BUCKETS) if seconds <= bound), len(BUCKETS))
        self.counts[index] += 1
        self.sum += seconds

    def buckets(self) -> list[tuple[str, float]]:
        total = 0
        out: list[tuple[str, float]] = []
        for bound, count in zip((*map(str, BUCKETS), "+Inf"), self.counts, strict=True):
            total += count
            out.append((bound, float(total)))
        return out


def _default_pricer() -> Pricer:
    from agentplane.metering.pricing import catalog_pricing

    return catalog_pricing()[0]


class JournalMetrics:
    """Running totals over the journal, rendered in the Prometheus text format.

    ``pricer`` prices model calls (default: the bundled price catalog, as the usage ledger
    does); tool costs come from the tools' declared ``cost_usd``.
    """

    def __init__(self, store: JournalStore, *, pricer: Pricer | None = None,
                 batch: int = 5000) -> None:
        self.store = store
        self.batch = batch
        """Events read per step."""
        self._pricer = pricer
        self._cursor = 0
        self._lock = asyncio.Lock()
        self._runs: dict[str, _Run] = {}
        self._tokens: Counter[tuple[str, str, str]] = Counter()
        self._cost: defaultdict[tuple[str, str, str], float] = defaultdict(float)
        self._guard: Counter[tuple[str, str, str]] = Counter()
        self._events: Counter[tuple[str, str]] = Counter()
        self._steps: dict[tuple[str, str, str, str], _Histogram] = {}
        self._approvals: dict[str, tuple[str, str]] = {}
        self._tool_started: dict[tuple[str, str], str] = {}
        self._handlers: dict[str, Callable[[_Run, Event], None]] = {
            EventType.MODEL_COMPLETED: self._model_completed,
            EventType.TOOL_STARTED: self._tool_started_at,
            EventType.TOOL_COMPLETED: self._tool_ended,
            EventType.TOOL_FAILED: self._tool_ended,
            EventType.GUARD_DECIDED: self._guard_decided,
            EventType.APPROVAL_REQUESTED: self._approval_requested,
            **{kind: self._wait_resolved for kind in WAIT_CLOSE_TYPES},
        }

    # -- following the journal ----------------------------------------------------------------

    async def sync(self) -> int:
        """Fold in the events written since the last call; returns how many there were."""
        async with self._lock:
            seen = 0
            while True:
                events, after = await self.store.events_since(self._cursor, limit=self.batch)
                if not events:
                    return seen
                for event in events:
                    await self._apply(event)
                seen += len(events)
                self._cursor = after

    async def _run(self, event: Event) -> _Run:
        run = self._runs.get(event.run_id)
        if run is None:
            if event.type == EventType.RUN_CREATED:
                run = _Run(str(event.data.get("tenant", "default")),
                           str(event.data.get("workflow", "")), "pending")
            else:  # created before anything this process can see: ask the projection
                record = await self.store.get_run(event.run_id)
                run = _Run(record.tenant if record else "default",
                           record.workflow if record else "", "pending")
            self._runs[event.run_id] = run
        return run

    async def _apply(self, event: Event) -> None:
        run = await self._run(event)
        self._events[(run.tenant, event.type)] += 1
        self._track_status(run, event)
        if event.type in _PRICED:
            self._price(run, event)
        handler = self._handlers.get(event.type)
        if handler is not None:
            handler(run, event)

    @staticmethod
    def _track_status(run: _Run, event: Event) -> None:
        # The same rules as the store's ``runs`` projection.
        if event.type in STATUS_OF_EVENT:
            run.status = STATUS_OF_EVENT[event.type]
        elif event.type in WAIT_CLOSE_TYPES and run.status == "waiting":
            run.status = "pending"

    def _price(self, run: _Run, event: Event) -> None:
        if self._pricer is None:
            self._pricer = _default_pricer()
        for usage in derive(event, RunTags(run.tenant, run.workflow, {}), self._pricer):
            if usage.type == MODEL:
                model = usage.model or ""
                self._tokens[(run.tenant, model, "input")] += usage.input_tokens
                self._tokens[(run.tenant, model, "output")] += usage.output_tokens
                self._cost[(run.tenant, "model", model)] += usage.cost_usd
            elif usage.type == ACTION:
                self._cost[(run.tenant, "tool", usage.tool or "")] += usage.cost_usd

    def _observe(self, key: tuple[str, str, str, str], seconds: float) -> None:
        self._steps.setdefault(key, _Histogram()).observe(max(0.0, seconds))

    def _model_completed(self, run: _Run, event: Event) -> None:
        model = str(event.data.get("provider_model") or event.data.get("model") or "")
        latency_ms = float(event.data.get("latency_ms") or 0.0)
        self._observe((run.tenant, "model", model, "ok"), latency_ms / 1000)

    def _tool_started_at(self, run: _Run, event: Event) -> None:
        self._tool_started[(event.run_id, event.step_key or "")] = event.time

    def _tool_ended(self, run: _Run, event: Event) -> None:
        started = self._tool_started.pop((event.run_id, event.step_key or ""), None)
        if started is None:  # refused before it started, or settled by a person: no duration
            return
        outcome = "error" if event.type == EventType.TOOL_FAILED else "ok"
        latency_ms = event.data.get("latency_ms")
        seconds = (float(latency_ms) / 1000 if latency_ms is not None
                   else (time_ns(event.time) - time_ns(started)) / 1e9)
        self._observe((run.tenant, "tool", str(event.data.get("tool", "")), outcome), seconds)

    def _guard_decided(self, run: _Run, event: Event) -> None:
        self._guard[(run.tenant, str(event.data.get("guardian", "")),
                     str(event.data.get("result", "")))] += 1

    def _approval_requested(self, run: _Run, event: Event) -> None:
        self._approvals[str(event.data.get("wait_id"))] = (run.tenant,
                                                          str(event.data.get("kind", "")))

    def _wait_resolved(self, run: _Run, event: Event) -> None:
        self._approvals.pop(str(event.data.get("wait_id")), None)

    # -- rendering ----------------------------------------------------------------------------

    def collector(self, tenant: str | None = None) -> Collector:
        """A prometheus_client collector of the current totals (one tenant's, if given), to
        register in a ``CollectorRegistry`` of one's own. Call ``sync()`` before collecting."""
        return _Collector(self, tenant)

    async def render(self, *, tenant: str | None = None,
                     accept: str | None = None) -> tuple[bytes, str]:
        """Catch up with the journal and render the metrics; returns (body, content type).

        ``accept``: the scrape's ``Accept`` header, to answer in OpenMetrics when asked.
        ``tenant``: only that tenant's series.
        """
        await self.sync()
        registry = CollectorRegistry(auto_describe=False)
        registry.register(self.collector(tenant))
        encode, content_type = choose_encoder(accept or "")
        return encode(registry), content_type

    def families(self, tenant: str | None = None) -> Iterator[Metric]:
        """The metric families, as prometheus_client builds them."""
        def mine(key_tenant: str) -> bool:
            return tenant is None or key_tenant == tenant

        yield self._runs_family(mine)
        steps = HistogramMetricFamily(
            "agentplane_step_duration_seconds", "Duration of model and tool calls, in seconds.",
            labels=["tenant", "kind", "name", "outcome"])
        for key, histogram in sorted(self._steps.items()):
            if mine(key[0]):
                steps.add_metric(list(key), histogram.buckets(), histogram.sum)
        yield steps
        yield _counter("agentplane_tokens", "Model tokens, by model and direction.",
                       ["tenant", "model", "direction"], self._tokens, mine)
        yield _counter("agentplane_cost_usd", "Cost of model and tool calls, in USD.",
                       ["tenant", "kind", "name"], self._cost, mine)
        yield _counter("agentplane_guardian_decisions", "Guardian decisions, by result.",
                       ["tenant", "guardian", "result"], self._guard, mine)
        waiting: Counter[tuple[str, str]] = Counter(self._approvals.values())
        approvals = GaugeMetricFamily("agentplane_approvals_waiting",
                                      "Approval requests waiting for a person.",
                                      labels=["tenant", "kind"])
        for (key_tenant, kind), count in sorted(waiting.items()):
            if mine(key_tenant):
                approvals.add_metric([key_tenant, kind], count)
        yield approvals
        yield _counter("agentplane_journal_events", "Journal events, by type.",
                       ["tenant", "type"], self._events, mine)

    def _runs_family(self, mine: Callable[[str], bool]) -> GaugeMetricFamily:
        counts: Counter[tuple[str, str, str]] = Counter(
            (r.tenant, r.workflow, r.status) for r in self._runs.values())
        family = GaugeMetricFamily("agentplane_runs", "Runs, by workflow and status.",
                                   labels=["tenant", "workflow", "status"])
        for tenant, workflow in sorted({(r.tenant, r.workflow) for r in self._runs.values()}):
            if mine(tenant):
                for status in RUN_STATUSES:  # zeros too, so dashboards see every status
                    family.add_metric([tenant, workflow, status],
                                      counts[(tenant, workflow, status)])
        return family


def _counter(name: str, documentation: str, labels: list[str],
             values: Mapping[tuple[str, str, str], float] | Mapping[tuple[str, str], float],
             mine: Callable[[str], bool]) -> CounterMetricFamily:
    family = CounterMetricFamily(name, documentation, labels=labels)
    for key, value in sorted(values.items()):
        if mine(key[0]):
            family.add_metric(list(key), float(value))
    return family


class _Collector(Collector):
    def __init__(self, metrics: JournalMetrics, tenant: str | None) -> None:
        self.metrics = metrics
        self.tenant = tenant

    def collect(self) -> Iterator[Metric]:
        return self.metrics.families(self.tenant)

