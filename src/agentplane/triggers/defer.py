"""Deferrable runs: start a run that may wait in the cheapest or greenest window of a signal,
never after its deadline.

A *signal* is a forecast of electricity price and/or grid carbon intensity, JSON from a file or
an http(s) URL (docs/deferral.md)::

    {"unit": {"price": "usd_per_kwh", "carbon": "gco2e_per_kwh"},
     "points": [{"start": "2026-12-03T12:00:00Z", "price": 0.31, "carbon": 420}, ...]}

Each point holds from its ``start`` until the next point's (the last one for as long as the one
before it). ``price`` is USD per kWh, or with ``"price": "multiplier"`` a factor on the
per-token list price (1.0 = list). The plan considers starting now and at every point that
begins before the deadline, and takes the lowest value of the preferred quantity (earliest on
ties). A signal that is missing, unreadable or has no value for it: start now, and say why.

A deferred run is created ``waiting`` on a timer wait (step ``defer``) whose deadline is the
chosen start: the worker that expires due waits makes it runnable then, like any timer, so
leases, approvals and cancelling work as for every waiting run. ``run.deferred`` is journaled
with the run: {start_at, deadline, prefer, signal, reason, now, at_start, expected_saving}.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

from agentplane.errors import ConfigError
from agentplane.journal import EventType, NewEvent
from agentplane.runtime.context import wait_id
from agentplane.runtime.trigger_spec import DeferSpec

DEFER_STEP = "defer"
"""Step key of a deferred run's timer wait."""
Prefer = Literal["cheapest", "greenest"]
METRIC = {"cheapest": "price", "greenest": "carbon"}
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> float:
    """``90s``, ``30m``, ``12h``, ``2d`` (or ``1h30m``) in seconds; a clear error otherwise."""
    compact = re.sub(r"\s", "", text.lower())
    if not re.fullmatch(r"(?:\d+(?:\.\d+)?[smhd])+", compact):
        raise ConfigError(f"defer within {text!r}: use a duration such as 30m, 12h or 2d")
    parts = re.findall(r"(\d+(?:\.\d+)?)([smhd])", compact)
    return sum(float(n) * _UNITS[u] for n, u in parts)


class _Point(BaseModel):
    model_config = ConfigDict(extra="ignore")
    start: datetime
    price: float | None = None
    carbon: float | None = None


class _Signal(BaseModel):
    model_config = ConfigDict(extra="ignore")
    unit: dict[str, str] = {}
    points: list[_Point]


@dataclass(frozen=True)
class Signal:
    """A forecast: (start time, price, carbon) points in time order."""

    points: list[tuple[float, float | None, float | None]]
    price_unit: str = "usd_per_kwh"
    source: str = ""

    def at(self, t: float, metric: str) -> float | None:
        """The value of ``metric`` (price or carbon) the forecast gives for time ``t``."""
        if not self.points or t < self.points[0][0]:
            return None
        step = self.points[1][0] - self.points[0][0] if len(self.points) > 1 else 3600.0
        for i, (start, price, carbon) in enumerate(self.points):
            end = self.points[i + 1][0] if i + 1 < len(self.points) else start + step
            if start <= t < end:
                return price if metric == "price" else carbon
        return None


def parse_signal(data: Any, source: str = "<signal>") -> Signal:
    """A signal from its JSON shape; a ``ConfigError`` saying what is wrong, and where."""
    try:
        parsed = _Signal.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"signal {source}: {where}: {first['msg']}") from exc
    if not parsed.points:
        raise ConfigError(f"signal {source}: no points")
    points = []
    for p in parsed.points:
        start = p.start if p.start.tzinfo else p.start.replace(tzinfo=UTC)
        points.append((start.timestamp(), p.price, p.carbon))
    points.sort(key=lambda p: p[0])
    unit = parsed.unit.get("price", "usd_per_kwh")
    if unit not in ("usd_per_kwh", "multiplier"):
        raise ConfigError(f"signal {source}: unit.price {unit!r}: use usd_per_kwh or multiplier")
    return Signal(points, unit, source)


async def load_signal(ref: str, base_dir: Path) -> Signal:
    """Read a signal from a file (relative to ``base_dir``) or an http(s) URL."""
    if ref.startswith(("http://", "https://")):
        try:
            async with httpx.AsyncClient(timeout=10.0) as client:
                response = await client.get(ref)
                response.raise_for_status()
                data = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise ConfigError(f"signal {ref}: cannot read it ({exc})") from exc
        return parse_signal(data, ref)
    path = Path(ref) if Path(ref).is_absolute() else base_dir / ref
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"signal {ref}: cannot read it ({exc})") from exc
    return parse_signal(data, ref)


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class DeferPlan:
    """When a run starts, and why."""

    start_at: float
    deadline: float
    prefer: str
    reason: str
    signal: str | None = None
    now: dict[str, float | None] = field(default_factory=dict)
    """The signal's price and carbon for starting at once."""
    at_start: dict[str, float | None] = field(default_factory=dict)
    """...and for starting at ``start_at``."""
    price_unit: str = "usd_per_kwh"

    @property
    def expected_saving(self) -> float | None:
        """The preferred quantity's saving as a fraction of starting now (0.4 = 40 % less)."""
        metric = METRIC[self.prefer]
        now, then = self.now.get(metric), self.at_start.get(metric)
        if now is None or then is None or now <= 0:
            return None
        return round(1 - then / now, 4)

    def event_data(self) -> dict[str, Any]:
        return {"start_at": _iso(self.start_at), "deadline": _iso(self.deadline),
                "prefer": self.prefer, "signal": self.signal, "reason": self.reason,
                "now": self.now, "at_start": self.at_start, "price_unit": self.price_unit,
                "expected_saving": self.expected_saving}


def choose_window(signal: Signal, *, now: float, deadline: float, prefer: str) -> DeferPlan:
    """The best start in ``[now, deadline]`` for ``prefer`` (a pure function of its inputs)."""
    metric = METRIC[prefer]
    candidates = [now, *(t for t, _, _ in signal.points if now < t <= deadline)]
    valued = [(v, t) for t in candidates if (v := signal.at(t, metric)) is not None]

    def values(t: float) -> dict[str, float | None]:
        return {"price": signal.at(t, "price"), "carbon": signal.at(t, "carbon")}

    base = DeferPlan(now, deadline, prefer, "", signal.source, values(now), values(now),
                     signal.price_unit)
    if not valued:
        return replace(base, reason=f"the signal has no {metric} before the deadline: "
                                    "started at once")
    best, start = min(valued, key=lambda vt: (vt[0], vt[1]))
    why = (f"lowest {metric} ({best:g}) before the deadline" if start > now
           else f"now is already the lowest {metric} ({best:g}) before the deadline")
    return replace(base, start_at=start, reason=why, at_start=values(start))


async def plan_deferral(spec: DeferSpec, base_dir: Path, *, now: float | None = None,
                        within: str | None = None, prefer: str | None = None,
                        signal: str | None = None) -> DeferPlan:
    """The plan for a run of a workflow declaring ``spec`` (``within``, ``prefer``, ``signal``
    override it, e.g. from ``run --defer``). Never raises for a bad signal: starts now."""
    start = time.time() if now is None else now
    chosen_prefer = prefer or spec.prefer
    if chosen_prefer not in METRIC:
        raise ConfigError(f"defer prefer {chosen_prefer!r}: use cheapest or greenest")
    deadline = start + parse_duration(within or spec.within)
    ref = signal or spec.signal
    if ref is None:
        return DeferPlan(start, deadline, chosen_prefer, "no signal declared: started at once")
    try:
        loaded = await load_signal(ref, base_dir)
    except ConfigError as exc:
        return DeferPlan(start, deadline, chosen_prefer, f"{exc}: started at once", ref)
    return choose_window(loaded, now=start, deadline=deadline, prefer=chosen_prefer)


def deferral_events(run_id: str, plan: DeferPlan, *, now: float | None = None
                    ) -> list[NewEvent]:
    """The events a deferred run is created with: ``run.deferred``, and when it starts later
    than now, its timer wait and ``run.waiting``."""
    deferred = NewEvent(EventType.RUN_DEFERRED, data=plan.event_data())
    if plan.start_at <= (time.time() if now is None else now):
        return [deferred]
    wid = wait_id(run_id, DEFER_STEP)
    return [deferred,
            NewEvent(EventType.WAIT_OPENED, step_key=DEFER_STEP,
                     data={"wait_id": wid, "kind": "timer", "deadline": plan.start_at,
                           "reason": f"deferred until {_iso(plan.start_at)}"}),
            NewEvent(EventType.RUN_WAITING, data={"waits": [wid]})]
