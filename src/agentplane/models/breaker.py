"""Circuit breakers per model endpoint, and the observed health of each model.

A breaker opens after ``threshold`` failures in a row (429, 5xx, timeouts): the router then
skips the endpoint until ``cooldown_s`` have passed; the next call is a trial (half-open) that
closes the breaker when it succeeds and opens it again when it fails.

``Health`` keeps each model's recent latency and error rate from the outcomes of its calls
(the same figures the journal's ``model.completed`` / ``model.failed`` hold), as a bounded
window per model: constant time per call, no journal scan.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

State = Literal["closed", "open", "half_open"]
Clock = Callable[[], float]


@dataclass(slots=True)
class Breaker:
    """One endpoint's breaker."""

    threshold: int = 3
    cooldown_s: float = 30.0
    failures: int = 0
    opened_at: float | None = None
    trial: bool = False
    """A half-open trial call is out: other calls keep away until it ends."""

    def state(self, now: float) -> State:
        if self.opened_at is None:
            return "closed"
        return "half_open" if now - self.opened_at >= self.cooldown_s else "open"

    def allows(self, now: float) -> bool:
        state = self.state(now)
        return state == "closed" or (state == "half_open" and not self.trial)

    def started(self, now: float) -> None:
        if self.state(now) == "half_open":
            self.trial = True

    def succeeded(self) -> None:
        self.failures, self.opened_at, self.trial = 0, None, False

    def failed(self, now: float) -> None:
        self.failures += 1
        if self.trial or self.failures >= self.threshold:
            self.opened_at, self.trial = now, False


@dataclass(slots=True)
class Breakers:
    """The breakers of a process's endpoints, made on first use."""

    threshold: int = 3
    cooldown_s: float = 30.0
    clock: Clock = time.monotonic
    _by_endpoint: dict[str, Breaker] = field(default_factory=dict)

    def get(self, endpoint: str) -> Breaker:
        breaker = self._by_endpoint.get(endpoint)
        if breaker is None:
            breaker = self._by_endpoint[endpoint] = Breaker(self.threshold, self.cooldown_s)
        return breaker

    def allows(self, endpoint: str) -> bool:
        breaker = self._by_endpoint.get(endpoint)
        return breaker is None or breaker.allows(self.clock())

    def state(self, endpoint: str) -> State:
        breaker = self._by_endpoint.get(endpoint)
        return "closed" if breaker is None else breaker.state(self.clock())


@dataclass(slots=True)
class _Window:
    latencies: deque[float]
    errors: deque[bool]


@dataclass(slots=True)
class Health:
    """Recent latency and error rate per model, over the last ``window`` calls."""

    window: int = 50
    min_calls: int = 4
    """Calls seen before the error rate counts."""
    _models: dict[str, _Window] = field(default_factory=dict)

    def _of(self, model: str) -> _Window:
        seen = self._models.get(model)
        if seen is None:
            seen = self._models[model] = _Window(deque(maxlen=self.window),
                                                 deque(maxlen=self.window))
        return seen

    def completed(self, model: str, latency_ms: float) -> None:
        seen = self._of(model)
        seen.latencies.append(latency_ms)
        seen.errors.append(False)

    def failed(self, model: str) -> None:
        self._of(model).errors.append(True)

    def latency_ms(self, model: str) -> float | None:
        seen = self._models.get(model)
        if seen is None or not seen.latencies:
            return None
        return sum(seen.latencies) / len(seen.latencies)

    def error_rate(self, model: str) -> float:
        seen = self._models.get(model)
        if seen is None or len(seen.errors) < self.min_calls:
            return 0.0
        return sum(seen.errors) / len(seen.errors)
