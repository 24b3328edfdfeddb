"""Regenerate the console screenshots in docs/screenshots/ (1366×800 PNG).

    .venv/bin/python docs/screenshots.py

Runs the support-desk example (examples/support-desk/run.py) and the demo workflows into a fresh
SQLite file, serves the console on a loopback port, signs in with a new admin key in headless
Chromium (Debian's /usr/bin/chromium, or $CHROMIUM) and saves one picture per page. Nothing is
fetched from the network.
"""

from __future__ import annotations

import asyncio
import io
import os
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import uvicorn
from playwright.sync_api import Page, ViewportSize, sync_playwright
from rich.console import Console

from agentplane.cli.demo import run_demo
from agentplane.demo import workflow_files
from agentplane.governance.keys import keyring_for
from agentplane.journal import open_store
from agentplane.runtime import Runtime
from agentplane.server import Plane, create_app

OUT = Path(__file__).with_name("screenshots")
SUPPORT_DESK = Path(__file__).resolve().parents[1] / "examples" / "support-desk" / "run.py"
VIEWPORT: ViewportSize = {"width": 1366, "height": 800}
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def seed(db: Path) -> str:
    """Run the support desk and the demo workflows into ``db``; return an admin key's secret."""
    subprocess.run([sys.executable, str(SUPPORT_DESK), "--db", str(db)], check=True,
                   stdout=subprocess.DEVNULL)
    store = open_store(f"sqlite:///{db}")
    runtime = Runtime(store)
    try:
        await run_demo(store, runtime, Console(file=io.StringIO()))
        ring = keyring_for(store)
        _, secret = ring.create("docs screenshots", role="admin", tenant="*")
        ring.close()
    finally:
        await runtime.aclose()
        await store.close()
    return secret


def serve(db: Path, port: int) -> uvicorn.Server:
    ready = threading.Event()
    holder: dict[str, uvicorn.Server] = {}

    async def main() -> None:
        store = open_store(f"sqlite:///{db}")
        plane = Plane.open(store, workflow_files())
        server = uvicorn.Server(uvicorn.Config(create_app(plane), host="127.0.0.1", port=port,
                                               log_level="warning"))
        holder["server"] = server

        async def started() -> None:
            while not server.started:
                await asyncio.sleep(0.02)
            ready.set()

        waiter = asyncio.create_task(started())
        try:
            await server.serve()
        finally:
            waiter.cancel()
            await store.close()

    threading.Thread(target=lambda: asyncio.run(main()), daemon=True).start()
    if not ready.wait(30):
        sys.exit("the server did not start")
    return holder["server"]


def shoot(page: Page, name: str) -> None:
    path = OUT / f"{name}.png"
    page.screenshot(path=str(path))
    print(f"wrote {path}")


def run_of(page: Page, workflow: str) -> str:
    page.goto(f"/runs?workflow={workflow}")
    return str(page.locator("table.runs tbody tr").first.get_attribute("data-run"))


def context_pages(page: Page) -> None:
    """The Knowledge and Memory pages, and the context an agent of the support desk got (its
    first run: Chinese text needs CJK fonts, which a plain Chromium may lack)."""
    page.goto("/knowledge?q=who+approves+a+refund+above+500+CNY&k=2")
    shoot(page, "knowledge")
    page.goto("/memory?kind=procedural")
    shoot(page, "memory")
    page.goto("/runs?workflow=support-desk")
    first = page.locator("table.runs tbody tr").last.get_attribute("data-run")
    page.goto(f"/runs/{first}")
    page.wait_for_selector("#live[data-state=open]")
    page.locator("[data-type='context.packet']").last.scroll_into_view_if_needed()
    page.evaluate("window.scrollBy(0, -60)")
    shoot(page, "run-context")


def main() -> None:
    OUT.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "agentplane.db"
        secret = asyncio.run(seed(db))
        port = free_port()
        server = serve(db, port)
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(
                    executable_path=os.environ.get("CHROMIUM", "/usr/bin/chromium"),
                    args=CHROMIUM_ARGS)
                page = browser.new_page(viewport=VIEWPORT,
                                        base_url=f"http://127.0.0.1:{port}")
                page.goto("/login")
                shoot(page, "login")
                page.fill("#key", secret)
                page.click("button[type=submit]")
                page.wait_for_url("**/")
                shoot(page, "overview")
                page.goto("/runs")
                shoot(page, "runs")
                page.goto(f"/runs/{run_of(page, 'injected-mail')}")
                page.wait_for_selector("#live[data-state=open]")
                page.locator(".kind-guard.tone-bad").first.scroll_into_view_if_needed()
                page.evaluate("window.scrollBy(0, -120)")
                shoot(page, "run-guardian-block")
                page.goto(f"/runs/{run_of(page, 'payment-approval')}")
                page.wait_for_selector("#live[data-state=open]")
                page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
                shoot(page, "run-waiting-approval")
                for name in ("approvals", "agents", "usage", "guardians"):
                    page.goto(f"/{name}")
                    shoot(page, name)
                page.goto("/audit?verify=1")
                shoot(page, "audit")
                context_pages(page)
                browser.close()
        finally:
            server.should_exit = True


if __name__ == "__main__":
    main()
