"""A verification escalation through the REST API: an answer that fails its checks waits in
the approvals inbox with its findings, and an approver's decision lets it go on."""

from __future__ import annotations

from pathlib import Path

from .live import as_, finished, live_server, waiting

FLOW = """\
name: checked-figures
agents:
  - name: analyst
    instructions: You report figures.
    script:
      - content: Sales grew 12% this quarter.
steps:
  - agent: analyst
    verify: {grounding: true, on_failure: escalate}
"""


def test_an_escalated_answer_waits_for_an_approver(tmp_path: Path, db: Path,
                                                   keys: dict[str, str]) -> None:
    flow = tmp_path / "checked-figures.yaml"
    flow.write_text(FLOW)
    with live_server(db, [flow]) as base:
        operator = as_(base, keys, "operator")
        run = operator.ok("POST", "/runs", {"workflow": "checked-figures", "input": "Sales?"})
        run = operator.wait_for(run["id"], waiting)
        [wait] = run["waits"]
        approver = as_(base, keys, "approver")
        [listed] = [a for a in approver.ok("GET", "/approvals") if a["id"] == wait["id"]]
        assert listed["kind"] == "escalation"
        assert listed["request"]["findings"][0]["kind"] == "uncited"
        assert listed["request"]["answer"] == "Sales grew 12% this quarter."
        approver.ok("POST", f"/approvals/{wait['id']}/approve", {"reason": "figure checked"})
        done = operator.wait_for(run["id"], finished)
        assert done["status"] == "completed"
        events = operator.ok("GET", f"/runs/{run['id']}/events")
        assert events[-1]["data"]["output"] == "Sales grew 12% this quarter."
        [check] = [e for e in events if e["type"] == "verify.checked"]
        assert check["data"]["action"] == "escalate"
