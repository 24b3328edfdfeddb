"""Tools the runtime tests use; they record every invocation so tests can count them."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from agentplane.tools import ToolContext

CALLS: list[tuple[str, dict[str, Any]]] = []
GATE = threading.Event()
"""Tests that simulate a crash mid-call hold ``blocking_write`` here."""
ENTERED = threading.Event()
BARRIER: asyncio.Barrier | None = None


def reset() -> None:
    global BARRIER
    CALLS.clear()
    GATE.clear()
    ENTERED.clear()
    BARRIER = None


def lookup(order_id: str) -> dict[str, Any]:
    """Look an order up."""
    CALLS.append(("lookup", {"order_id": order_id}))
    return {"order_id": order_id, "total": 35.0}


def refund(order_id: str, amount: float, context: ToolContext) -> dict[str, Any]:
    """Refund an order."""
    CALLS.append(("refund", {"order_id": order_id, "amount": amount,
                             "key": context.idempotency_key, "step": context.step_key,
                             "attempt": context.attempt, "run": context.run_id}))
    return {"refunded": amount}


def explode(reason: str) -> str:
    """Always fails."""
    CALLS.append(("explode", {"reason": reason}))
    raise RuntimeError(f"boom: {reason}")


async def rendezvous(name: str) -> str:
    """Completes only when another call of it runs at the same time."""
    CALLS.append(("rendezvous", {"name": name}))
    assert BARRIER is not None
    await asyncio.wait_for(BARRIER.wait(), timeout=10)
    return f"met {name}"


def blocking_write(item: str, context: ToolContext) -> str:
    """A write that blocks until the test opens the gate (to stand for a crash mid-call)."""
    CALLS.append(("blocking_write", {"item": item, "attempt": context.attempt}))
    ENTERED.set()
    GATE.wait(timeout=30)
    return f"wrote {item}"
