"""The support desk's own tools: look an order up, ask for a refund (a write, journaled and
never made twice). In-memory stand-ins for the shop's order system."""

from __future__ import annotations

from typing import Any

ORDERS: dict[str, dict[str, Any]] = {
    "A-77": {"order": "A-77", "customer_id": "C-1042", "item": "Travel kettle",
             "paid_cny": 680, "delivered": "2026-09-02"},
    "A-91": {"order": "A-91", "customer_id": "C-1042", "item": "Desk lamp",
             "paid_cny": 620, "delivered": "2026-11-20"},
}


def lookup_order(order_id: str) -> dict[str, Any]:
    """The order: customer, item, amount paid (CNY) and delivery date."""
    order = ORDERS.get(order_id)
    if order is None:
        raise ValueError(f"no order {order_id!r}")
    return order


def request_refund(order_id: str, amount_cny: float, reason: str) -> dict[str, Any]:
    """Ask the payments team to refund an order (to the customer's original payment method)."""
    return {"refund": f"R-{order_id}", "order": order_id, "amount_cny": amount_cny,
            "reason": reason, "status": "requested"}
