"""The mail desk's tools: the triage record, the company's systems (purchase orders, vendor
master data, the employee directory, the asset catalogue — in-memory stand-ins), the requests
that change them, and the reply, sent over SMTP.

``send_reply`` takes no address: it answers the sender of the mail that started the run (looked
up in the trigger store by the run's id), so no text in a mail can send a reply elsewhere.
Configured from the environment: ``MAIL_DESK_DB`` (the journal's URL), ``MAIL_DESK_SMTP_HOST``,
``MAIL_DESK_SMTP_PORT``, ``MAIL_DESK_FROM``.
"""

from __future__ import annotations

import os
import smtplib
from email.message import EmailMessage
from typing import Any, Literal

from agentplane.storage import open_database
from agentplane.tools import ToolContext, ToolError
from agentplane.triggers.store import TriggerStore

PURCHASE_ORDERS: dict[str, dict[str, Any]] = {
    "PO-7731": {"po": "PO-7731", "vendor_id": "V-ACME", "vendor": "ACME Office Supply",
                "amount": 480.0, "currency": "EUR", "status": "delivered"},
    "PO-7790": {"po": "PO-7790", "vendor_id": "V-NORD", "vendor": "Nordlicht Furniture",
                "amount": 12400.0, "currency": "EUR", "status": "delivered"},
}
VENDORS: dict[str, dict[str, Any]] = {
    "V-ACME": {"vendor_id": "V-ACME", "name": "ACME Office Supply",
               "iban": "DE12500105170648489890"},
    "V-NORD": {"vendor_id": "V-NORD", "name": "Nordlicht Furniture",
               "iban": "DE44500105175407324931"},
}
EMPLOYEES: dict[str, dict[str, Any]] = {
    "lena.fischer@corp.example": {"employee_id": "E-117", "name": "Lena Fischer",
                                  "leave_days_left": 14, "manager": "Tom Berg"},
    "mia.jones@corp.example": {"employee_id": "E-204", "name": "Mia Jones",
                               "leave_days_left": 9, "manager": "Tom Berg"},
}
CATALOGUE: dict[str, dict[str, Any]] = {
    "LAP-T14": {"sku": "LAP-T14", "name": "ThinkPad T14", "unit_price": 1450.0,
                "currency": "EUR", "in_stock": 6},
}
PAYMENTS: list[dict[str, Any]] = []
"""Payment requests made (what the bank would receive)."""

Category = Literal["invoice", "purchase_request", "leave_request", "other"]
Department = Literal["finance", "hr", "assets", "none"]


def file_triage(category: Category, department: Department, summary: str,
                reference: str | None = None, amount: float | None = None,
                currency: str | None = None, first_day: str | None = None,
                last_day: str | None = None, quantity: int | None = None) -> dict[str, Any]:
    """File the triage of the mail: what it is, which department handles it, and the facts it
    states. The arguments are the desk's metadata schema (validated before the call).

    Args:
        category: What the mail asks for.
        department: Who handles it: finance (invoices), hr (leave), assets (purchases).
        summary: One sentence on what the sender wants.
        reference: The purchase order, invoice or catalogue number the mail names.
        amount: The amount the mail states.
        currency: The currency of the amount (ISO 4217).
        first_day: First day of a leave (ISO date).
        last_day: Last day of a leave (ISO date).
        quantity: How many items a purchase request asks for.
    """
    filed = {"category": category, "department": department, "summary": summary,
             "reference": reference, "amount": amount, "currency": currency,
             "first_day": first_day, "last_day": last_day, "quantity": quantity}
    return {k: v for k, v in filed.items() if v is not None}


def lookup_po(po: str) -> dict[str, Any]:
    """A purchase order: vendor, amount and delivery status."""
    order = PURCHASE_ORDERS.get(po.strip().upper())
    if order is None:
        raise ToolError(f"no purchase order {po!r}")
    return order


def vendor_record(vendor_id: str) -> dict[str, Any]:
    """The vendor master data: name and the IBAN on file."""
    vendor = VENDORS.get(vendor_id)
    if vendor is None:
        raise ToolError(f"no vendor {vendor_id!r}")
    return vendor


def request_payment(vendor_id: str, iban: str, amount: float, po: str,
                    context: ToolContext) -> dict[str, Any]:
    """Ask the bank to pay a vendor for a purchase order."""
    payment = {"payment": f"P-{context.idempotency_key[-6:]}", "vendor_id": vendor_id,
               "iban": iban, "amount": amount, "po": po, "status": "requested"}
    if not any(p["payment"] == payment["payment"] for p in PAYMENTS):
        PAYMENTS.append(payment)
    return payment


def employee_record(email: str) -> dict[str, Any]:
    """The employee directory's record of a work address: id, leave left, manager."""
    employee = EMPLOYEES.get(email.strip().lower())
    if employee is None:
        raise ToolError(f"no employee with the address {email!r}")
    return employee


def request_leave(employee_id: str, first_day: str, last_day: str,
                  context: ToolContext) -> dict[str, Any]:
    """Book a leave in the HR system (its manager has approved it)."""
    return {"leave": f"L-{context.idempotency_key[-6:]}", "employee_id": employee_id,
            "first_day": first_day, "last_day": last_day, "status": "booked"}


def asset_catalog(sku: str) -> dict[str, Any]:
    """The asset catalogue's entry: name, unit price, stock."""
    item = CATALOGUE.get(sku.strip().upper())
    if item is None:
        raise ToolError(f"no catalogue item {sku!r}")
    return item


def order_asset(sku: str, quantity: int, context: ToolContext) -> dict[str, Any]:
    """Order items of the catalogue for the requester."""
    return {"order": f"A-{context.idempotency_key[-6:]}", "sku": sku, "quantity": quantity,
            "status": "ordered"}


def _mail_of(run_id: str) -> dict[str, Any]:
    """What the mail trigger recorded of the mail that started the run."""
    url = os.environ.get("MAIL_DESK_DB")
    if not url:
        raise ToolError("MAIL_DESK_DB is not set: the reply tool cannot find the mail")
    database = open_database(url)
    try:
        fires = TriggerStore(database).fires("default", "mail-desk", "inbox", limit=10_000)
    finally:
        database.close()
    for fired in fires:
        if fired.run_id == run_id:
            return fired.detail
    raise ToolError(f"run {run_id} was not started by a mail: there is nobody to reply to")


def send_reply(body: str, context: ToolContext) -> dict[str, Any]:
    """Reply to the sender of the mail this run handles.

    Args:
        body: The text of the reply.
    """
    mail = _mail_of(context.run_id)
    reply = EmailMessage()
    reply["From"] = os.environ.get("MAIL_DESK_FROM", "desk@corp.example")
    reply["To"] = mail["from"]
    subject = str(mail.get("subject") or "")
    reply["Subject"] = subject if subject.lower().startswith("re:") else f"Re: {subject}"
    if mail.get("message_id"):
        reply["In-Reply-To"] = reply["References"] = mail["message_id"]
    reply["Message-ID"] = f"<{context.idempotency_key}@mail-desk.local>"
    reply.set_content(body)
    host = os.environ.get("MAIL_DESK_SMTP_HOST", "localhost")
    port = int(os.environ.get("MAIL_DESK_SMTP_PORT", "25"))
    with smtplib.SMTP(host, port, timeout=30) as smtp:
        smtp.send_message(reply)
    return {"sent": True, "subject": reply["Subject"]}
