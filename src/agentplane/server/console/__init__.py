"""The console: the control centre in a browser, served by the same process as the API.

Pages are rendered on the server (Jinja2), charts are inline SVG (pygal), and a little
JavaScript keeps a run's timeline live over the API's Server-Sent Events. Everything is served
from this package — no CDN, no build step. A person signs in by pasting an API key; the console
then acts with that key's role and sees only its tenant, exactly as the REST API would.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from . import context, evals, forms, pages, triggers
from .render import STATIC, page
from .session import Refused, SignInRequired, login_redirect


def install_console(app: FastAPI) -> None:
    """Add the console's pages, forms and static files to ``app``."""

    @app.exception_handler(SignInRequired)
    async def sign_in(_: Request, exc: SignInRequired) -> RedirectResponse:
        return login_redirect(exc.next_url)

    @app.exception_handler(Refused)
    async def refused(request: Request, exc: Refused) -> Response:
        html: HTMLResponse = await page(request, None, "error.html", title="Refused",
                                        status_code=exc.status, heading="Not allowed",
                                        message=exc.message)
        return html

    app.include_router(pages.router)
    app.include_router(forms.router)
    app.include_router(context.router)
    app.include_router(triggers.router)
    app.include_router(evals.router)
    app.mount("/console/static", StaticFiles(directory=STATIC), name="console-static")


__all__ = ["install_console"]
