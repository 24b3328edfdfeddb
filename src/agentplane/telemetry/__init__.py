"""Telemetry: the journal as OpenTelemetry traces and Prometheus metrics, and redacted logs.

Everything here is derived from the journal after the fact — nothing in the runtime calls into
telemetry — so a trace or a metric can never disagree with what the journal recorded.

- ``JournalTracer`` / ``start_tracing``: each run as a trace with GenAI semantic-convention
  spans, exported over OTLP/HTTP when ``OTEL_EXPORTER_OTLP_ENDPOINT`` names a collector
  (the ``otel`` extra).
- ``JournalMetrics``: runs, step durations, tokens, cost, guardian decisions and waiting
  approvals in the Prometheus text format, for a ``/metrics`` endpoint (the ``server`` extra).
- ``configure_logging``: JSON log lines with credentials redacted.

Each name is imported from its module on first use, so ``configure_logging`` does not load
OpenTelemetry or the Prometheus client, and ``start_tracing`` loads OpenTelemetry only when a
collector is configured.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agentplane._lazy import lazy_exports

if TYPE_CHECKING:
    from .logs import JsonFormatter, configure_logging, redact, redact_text
    from .metrics import BUCKETS, JournalMetrics
    from .spans import RunTrace, default_resource, span_id_for, trace_id_for, trace_of
    from .tracer import JournalTracer
    from .tracing import exporter_from_env, start_tracing

_HOME = {
    "JsonFormatter": "logs", "configure_logging": "logs", "redact": "logs",
    "redact_text": "logs",
    "BUCKETS": "metrics", "JournalMetrics": "metrics",
    "RunTrace": "spans", "default_resource": "spans", "span_id_for": "spans",
    "trace_id_for": "spans", "trace_of": "spans",
    "JournalTracer": "tracer",
    "exporter_from_env": "tracing", "start_tracing": "tracing",
}


__getattr__ = lazy_exports(__name__, _HOME, globals())


__all__ = [
    "BUCKETS",
    "JournalMetrics",
    "JournalTracer",
    "JsonFormatter",
    "RunTrace",
    "configure_logging",
    "default_resource",
    "exporter_from_env",
    "redact",
    "redact_text",
    "span_id_for",
    "start_tracing",
    "trace_id_for",
    "trace_of",
]
