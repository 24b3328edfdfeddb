"""Showback, chargeback and unit economics over the usage ledger, and the FinOps FOCUS export."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from .ledger import ALL_TIME, UsageLedger, Window
from .usage import ACTION, ACTIVE, ESCALATION, MODEL, OUTCOME, TASK

REPORT_FIGURES = ("model_calls", "input_tokens", "cached_input_tokens", "output_tokens",
                  "reasoning_tokens", "actions", "tasks", "active_minutes", "outcomes",
                  "escalations", "cost_usd", "energy_kwh")
"""``escalations``: calls a router sent from local models to the cloud (``--by model``: to
which one; the spend per chosen model is the model calls' cost)."""


def usage_report(ledger: UsageLedger, window: Window = ALL_TIME, *,
                 by: Sequence[str] = ("tenant",), where: dict[str, str] | None = None
                 ) -> list[dict[str, Any]]:
    """One row per group: calls, tokens, actions, tasks, active minutes, outcomes, cost,
    energy, and the cost per outcome (unit economics)."""
    groups = [ledger.column(g) for g in by]
    conditions, args = ledger.where_clause(None, window, where)
    select = ", ".join([*groups,
        f"SUM(CASE WHEN type = '{MODEL}' THEN 1 ELSE 0 END)",
        f"SUM(CASE WHEN type = '{MODEL}' THEN input_tokens END)",
        f"SUM(CASE WHEN type = '{MODEL}' THEN cached_input_tokens END)",
        f"SUM(CASE WHEN type = '{MODEL}' THEN output_tokens END)",
        f"SUM(CASE WHEN type = '{MODEL}' THEN reasoning_tokens END)",
        f"SUM(CASE WHEN type = '{ACTION}' THEN 1 ELSE 0 END)",
        f"SUM(CASE WHEN type = '{TASK}' THEN 1 ELSE 0 END)",
        f"SUM(CASE WHEN type = '{ACTIVE}' THEN quantity END) / 60.0",
        f"SUM(CASE WHEN type = '{OUTCOME}' THEN quantity END)",
        f"SUM(CASE WHEN type = '{ESCALATION}' THEN quantity END)",
        "SUM(cost_usd)", "SUM(energy_kwh)"])
    sql = f"SELECT {select} FROM usage_events{conditions}"
    if groups:
        sql += f" GROUP BY {', '.join(groups)} ORDER BY SUM(cost_usd) DESC"
    rows = []
    for r in ledger.query(sql, args):
        figures = dict(zip(REPORT_FIGURES, (x or 0 for x in r[len(groups):]), strict=True))
        row: dict[str, Any] = dict(zip(by, r[:len(groups)], strict=True))
        row.update(figures)
        row["cost_per_outcome_usd"] = (figures["cost_usd"] / figures["outcomes"]
                                       if figures["outcomes"] else None)
        rows.append(row)
    return rows


FOCUS_COLUMNS = (
    "BilledCost", "EffectiveCost", "ListCost", "ContractedCost", "BillingCurrency",
    "BillingAccountId", "BillingAccountName", "BillingPeriodStart", "BillingPeriodEnd",
    "ChargePeriodStart", "ChargePeriodEnd", "ChargeCategory", "ChargeClass", "ChargeDescription",
    "ChargeFrequency", "ConsumedQuantity", "ConsumedUnit", "PricingCategory", "PricingQuantity",
    "PricingUnit", "ProviderName", "PublisherName", "InvoiceIssuerName", "ResourceId",
    "ResourceName", "ResourceType", "ServiceCategory", "ServiceName", "SkuId", "SubAccountId",
    "SubAccountName", "Tags",
)
"""The FinOps FOCUS 1.x columns Agentplane fills (one row per day, tenant, workflow, agent and
model or tool)."""

_UNITS = {MODEL: "Tokens", ACTION: "Requests", TASK: "Tasks", ACTIVE: "Seconds",
          OUTCOME: "Outcomes"}


def _day(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def export_focus(ledger: UsageLedger, window: Window, out: TextIO, *,
                 provider: str = "Agentplane") -> int:
    """Write the window's usage as FOCUS rows (CSV). Returns the number of rows."""
    conditions, args = ledger.where_clause(None, window, None)
    day = ("CAST(FLOOR(ts / 86400) AS INTEGER)" if ledger.dialect == "postgresql"
           else "CAST(ts / 86400 AS INTEGER)")  # whole days, rounded down in both
    sql = (f"SELECT {day} AS day, type, tenant, workflow, agent, model, "
           f"tool, tags, SUM(cost_usd), SUM(CASE WHEN type = '{MODEL}' THEN input_tokens + "
           f"output_tokens ELSE quantity END) FROM usage_events{conditions} "
           "GROUP BY day, type, tenant, workflow, agent, model, tool, tags "
           "ORDER BY day, tenant, workflow")
    start = _iso(_day(window.start)) if window.start is not None else ""
    end = _iso(_day(window.end)) if window.end is not None else ""
    writer = csv.DictWriter(out, fieldnames=FOCUS_COLUMNS)
    writer.writeheader()
    count = 0
    for day, kind, tenant, workflow, agent, model, tool, tags, cost, quantity in \
            ledger.query(sql, args):
        if kind == ESCALATION:
            continue  # a routing fact for reports, not a charge
        day_start = datetime.fromtimestamp(day * 86400, UTC)
        resource = model or tool or workflow
        writer.writerow({
            "BilledCost": f"{cost:.10f}", "EffectiveCost": f"{cost:.10f}",
            "ListCost": f"{cost:.10f}", "ContractedCost": f"{cost:.10f}",
            "BillingCurrency": "USD", "BillingAccountId": tenant, "BillingAccountName": tenant,
            "BillingPeriodStart": start, "BillingPeriodEnd": end,
            "ChargePeriodStart": _iso(day_start),
            "ChargePeriodEnd": _iso(datetime.fromtimestamp((day + 1) * 86400, UTC)),
            "ChargeCategory": "Usage", "ChargeClass": "",
            "ChargeDescription": f"{kind.rsplit('.', 1)[-1]} of {workflow}"
                                 + (f"/{agent}" if agent else ""),
            "ChargeFrequency": "Usage-Based", "ConsumedQuantity": quantity,
            "ConsumedUnit": _UNITS.get(kind, "Units"), "PricingCategory": "Standard",
            "PricingQuantity": quantity, "PricingUnit": _UNITS.get(kind, "Units"),
            "ProviderName": provider, "PublisherName": (model or "").split(":")[0] or provider,
            "InvoiceIssuerName": provider, "ResourceId": f"{workflow}/{agent or '-'}/{resource}",
            "ResourceName": resource, "ResourceType": "model" if model else (
                "tool" if tool else "workflow"),
            "ServiceCategory": "AI and Machine Learning", "ServiceName": "Agentplane",
            "SkuId": kind, "SubAccountId": workflow, "SubAccountName": workflow,
            "Tags": json.dumps({**json.loads(tags), "agent": agent or ""}, sort_keys=True),
        })
        count += 1
    return count


def write_focus(ledger: UsageLedger, window: Window, path: Path) -> int:
    with path.open("w", newline="", encoding="utf-8") as f:
        return export_focus(ledger, window, f)
