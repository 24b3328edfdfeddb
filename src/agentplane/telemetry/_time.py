"""Event times as OpenTelemetry and Prometheus want them (no OpenTelemetry needed here)."""

from __future__ import annotations

from datetime import UTC, datetime

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def time_ns(iso: str) -> int:
    """An event time (ISO 8601) as nanoseconds since the Unix epoch, exactly."""
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - _EPOCH
    return ((delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds) * 1000
