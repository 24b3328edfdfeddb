"""Tools of the support hand-off example: an audio company's customer records, its devices'
telemetry, remote setup steps, and the queue of the human support team.

The systems are in-file stand-ins; the hand-off queue is a JSON-lines file in
``$HANDOFF_QUEUE`` (default ``handoff-queue.jsonl`` in the current folder), keyed by the
idempotency key Agentplane passes, so a hand-off repeated after a crash files one ticket.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from agentplane.tools import ToolContext, ToolError

CUSTOMERS = {"K-2207": {"customer_id": "K-2207", "name": "Lena Ortiz", "plan": "premium",
                        "language": "en", "devices": ["SP-88-0412"]}}
DEVICES = {"SP-88-0412": {"serial": "SP-88-0412", "model": "Aria Studio speaker",
                          "firmware": "1.2.0", "latest_firmware": "2.0.3",
                          "pairing": "failed", "last_error": "E17 (pairing timeout)"}}
STEP_RESULTS = {
    "update_firmware": {"ok": False, "error_code": "E42",
                        "detail": "update aborted: image checksum mismatch at 61 %"},
    "factory_reset": {"ok": True, "detail": "settings restored to factory defaults"},
    "pair": {"ok": False, "error_code": "E17", "detail": "pairing timeout"},
}


def lookup_customer(customer_id: str) -> dict[str, Any]:
    """Look a customer up: name, plan, language and registered devices.

    Args:
        customer_id: The customer's id, e.g. K-2207.
    """
    if customer_id not in CUSTOMERS:
        raise ToolError(f"no customer {customer_id!r}")
    return CUSTOMERS[customer_id]


def device_status(serial: str) -> dict[str, Any]:
    """A device's telemetry: model, firmware (installed and latest), pairing state, last error.

    Args:
        serial: The device's serial number.
    """
    if serial not in DEVICES:
        raise ToolError(f"no device {serial!r}")
    return DEVICES[serial]


def run_setup_step(serial: str, step: str) -> dict[str, Any]:
    """Run one remote setup step on a device: update_firmware, factory_reset or pair.

    Args:
        serial: The device's serial number.
        step: The step to run.
    """
    if serial not in DEVICES:
        raise ToolError(f"no device {serial!r}")
    if step not in STEP_RESULTS:
        raise ToolError(f"unknown step {step!r}; steps: {', '.join(STEP_RESULTS)}")
    return {"serial": serial, "step": step, **STEP_RESULTS[step]}


def hand_off(customer_id: str, issue: str, steps_tried: list[str], error_codes: list[str],
             device: str, customer_mood: str, suggested_next_step: str, *,
             context: ToolContext) -> dict[str, Any]:
    """Hand the case to a human support agent with a summary, so the customer never has to
    repeat anything.

    Args:
        customer_id: The customer's id.
        issue: The problem in one or two sentences.
        steps_tried: Each step tried and its result.
        error_codes: Error codes the device reported.
        device: The device (model and serial).
        customer_mood: How the customer feels, in a few words.
        suggested_next_step: What the human agent should try first.
    """
    queue = Path(os.environ.get("HANDOFF_QUEUE", "handoff-queue.jsonl"))
    tickets = [json.loads(line) for line in queue.read_text().splitlines()] \
        if queue.exists() else []
    for ticket in tickets:
        if ticket["key"] == context.idempotency_key:
            return {"ticket": ticket["ticket"], "queue": ticket["queue"]}
    ticket = "HT-" + hashlib.sha256(context.idempotency_key.encode()).hexdigest()[:6].upper()
    record = {"key": context.idempotency_key, "ticket": ticket, "queue": "tier-2",
              "customer_id": customer_id, "issue": issue, "steps_tried": steps_tried,
              "error_codes": error_codes, "device": device, "customer_mood": customer_mood,
              "suggested_next_step": suggested_next_step}
    with queue.open("a") as f:
        f.write(json.dumps(record, ensure_ascii=False) + "\n")
    return {"ticket": ticket, "queue": "tier-2"}
