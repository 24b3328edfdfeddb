"""Tools of the demo's personal-data part: a customer directory and a mailer (stand-ins)."""

from __future__ import annotations

CUSTOMERS = {"C-1042": {"name": "Lena Ortiz", "email": "lena.ortiz@example.org",
                        "plan": "premium"}}


def lookup_customer(customer_id: str) -> dict[str, str]:
    """Look a customer up by id: name, e-mail, plan."""
    found = CUSTOMERS.get(customer_id)
    if found is None:
        raise ValueError(f"no customer {customer_id}")
    return found


def send_mail(to: str, body: str) -> dict[str, bool]:
    """Send a mail (the demo sends nothing)."""
    return {"sent": True}
