"""How runs, events and approvals look in a terminal and as JSON.

rich is imported where a table or a console is made, not here: this module is loaded by every
command, and ``--help`` prints nothing rich makes.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.text import Text

    from agentplane.governance.keys import ApiKey
    from agentplane.journal import Event, RunRecord, WaitRecord

STATUS_STYLE = {
    "completed": "green", "failed": "red", "cancelled": "dim", "waiting": "yellow",
    "needs_reconciliation": "magenta", "running": "cyan", "pending": "cyan",
}


def dump_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


def run_json(run: RunRecord, events: list[Event] | None = None) -> dict[str, Any]:
    from agentplane.journal import EventType  # loaded already: the events came from it

    out = run.summary()
    if events is not None:
        out["events"] = [e.to_dict() for e in events]
        out["output"] = next((e.data.get("output") for e in reversed(events)
                              if e.type == EventType.RUN_COMPLETED), None)
        label = next((e.data for e in reversed(events)
                      if e.type == EventType.CONTENT_LABELLED), None)
        if label is not None:
            out["label"] = label
    return out


def wait_json(wait: WaitRecord) -> dict[str, Any]:
    return {"id": wait.id, "run_id": wait.run_id, "step_key": wait.step_key, "kind": wait.kind,
            "status": wait.status, "created_at": wait.created_at, "deadline": wait.deadline,
            "details": {k: v for k, v in wait.data.items()
                        if k not in ("wait_id", "kind", "deadline")},
            "resolution": wait.resolution}


def escape(text: str) -> str:
    """``text`` with rich markup escaped, to print as itself."""
    from rich.markup import escape as rich_escape

    return rich_escape(text)


def status_text(status: str) -> str:
    """A status in its colour, as rich markup."""
    return f"[{STATUS_STYLE.get(status, 'white')}]{escape(status)}[/]"


def status_cell(status: str) -> Text:
    """A status in its colour, as a table cell."""
    from rich.text import Text

    return Text(status, style=STATUS_STYLE.get(status, "white"))


def runs_table(runs: list[RunRecord], width: int) -> RenderableType:
    """Runs at ``width`` cells: ids and statuses whole; the times go first when it is narrow."""
    from ._tables import Column, fitted

    columns = [Column("RUN"), Column("WORKFLOW"), Column("STATUS"),
               Column("CREATED", drop=1), Column("UPDATED", drop=2)]
    return fitted(columns, [[r.id, r.workflow, status_cell(r.status), r.created_at[:19],
                             r.updated_at[:19]] for r in runs], width)


def money(value: float) -> str:
    """An amount with the precision it needs: cents from a dollar up, two significant digits
    below, and ``<0.0001`` rather than a row of zeros for what rounds to nothing."""
    if value == 0:
        return "0"
    size = abs(value)
    if size >= 1:
        return f"{value:,.2f}"
    if size < 0.0001:
        return "<0.0001" if value > 0 else ">-0.0001"
    decimals = max(2, 1 - math.floor(math.log10(size)))
    return f"{value:.{decimals}f}"


def _brief(event: Event) -> str:
    from agentplane.journal import EventType

    d = event.data
    if event.type == EventType.TOOL_STARTED:
        return f"{d.get('tool')}({json.dumps(d.get('arguments'), ensure_ascii=False)})"
    if event.type == EventType.TOOL_COMPLETED:
        return json.dumps(d.get("result"), ensure_ascii=False)
    if event.type == EventType.MODEL_COMPLETED:
        r = d.get("response") or {}
        calls = ", ".join(c["name"] for c in r.get("tool_calls") or [])
        return (r.get("content") or "") + (f" → {calls}" if calls else "")
    for key in ("error", "output", "reason", "task"):
        if d.get(key):
            return f"{key}: {d[key] if isinstance(d[key], str) else json.dumps(d[key])}"
    return ""


def events_table(events: list[Event], width: int) -> RenderableType:
    """A run's journal at ``width`` cells: sequence, type and step whole, the detail wrapped."""
    from ._tables import Column, fitted

    columns = [Column("SEQ", justify="right"), Column("TIME", drop=2), Column("TYPE"),
               Column("ACTOR", drop=1), Column("STEP"),
               Column("DETAIL", wrap=True, whole_words=False)]
    rows: list[list[Text | str]] = []
    for e in events:
        detail = _brief(e)
        rows.append([str(e.seq), e.time[11:23], e.type, e.actor, e.step_key or "",
                     detail[:160] + ("…" if len(detail) > 160 else "")])
    return fitted(columns, rows, width)


def waits_table(waits: list[WaitRecord], width: int) -> RenderableType:
    """Open approvals at ``width`` cells: approval and run ids whole, what is asked wrapped."""
    from ._tables import Column, fitted

    columns = [Column("APPROVAL"), Column("RUN"), Column("KIND"), Column("SINCE", drop=1),
               Column("WHAT", wrap=True, whole_words=False)]
    rows: list[list[Text | str]] = []
    for w in waits:
        what = str(w.data.get("reason") or "")
        if w.kind == "tool_call":
            args = json.dumps(w.data.get("arguments"), ensure_ascii=False)
            what = f"{w.data.get('agent')} → {w.data.get('tool')}({args}): {what}"
        rows.append([w.id, w.run_id, w.kind, w.created_at[:19], what])
    return fitted(columns, rows, width)


def keys_table(keys: list[ApiKey], width: int) -> RenderableType:
    """API keys at ``width`` cells (never their secrets): id, role and tenant whole."""
    from ._tables import Column, fitted

    columns = [Column("ID"), Column("NAME", wrap=True), Column("ROLE"), Column("TENANT"),
               Column("CREATED", drop=2), Column("REVOKED", drop=1)]
    return fitted(columns, [[k.id, k.name, k.role, k.tenant, k.created_at[:19],
                             (k.revoked_at or "")[:19]] for k in keys], width)


def console(stderr: bool = False) -> Console:
    """The terminal as the CLI prints to it."""
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=False)


class _LazyConsole:
    """A :func:`console` made on first use, so a module can hold one at import for free."""

    def __init__(self, stderr: bool) -> None:
        self._stderr = stderr
        self._console: Console | None = None

    def __getattr__(self, name: str) -> Any:
        if self._console is None:
            self._console = console(self._stderr)
        return getattr(self._console, name)


def lazy_console(stderr: bool = False) -> Console:
    """A :func:`console` that loads rich only when something is printed (``--help`` and a
    command that fails before printing never pay for it)."""
    return cast("Console", _LazyConsole(stderr))
