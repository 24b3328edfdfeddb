"""Support hand-off: an agent helps a customer set up a new speaker, step by step; when the
remote steps cannot fix it, it hands the case to a human agent with a summary of everything it
found and tried, so the customer never repeats themselves (the audio company of 001,
l.1514–1520).

- ``lookup_customer``, ``device_status`` are ``read`` tools; ``run_setup_step`` changes the
  device (``write``, idempotent);
- ``hand_off`` files a ticket in the human team's queue. It is ``in_the_loop``: the summary
  reaches a human agent in the inbox (``agentplane approvals list``, the console) *before* the
  ticket exists, and the person takes the case (approve) or sends it back (deny, with what to
  try).

``desk_model`` stands in for a language model so the example runs offline: a deterministic
reply function that tries the setup steps the telemetry calls for and, when they fail, compiles
the hand-off summary from the tool results it has seen — as a model told "hand off with a
complete summary when you cannot fix it" would.
"""

from __future__ import annotations

import json
from typing import Any

import tools  # this folder's tools.py

from agentplane import Agent, Workflow, tool
from agentplane.testing import ModelCall, Reply, call

lookup_customer = tool(tools.lookup_customer, effect="read")
device_status = tool(tools.device_status, effect="read")
run_setup_step = tool(tools.run_setup_step, effect="write", idempotent=True)
hand_off = tool(tools.hand_off, effect="write", idempotent=True, autonomy="in_the_loop")

assistant = Agent(
    "assistant",
    model="openai:gpt-4o-mini",
    instructions="You help customers set up their devices. Look the customer and the device "
                 "up, try the setup steps the device's state calls for, and when they do not "
                 "fix it, hand the case to a human agent with a complete summary: the issue, "
                 "each step tried and its result, the error codes, the customer's mood and what "
                 "to try next. Then tell the customer who takes over.",
    tools=[lookup_customer, device_status, run_setup_step, hand_off],
)

flow = Workflow("support-handoff-app", steps=[assistant], autonomy="on_the_loop",
                description="Device setup help that hands over to a person with a summary.")

PLAN = ("update_firmware", "factory_reset", "update_firmware")
"""The remote steps an outdated firmware with a pairing error calls for, in order."""


def _results(call_: ModelCall) -> list[Any]:
    out = []
    for message in call_.tool_results:
        try:
            out.append(json.loads(message.content or ""))
        except ValueError:
            out.append(message.content or "")
    return out


def desk_model(call_: ModelCall) -> str | Reply:
    """The offline stand-in: look up, try the plan, hand off with what it saw, tell the
    customer."""
    task = json.loads(call_.input)
    results = _results(call_)
    if not results:
        return Reply(tool_calls=[call("lookup_customer", customer_id=task["customer_id"]),
                                 call("device_status", serial=task["serial"])])
    customer, device = results[0], results[1]
    steps = [r for r in results[2:] if isinstance(r, dict) and "step" in r]
    tried = len(steps)
    if tried < len(PLAN) and not any(r.get("ok") and r["step"] == "update_firmware"
                                     for r in steps):
        return Reply(content=f"Firmware {device['firmware']} is behind {device['latest_firmware']};"
                             f" trying {PLAN[tried]}.",
                     tool_calls=[call("run_setup_step", serial=device["serial"],
                                      step=PLAN[tried])])
    ticket = next((r for r in results if isinstance(r, dict) and "ticket" in r), None)
    if ticket is None:
        return Reply(content="The remote steps did not fix it; handing over to a person.",
                     tool_calls=[call(
                         "hand_off", customer_id=customer["customer_id"],
                         issue=f"New {device['model']} will not pair ({device['last_error']}); "
                               f"firmware {device['firmware']} cannot be updated to "
                               f"{device['latest_firmware']}.",
                         steps_tried=[f"{r['step']}: " + ("ok" if r["ok"] else
                                                          f"{r['error_code']} {r['detail']}")
                                      for r in steps],
                         error_codes=sorted({r["error_code"] for r in steps if not r["ok"]}
                                            | {device["last_error"].split()[0]}),
                         device=f"{device['model']} {device['serial']}",
                         customer_mood=task.get("mood", "unknown"),
                         suggested_next_step="replace the unit or flash the firmware by USB "
                                             "(remote update fails its checksum twice)")])
    return (f"Thanks for your patience, {customer['name']}. I couldn't finish the setup "
            f"remotely, so a colleague from our {ticket['queue']} team has your case "
            f"({ticket['ticket']}) with everything we tried — you won't need to repeat anything.")
