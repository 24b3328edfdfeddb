"""Turning a page's data into HTML: the Jinja environment, its filters, and the headers every
console page carries."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from agentplane.journal.events import TERMINAL_STATUSES
from agentplane.server import actions
from agentplane.server.auth import plane_of

from .session import FLASH_COOKIE, Viewer, take_flash
from .timeline import energy, money, pretty

HERE = Path(__file__).parent
STATIC = HERE / "static"

# Scripts and styles come only from this server (the charts' inline SVG carries a <style>).
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; "
                               "style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
                               "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; "
                               "base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}

NAV = (("overview", "/", "Overview"), ("runs", "/runs", "Runs"),
       ("approvals", "/approvals", "Approvals"), ("agents", "/agents", "Agents"),
       ("knowledge", "/knowledge", "Knowledge"), ("memory", "/memory", "Memory"),
       ("triggers", "/triggers", "Triggers"), ("evals", "/evals", "Evaluations"),
       ("usage", "/usage", "Usage & spend"), ("guardians", "/guardians", "Guardians"),
       ("audit", "/audit", "Audit"))

STATUS_TONES = {"completed": "ok", "running": "info", "pending": "info", "waiting": "warn",
                "failed": "bad", "cancelled": "muted", "needs_reconciliation": "bad"}


def when(value: str | float | None) -> str:
    """An ISO time or Unix seconds as ``YYYY-MM-DD HH:MM:SS`` (UTC)."""
    if value is None or value == "":
        return "—"
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%M:%S")
    return value.replace("T", " ")[:19]


def number(value: float | int | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.2f}"
    return f"{int(value):,}"


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f} %"


def millis(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:,.1f} ms" if value < 10_000 else f"{value / 1000:,.1f} s"


def _environment() -> Environment:
    env = Environment(loader=FileSystemLoader(HERE / "templates"),
                      autoescape=select_autoescape(["html"]),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters.update(money=money, energy=energy, when=when, number=number, percent=percent,
                       millis=millis, pretty=pretty,
                       tone=lambda status: STATUS_TONES.get(status, "muted"))
    env.globals.update(NAV=NAV, TERMINAL=TERMINAL_STATUSES)
    return env


ENV = _environment()


async def page(request: Request, viewer: Viewer | None, template: str, *, active: str = "",
               title: str = "", status_code: int = 200, **context: Any) -> HTMLResponse:
    """A full console page (or a fragment, for templates starting with ``_``)."""
    fragment = template.startswith("_")
    flash = None if fragment else take_flash(request)
    open_approvals = 0
    if viewer is not None and not fragment:
        open_approvals = len(await actions.approvals(plane_of(request), viewer.key))
    html = ENV.get_template(template).render(
        request=request, viewer=viewer, active=active, title=title, flash=flash,
        open_approvals=open_approvals, clip_at=plane_of(request).limits.block_chars, **context)
    response = HTMLResponse(html, status_code=status_code, headers=SECURITY_HEADERS)
    if flash is not None:
        response.delete_cookie(FLASH_COOKIE, path="/")
    return response
