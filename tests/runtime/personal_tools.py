"""Tools of the personal-data tests: a customer directory and a mailer that remembers what it
sent (so a test sees what a tool received after a resume)."""

from __future__ import annotations

from typing import Any

CUSTOMERS = {"C-77": {"name": "Anna Schmidt", "email": "anna.schmidt@example.de",
                      "tier": "gold"}}
SENT: list[dict[str, Any]] = []


def lookup_customer(customer_id: str) -> dict[str, Any]:
    return CUSTOMERS[customer_id]


def send_mail(to: str, body: str) -> dict[str, Any]:
    SENT.append({"to": to, "body": body})
    return {"sent": True}
