"""How runs, events and approvals look in a terminal and as JSON."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from agentplane.journal import Event, RunRecord, WaitRecord

STATUS_STYLE = {
    "completed": "green", "failed": "red", "cancelled": "dim", "waiting": "yellow",
    "needs_reconciliation": "magenta", "running": "cyan", "pending": "cyan",
}


def dump_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


def run_json(run: RunRecord, events: list[Event] | None = None) -> dict[str, Any]:
    out = run.summary()
    if events is not None:
        out["events"] = [e.to_dict() for e in events]
        out["output"] = next((e.data.get("output") for e in reversed(events)
                              if e.type == "run.completed"), None)
    return out


def wait_json(wait: WaitRecord) -> dict[str, Any]:
    return {"id": wait.id, "run_id": wait.run_id, "step_key": wait.step_key, "kind": wait.kind,
            "status": wait.status, "created_at": wait.created_at, "deadline": wait.deadline,
            "details": {k: v for k, v in wait.data.items()
                        if k not in ("wait_id", "kind", "deadline")},
            "resolution": wait.resolution}


def status_text(status: str) -> str:
    return f"[{STATUS_STYLE.get(status, 'white')}]{status}[/]"


def runs_table(runs: list[RunRecord]) -> Table:
    table = Table(box=None, header_style="bold")
    for column in ("RUN", "WORKFLOW", "STATUS", "CREATED", "UPDATED"):
        table.add_column(column, no_wrap=True)
    for run in runs:
        table.add_row(run.id, run.workflow, status_text(run.status), run.created_at[:19],
                      run.updated_at[:19])
    return table


def _brief(event: Event) -> str:
    d = event.data
    if event.type in ("tool.started",):
        return f"{d.get('tool')}({json.dumps(d.get('arguments'), ensure_ascii=False)})"
    if event.type == "tool.completed":
        return json.dumps(d.get("result"), ensure_ascii=False)
    if event.type == "model.completed":
        r = d.get("response") or {}
        calls = ", ".join(c["name"] for c in r.get("tool_calls") or [])
        return (r.get("content") or "") + (f" → {calls}" if calls else "")
    for key in ("error", "output", "reason", "task"):
        if d.get(key):
            return f"{key}: {d[key] if isinstance(d[key], str) else json.dumps(d[key])}"
    return ""


def events_table(events: list[Event]) -> Table:
    table = Table(box=None, header_style="bold")
    for column in ("SEQ", "TIME", "TYPE", "ACTOR", "STEP", "DETAIL"):
        table.add_column(column, overflow="fold")
    for e in events:
        detail = _brief(e)
        table.add_row(str(e.seq), e.time[11:23], e.type, e.actor, e.step_key or "",
                      detail[:160] + ("…" if len(detail) > 160 else ""))
    return table


def waits_table(waits: list[WaitRecord]) -> Table:
    table = Table(box=None, header_style="bold")
    for column in ("APPROVAL", "RUN", "KIND", "SINCE"):
        table.add_column(column, no_wrap=True)
    table.add_column("WHAT", overflow="fold")
    for w in waits:
        what = str(w.data.get("reason") or "")
        if w.kind == "tool_call":
            args = json.dumps(w.data.get("arguments"), ensure_ascii=False)
            what = f"{w.data.get('agent')} → {w.data.get('tool')}({args}): {what}"
        table.add_row(w.id, w.run_id, w.kind, w.created_at[:19], escape(what))
    return table


def console(stderr: bool = False) -> Console:
    return Console(stderr=stderr, highlight=False, soft_wrap=False)
