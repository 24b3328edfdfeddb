"""What deferral saved: money and gCO2e of each deferred run against starting it at once.

A deferred run's plan (``trigger_deferrals``, the same as its ``run.deferred`` event) holds
the signal's price and carbon intensity for starting at once (``now``) and at the chosen start
(``at_start``). Once the run has used the model, its energy is known:

- metered energy (``energy_kwh`` of its model calls, for models priced by the economics model),
- else its tokens × ``REFERENCE_KWH_PER_MILLION_TOKENS``, the economics model's energy per
  million tokens of the reference server (docs/economics.md, 003 Table 7 "derived opex":
  1.275 kW per GPU, PUE 1.25, 735 tokens/s per GPU → 0.602 kWh per million tokens).

Saved money: energy × (price now − price at start) for a price in USD per kWh; the run's
metered cost × (multiplier now − multiplier at start) for a per-token multiplier. Saved gCO2e:
energy × (carbon now − carbon at start). A run that has not run yet shows only the expected
saving (a fraction of the preferred quantity).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from agentplane.economics.model import Server, energy_kwh_per_million_tokens
from agentplane.journal import EventType, JournalStore
from agentplane.metering.usage import Pricer, free

from .store import TriggerStore

REFERENCE_SERVER = Server(name="H200 8-GPU (derived opex)", capital_cost_usd=246_391, gpus=8,
                          useful_life_years=4.0, kw_per_gpu=1.275, pue=1.25,
                          throughput_tokens_per_second_per_gpu=735)
REFERENCE_KWH_PER_MILLION_TOKENS: float = energy_kwh_per_million_tokens(REFERENCE_SERVER) or 0.0


@dataclass(frozen=True)
class Saving:
    run_id: str
    workflow: str
    tenant: str
    status: str
    prefer: str
    start_at: str
    deadline: str
    reason: str
    expected_saving: float | None
    """The preferred quantity's expected saving, as a fraction of starting at once."""
    tokens: int = 0
    energy_kwh: float | None = None
    energy_basis: str = ""
    saved_usd: float | None = None
    saved_gco2e: float | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _diff(plan: dict[str, Any], metric: str) -> float | None:
    now, then = (plan.get("now") or {}).get(metric), (plan.get("at_start") or {}).get(metric)
    return None if now is None or then is None else float(now) - float(then)


async def deferral_savings(journal: JournalStore, store: TriggerStore, *,
                           tenant: str | None = None, pricer: Pricer = free,
                           limit: int = 100) -> list[Saving]:
    """The deferred runs (newest first) and what each saved."""
    found = []
    for run_id, run_tenant, workflow, plan in store.deferrals(tenant, limit):
        run = await journal.get_run(run_id)
        status = run.status if run is not None else "missing"
        base = Saving(run_id, workflow, run_tenant, status, str(plan.get("prefer")),
                      str(plan.get("start_at")), str(plan.get("deadline")),
                      str(plan.get("reason", "")), plan.get("expected_saving"))
        if run is None or status in ("pending", "waiting"):
            found.append(base)
            continue
        tokens, cost, metered = 0, 0.0, 0.0
        for event in await journal.events(run_id):
            if event.type != EventType.MODEL_COMPLETED or not event.usage:
                continue
            tokens += event.usage.get("input_tokens", 0) + event.usage.get("output_tokens", 0)
            price = pricer(str(event.data.get("provider_model") or event.data.get("model")),
                           event.usage)
            cost += price.usd
            metered += price.energy_kwh or 0.0
        energy = metered or tokens / 1e6 * REFERENCE_KWH_PER_MILLION_TOKENS
        basis = ("metered" if metered else
                 f"{tokens} tokens × {REFERENCE_KWH_PER_MILLION_TOKENS:.3f} kWh per million "
                 "(economics reference server)")
        price_diff, carbon_diff = _diff(plan, "price"), _diff(plan, "carbon")
        if price_diff is None:
            usd = None
        elif plan.get("price_unit") == "multiplier":
            usd = cost * price_diff
        else:
            usd = energy * price_diff
        found.append(Saving(**{**asdict(base), "tokens": tokens, "energy_kwh": energy,
                               "energy_basis": basis, "saved_usd": usd,
                               "saved_gco2e": None if carbon_diff is None
                               else energy * carbon_diff}))
    return found


def totals(savings: list[Saving]) -> dict[str, float | int]:
    """Deferred runs, and what the finished ones saved in all."""
    return {"deferred_runs": len(savings),
            "saved_usd": sum(s.saved_usd or 0.0 for s in savings),
            "saved_gco2e": sum(s.saved_gco2e or 0.0 for s in savings),
            "energy_kwh": sum(s.energy_kwh or 0.0 for s in savings)}
