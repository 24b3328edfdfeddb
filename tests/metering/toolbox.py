"""Tools of the metering tests."""

from __future__ import annotations

import asyncio

CALLS: list[str] = []


def lookup(item: str) -> str:
    """Look something up."""
    CALLS.append(f"lookup {item}")
    return f"found {item}"


def send_sms(to: str) -> str:
    """Send an SMS (a paid API)."""
    CALLS.append(f"sms {to}")
    return "sent"


async def slow_sms(to: str) -> str:
    """Send an SMS slowly (to overlap two calls)."""
    CALLS.append(f"slow {to}")
    await asyncio.sleep(0.05)
    return "sent"
