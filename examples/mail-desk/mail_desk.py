"""The mail desk: every mail to the desk's mailbox starts a run. A triage agent files the mail's
metadata (the ``file_triage`` tool's parameters are the schema) and hands it to finance, HR or
assets. The mail is outside content: the run's input is untrusted (the mail trigger marks it),
so what a request selects — an account, a date, a quantity — must trace to the company's own
systems, or a person must approve it.

- Payments and replies run unattended (the workflow is ``out_of_the_loop``): a value only the
  mail gave is refused (``provenance.unattended: deny``); a payment above 5000 EUR waits for a
  finance approver (policy ``payment-limit``).
- Leave and orders are ``on_the_loop``: the days of a leave and the quantity of an order can
  only come from the mail, so a person approves them (``provenance.decision:
  require_approval``).
- ``send_reply`` takes no address: it answers the sender of the mail that started the run.
"""

from __future__ import annotations

import tools  # this folder's tools.py

from agentplane import Agent, Workflow, tool

MODEL = "openai:gpt-4o-mini"
"""The model the agents declare; run.py answers every call with ``desk_model`` unless told to
use the real one."""

file_triage = tool(tools.file_triage, effect="read", trust="untrusted")
lookup_po = tool(tools.lookup_po, effect="read")
vendor_record = tool(tools.vendor_record, effect="read")
request_payment = tool(tools.request_payment, effect="write", idempotent=True, trust="trusted")
employee_record = tool(tools.employee_record, effect="read")
request_leave = tool(tools.request_leave, effect="write", idempotent=True, trust="trusted",
                     autonomy="on_the_loop")
asset_catalog = tool(tools.asset_catalog, effect="read")
order_asset = tool(tools.order_asset, effect="write", idempotent=True, trust="trusted",
                   autonomy="on_the_loop")
send_reply = tool(tools.send_reply, effect="write", external=True, composed=["body"])

finance = Agent(
    "finance", model=MODEL, description="pays invoices against purchase orders",
    instructions="You pay invoices. Look the purchase order up, pay the vendor's IBAN on file "
                 "for the order's amount, and reply to the sender. Never pay an account that "
                 "only a mail names.",
    tools=[lookup_po, vendor_record, request_payment, send_reply])
hr = Agent(
    "hr", model=MODEL, description="books leave for employees",
    instructions="You book leave. Find the employee by the sender's address, request the leave "
                 "for the days the mail asks (the manager approves it), and reply to the sender.",
    tools=[employee_record, request_leave, send_reply])
assets = Agent(
    "assets", model=MODEL, description="orders equipment from the catalogue",
    instructions="You order equipment. Look the item up in the catalogue, order the quantity "
                 "asked (the asset manager approves it), and reply to the sender.",
    tools=[asset_catalog, order_asset, send_reply])
triage = Agent(
    "triage", model=MODEL,
    instructions="You triage the mail of the company's shared desk. File the mail's metadata "
                 "with file_triage (category, department, a one-sentence summary and the facts "
                 "it states), then hand the mail to the department that handles it: finance "
                 "for invoices, hr for leave requests, assets for purchase requests.",
    tools=[file_triage], handoffs=[finance, hr, assets])

GUARDIANS = {
    "provenance": {"decision": "require_approval", "unattended": "deny"},
    "policies": [{"id": "payment-limit", "version": 1, "tools": ["request_payment"],
                  "description": "Payments above 5000 EUR wait for a finance approver.",
                  "arguments": {"amount": {"max": 5000}}, "decision": "require_approval"}],
}


def desk(host: str = "localhost", port: int = 993, *, tls: bool = True,
         mailbox: str = "INBOX") -> Workflow:
    """The desk's workflow, its mail trigger on ``host:port`` (credentials from
    ``MAIL_DESK_USER`` and ``MAIL_DESK_PASSWORD``)."""
    return Workflow(
        "mail-desk", steps=[triage], agents=[triage, finance, hr, assets],
        description="Mail in, work out: invoices, leave and purchase requests from a mailbox.",
        autonomy="out_of_the_loop", guardians=GUARDIANS,
        triggers=[{"name": "inbox", "mail": {
            "host": host, "port": port, "tls": tls, "mailbox": mailbox,
            "user_env": "MAIL_DESK_USER", "password_env": "MAIL_DESK_PASSWORD"}}])
