"""Telemetry: the journal as OpenTelemetry traces and Prometheus metrics, and redacted logs.

Everything here is derived from the journal after the fact — nothing in the runtime calls into
telemetry — so a trace or a metric can never disagree with what the journal recorded.

- ``JournalTracer`` / ``start_tracing``: each run as a trace with GenAI semantic-convention
  spans, exported over OTLP/HTTP when ``OTEL_EXPORTER_OTLP_ENDPOINT`` names a collector.
- ``JournalMetrics``: runs, step durations, tokens, cost, guardian decisions and waiting
  approvals in the Prometheus text format, for a ``/metrics`` endpoint.
- ``configure_logging``: JSON log lines with credentials redacted.
"""

from __future__ import annotations

from .logs import JsonFormatter, configure_logging, redact, redact_text
from .metrics import BUCKETS, JournalMetrics
from .spans import RunTrace, default_resource, span_id_for, trace_id_for, trace_of
from .tracer import JournalTracer, exporter_from_env, start_tracing

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
