"""Whether and where to export traces: the standard ``OTEL_*`` variables decide.

This module reads the environment only; OpenTelemetry (the ``otel`` extra) is imported when a
collector is named, so a server without tracing configured never loads it — nor needs it
installed.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Literal

from agentplane._extras import require
from agentplane.errors import ConfigError

if TYPE_CHECKING:
    from opentelemetry.sdk.trace.export import SpanExporter

    from agentplane.journal import JournalStore

    from .tracer import JournalTracer

_TRACES_ENDPOINT = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
_ENDPOINT = "OTEL_EXPORTER_OTLP_ENDPOINT"
_FEATURE = "exporting traces (OTEL_EXPORTER_OTLP_ENDPOINT is set)"


def exporter_from_env() -> SpanExporter | None:
    """An OTLP/HTTP span exporter if the environment names a collector, else None.

    Reads the standard variables: ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` (used as is) or
    ``OTEL_EXPORTER_OTLP_ENDPOINT`` (``/v1/traces`` is appended), plus ``..._HEADERS``,
    ``..._TIMEOUT``, ``..._COMPRESSION`` and the certificate variables, as the OpenTelemetry SDK
    reads them. ``OTEL_SDK_DISABLED=true`` or ``OTEL_TRACES_EXPORTER=none`` turns tracing off.
    A collector named without the ``otel`` extra installed is a
    :class:`~agentplane._extras.MissingExtraError`.
    """
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    if os.environ.get("OTEL_TRACES_EXPORTER", "").strip().lower() == "none":
        return None
    if not (os.environ.get(_TRACES_ENDPOINT) or os.environ.get(_ENDPOINT)):
        return None
    protocol = (os.environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
                or os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL") or "http/protobuf")
    if protocol.strip().lower() != "http/protobuf":
        raise ConfigError(
            f"OTEL_EXPORTER_OTLP_PROTOCOL is {protocol!r}; Agentplane exports traces over "
            "OTLP/HTTP only: set it to http/protobuf (or unset it) and point the endpoint at "
            "the collector's HTTP port (usually 4318)")
    otlp = require("opentelemetry.exporter.otlp.proto.http.trace_exporter", extra="otel",
                   feature=_FEATURE)
    exporter: SpanExporter = otlp.OTLPSpanExporter()
    return exporter


async def start_tracing(
    store: JournalStore,
    exporter: SpanExporter | None = None,
    *,
    start_at: Literal["now", "beginning"] = "now",
    interval: float = 2.0,
    name: str = "otel",
) -> JournalTracer | None:
    """Start a background ``JournalTracer`` exporting to ``exporter`` or, by default, to the
    OTLP/HTTP collector the environment names. Returns None when no collector is configured
    (then there is nothing to stop). Stop it with ``await tracer.stop()``.
    """
    exporter = exporter or exporter_from_env()
    if exporter is None:
        return None
    from .tracer import JournalTracer

    tracer = JournalTracer(store, exporter, start_at=start_at, interval=interval, name=name)
    await tracer.start()
    return tracer
