"""The refund desk in Python: the twin of workflow.yaml (the same spec, so runs of either are
pinned to the same hash).

Run it:  python examples/refund-desk/refund_desk.py
(the journal is the CLI's, so `agentplane runs list` shows the run afterwards)
"""

from __future__ import annotations

import tools  # this folder's tools.py, as workflow.yaml's `python: tools:...` imports it

from agentplane import Agent, Workflow, tool
from agentplane.testing import Reply, call

lookup_order = tool(tools.lookup_order, effect="read")
issue_refund = tool(tools.issue_refund, effect="write", idempotent=True,
                    compensate="cancel_refund")
cancel_refund = tool(tools.cancel_refund, effect="write", idempotent=True)

clerk = Agent(
    "clerk",
    model="scripted",  # or e.g. openai:gpt-4o-mini
    instructions="You handle refunds.",
    tools=[lookup_order, issue_refund],
    script=[  # the scripted model replies with these, in order
        Reply(tool_calls=[call("lookup_order", order_id="A1")]),
        Reply(tool_calls=[call("issue_refund", order_id="A1", amount=20)]),
        "Refunded 20 on order A1.",
    ],
)

flow = Workflow("refund-desk", steps=[clerk])

if __name__ == "__main__":
    result = flow.run_sync("Refund order A1")
    print(f"{result.status}: {result.output}")
    print(f"run {result.run_id} of workflow {flow.hash[:12]}: {result.usage.model_calls} model "
          f"calls, {result.usage.tool_calls} tool calls, {result.usage.total_tokens} tokens, "
          f"{result.cost:.4f} USD")
