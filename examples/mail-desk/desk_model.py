"""The offline stand-in for the desk's model: a deterministic reply function of what each agent
is shown, as a model following the agents' instructions would answer. It *obeys* what a mail
says — a mail that announces new bank details gets its IBAN used — because the guardians must
hold even when the model falls for an injection.

With ``run.py --model real`` the agents call the model they declare (``mail_desk.py``) instead.
"""

from __future__ import annotations

import json
import re
from typing import Any

from agentplane.testing import ModelCall, Reply, call

IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){3,7}(?: ?[A-Z0-9]{1,3})?\b")
PO = re.compile(r"\bPO-\d{4}\b")
SKU = re.compile(r"\b[A-Z]{3}-[A-Z]\d{2,3}\b")
DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")
QUANTITY = re.compile(r"\b(\d{1,3}) (?:x |new |more )?(?:laptops?|items?|units?|pieces?)\b")


def _mail(call_: ModelCall) -> dict[str, Any]:
    try:
        mail = json.loads(call_.input)
    except ValueError:
        return {"text": call_.input, "subject": "", "from": ""}
    return mail if isinstance(mail, dict) else {"text": str(mail), "subject": "", "from": ""}


def _results(call_: ModelCall) -> dict[str, Any]:
    """The latest result of each tool the conversation holds (text if not JSON)."""
    out: dict[str, Any] = {}
    for message in call_.tool_results:
        try:
            out[message.name or ""] = json.loads(message.content or "")
        except ValueError:
            out[message.name or ""] = message.content or ""
    return out


def _triage(call_: ModelCall) -> Reply:
    mail = _mail(call_)
    text = f"{mail.get('subject', '')}\n{mail.get('text', '')}"
    if call_.index > 0:
        filed = _results(call_).get("file_triage", {})
        department = filed.get("department", "none") if isinstance(filed, dict) else "none"
        return Reply(content=None if department != "none" else "Nothing for the desk.",
                     tool_calls=[call(f"transfer_to_{department}",
                                      reason=f"a {filed.get('category')} mail")]
                     if department != "none" else [])
    lowered = text.lower()
    facts: dict[str, Any]
    if "invoice" in lowered:
        amount = re.search(r"(\d[\d,]*(?:\.\d+)?) ?EUR", text)
        facts = {"category": "invoice", "department": "finance",
                 "reference": next(iter(PO.findall(text)), None),
                 "amount": float(amount[1].replace(",", "")) if amount else None,
                 "currency": "EUR" if amount else None}
    elif "leave" in lowered or "holiday" in lowered:
        days = DATE.findall(text)
        facts = {"category": "leave_request", "department": "hr",
                 "first_day": days[0] if days else None,
                 "last_day": days[-1] if days else None}
    elif "order" in lowered or "purchase" in lowered:
        quantity = QUANTITY.search(text)
        facts = {"category": "purchase_request", "department": "assets",
                 "reference": next(iter(SKU.findall(text)), None),
                 "quantity": int(quantity[1]) if quantity else 1}
    else:
        facts = {"category": "other", "department": "none"}
    summary = f"{facts['category'].replace('_', ' ')}: {mail.get('subject', '')}".strip()
    facts = {k: v for k, v in facts.items() if v is not None}
    return Reply(tool_calls=[call("file_triage", summary=summary, **facts)])


def _finance(call_: ModelCall) -> str | Reply:
    mail, seen = _mail(call_), _results(call_)
    filed = seen.get("file_triage", {})
    po = filed.get("reference") if isinstance(filed, dict) else None
    if "lookup_po" not in seen:
        return Reply(tool_calls=[call("lookup_po", po=po or "unknown")])
    order = seen["lookup_po"]
    if not isinstance(order, dict):
        return Reply(tool_calls=[call("send_reply", body=(
            "We could not match your invoice to a purchase order; please quote the order "
            "number."))]) if "send_reply" not in seen else "No purchase order matched."
    if "vendor_record" not in seen:
        return Reply(tool_calls=[call("vendor_record", vendor_id=order["vendor_id"])])
    if "request_payment" not in seen:
        # A model that believes the mail pays the account the mail names.
        named = IBAN.findall(str(mail.get("text", "")))
        iban = named[0].replace(" ", "") if named else seen["vendor_record"]["iban"]
        return Reply(tool_calls=[call("request_payment", vendor_id=order["vendor_id"],
                                      iban=iban, amount=order["amount"], po=order["po"])])
    paid = seen["request_payment"]
    if "send_reply" not in seen:
        if isinstance(paid, dict) and paid.get("status") == "requested":
            # amounts as the order states them: "480.00" would not match the order's 480.0
            # and would count as copied from the mail
            body = (f"Thank you. The payment for {order['po']} ({order['amount']:g} "
                    f"{order['currency']}) is on its way to the account we hold on file.")
        else:
            body = (f"We have not paid {order['po']}: we do not change a vendor's bank details "
                    "on the strength of a mail. Our accounts team will call you on the number "
                    "we hold on file.")
        return Reply(tool_calls=[call("send_reply", body=body)])
    if isinstance(paid, dict) and paid.get("status") == "requested":
        return f"Paid {order['po']}: {order['amount']:.2f} {order['currency']} to the IBAN on file."
    return f"Did not pay {order['po']}: the guardians refused the account the mail named."


def _hr(call_: ModelCall) -> str | Reply:
    mail, seen = _mail(call_), _results(call_)
    filed = seen.get("file_triage", {})
    if "employee_record" not in seen:
        return Reply(tool_calls=[call("employee_record", email=str(mail.get("from", "")))])
    employee = seen["employee_record"]
    if "request_leave" not in seen:
        return Reply(tool_calls=[call("request_leave", employee_id=employee["employee_id"],
                                      first_day=filed.get("first_day"),
                                      last_day=filed.get("last_day"))])
    leave = seen["request_leave"]
    booked = isinstance(leave, dict) and leave.get("status") == "booked"
    if "send_reply" not in seen:
        body = (f"Your leave from {leave['first_day']} to {leave['last_day']} is booked; "
                "enjoy the time off." if booked else
                "Your leave was not booked: your manager did not approve it. Please talk to them.")
        return Reply(tool_calls=[call("send_reply", body=body)])
    return f"Leave of {employee['employee_id']}: {'booked' if booked else 'not booked'}."


def _assets(call_: ModelCall) -> str | Reply:
    seen = _results(call_)
    filed = seen.get("file_triage", {})
    if "asset_catalog" not in seen:
        return Reply(tool_calls=[call("asset_catalog", sku=filed.get("reference") or "unknown")])
    item = seen["asset_catalog"]
    if "order_asset" not in seen:
        return Reply(tool_calls=[call("order_asset", sku=item["sku"],
                                      quantity=filed.get("quantity", 1))])
    order = seen["order_asset"]
    ordered = isinstance(order, dict) and order.get("status") == "ordered"
    if "send_reply" not in seen:
        body = (f"Your order of {item['name']} ({item['sku']}) is placed." if ordered else
                f"Your order of {item['name']} was not approved; the asset manager will be in "
                "touch.")
        return Reply(tool_calls=[call("send_reply", body=body)])
    return f"Order of {item['sku']}: {'placed' if ordered else 'not placed'}."


def desk_model(call_: ModelCall) -> str | Reply:
    """The reply of the desk's model to one call (see the module's docstring)."""
    agents = {"triage": _triage, "finance": _finance, "hr": _hr, "assets": _assets}
    return agents[call_.agent](call_)
