"""Tools of the refund-desk example: an in-file order book and a refund ledger.

The ledger is a JSON-lines file next to this one (or in $REFUND_LEDGER); refunds are keyed by
the idempotency key Agentplane passes, so a refund repeated after a crash is recognised.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from agentplane.tools import ToolContext

ORDERS = {"A1": {"order_id": "A1", "total": 35.0, "customer": "Ana"},
          "B7": {"order_id": "B7", "total": 120.0, "customer": "Bo"}}


def _ledger() -> Path:
    return Path(os.environ.get("REFUND_LEDGER", Path(__file__).with_name("ledger.jsonl")))


def lookup_order(order_id: str) -> dict[str, object]:
    """Look an order up by its id."""
    order = ORDERS.get(order_id)
    if order is None:
        raise ValueError(f"no order {order_id}")
    return order


def issue_refund(order_id: str, amount: float, context: ToolContext) -> dict[str, object]:
    """Refund part or all of an order to the customer."""
    ledger = _ledger()
    if ledger.exists():
        for line in ledger.read_text().splitlines():
            entry = json.loads(line)
            if entry["key"] == context.idempotency_key:
                return {"refund_id": entry["key"][-8:], "status": "already refunded"}
    with ledger.open("a") as f:
        f.write(json.dumps({"key": context.idempotency_key, "order_id": order_id,
                            "amount": amount}) + "\n")
    return {"refund_id": context.idempotency_key[-8:], "status": "refunded", "amount": amount}


def cancel_refund(refund_id: str) -> dict[str, object]:
    """Reverse a refund."""
    return {"refund_id": refund_id, "status": "cancelled"}
