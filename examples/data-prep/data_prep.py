"""The data-preparation agent: it profiles a CSV file, proposes cleaning steps, applies the ones
a person approves (each a reversible new version of the file), and reports what changed.

- ``profile_csv`` and ``compare_versions`` are ``read`` tools: the agent calls them freely.
- ``apply_step`` is a ``write`` tool at autonomy ``in_the_loop``: every step waits for a person,
  who sees the step, the column and the agent's reason in the inbox (``agentplane approvals
  list``, the console) and approves or denies it. Its compensation is ``revert_step``, so
  ``agentplane runs rollback RUN`` undoes the applied steps, newest first.

``prep_model`` stands in for a language model so the example runs offline: a deterministic
reply function that reads the profile the tool returned and proposes one step per issue, as a
model asked to "fix the issues the profile shows, one step at a time" would. Point the agent at
a real model by running without it (see docs/tutorials/data-prep.md).
"""

from __future__ import annotations

import json
from typing import Any

import tools  # this folder's tools.py

from agentplane import Agent, Workflow, tool
from agentplane.testing import ModelCall, Reply, call

profile_csv = tool(tools.profile_csv, effect="read")
compare_versions = tool(tools.compare_versions, effect="read")
apply_step = tool(tools.apply_step, effect="write", idempotent=True, compensate="revert_step",
                  autonomy="in_the_loop")
revert_step = tool(tools.revert_step, effect="write", idempotent=True)

prep = Agent(
    "prep",
    model="openai:gpt-4o-mini",
    instructions="You prepare data files for analysis. Profile the file, then fix the issues "
                 "the profile shows with apply_step, one step per call, saying why. A person "
                 "approves each step; respect a refusal. End with compare_versions and a "
                 "report of what changed and what was left as it was.",
    tools=[profile_csv, apply_step, compare_versions],
)

flow = Workflow("data-prep", steps=[prep], description="Profile a CSV file, clean it with "
                "approved reversible steps, report what changed.", autonomy="on_the_loop")


def _result(message: Any) -> Any:
    try:
        return json.loads(message.content or "")
    except ValueError:
        return message.content or ""


def prep_model(call_: ModelCall) -> str | Reply:
    """The offline stand-in: profile, one step per issue, compare, report."""
    name = "customers.csv"
    results = [_result(m) for m in call_.tool_results]
    if not results:
        return Reply(tool_calls=[call("profile_csv", name=name)])
    profile = results[0]
    issues = profile["issues"]
    proposed = len(results) - 1
    if proposed < len(issues):
        issue = issues[proposed]
        arguments = {"name": name, "step": issue["step"]}
        if issue["column"]:
            arguments["column"] = issue["column"]
        return Reply(content=f"Fixing: {issue['problem']}"
                     + (f" in {issue['column']}" if issue["column"] else "") + ".",
                     tool_calls=[call("apply_step", **arguments)])
    if proposed == len(issues):
        return Reply(tool_calls=[call("compare_versions", name=name)])
    diff = results[-1]
    refused = [issue for issue, r in zip(issues, results[1:-1], strict=False)
               if not isinstance(r, dict)]
    lines = [f"Cleaned {name}: {diff['rows_before']} rows → {diff['rows_after']} "
             f"({diff['rows_removed']} removed).",
             "Steps applied: " + (", ".join(diff["steps"]) or "none") + ".",
             "Cells changed: " + (", ".join(f"{c} {n}" for c, n in diff["cells_changed"].items())
                                  or "none") + "."]
    lines += [f"Left as it was (the reviewer refused): {i['problem']} ({i['step']})."
              for i in refused]
    return "\n".join(lines)
