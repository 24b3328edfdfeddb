"""Tools of the telemetry tests."""

from __future__ import annotations

from typing import Any


def lookup(order_id: str) -> dict[str, Any]:
    """Look an order up."""
    return {"order_id": order_id, "total": 35.0}


def explode(reason: str) -> str:
    """Always fails."""
    raise RuntimeError(f"boom: {reason}")


def pay(order_id: str, amount: float) -> dict[str, Any]:
    """Pay out money."""
    return {"paid": amount, "order_id": order_id}


def book(room: str) -> dict[str, Any]:
    """Book a room (reversible)."""
    return {"booking_id": f"B-{room}"}


def cancel_booking(booking_id: str) -> str:
    """Cancel a booking."""
    return f"cancelled {booking_id}"
