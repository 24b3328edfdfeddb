"""A real server on loopback with the demo's runs, API keys of several roles and tenants, and
headless Chromium (Debian's ``/usr/bin/chromium``) driven by Playwright."""

from __future__ import annotations

import asyncio
import io
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, expect, sync_playwright
from rich.console import Console

from agentplane.cli.demo import run_demo
from agentplane.governance.keys import keyring_for
from agentplane.journal import open_store
from agentplane.runtime import Runtime
from tests.server.live import live_server

CHROMIUM = os.environ.get("AGENTPLANE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@dataclass(frozen=True)
class Site:
    """The server under test and the keys to sign in with."""

    url: str
    admin: str
    """All tenants, every permission."""
    viewer: str
    """Tenant ``default``, read only."""
    approver: str
    """Tenant ``default``, may decide approvals but not run."""
    acme: str
    """An operator of tenant ``acme`` (no runs of ``default`` are its business)."""


async def _seed(db: Path) -> dict[str, str]:
    store = open_store(f"sqlite:///{db}")
    runtime = Runtime(store)
    try:
        await run_demo(store, runtime, Console(file=io.StringIO()))
        ring = keyring_for(store)
        keys = {name: ring.create(name, role=role, tenant=tenant)[1] for name, role, tenant in [
            ("admin", "admin", "*"), ("viewer", "viewer", "default"),
            ("approver", "approver", "default"), ("acme", "operator", "acme")]}
        ring.close()
    finally:
        await runtime.aclose()
        await store.close()
    return keys


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    db = tmp_path_factory.mktemp("console") / "agentplane.db"
    # In a thread of its own: Playwright's sync API may already run a loop in this one.
    with ThreadPoolExecutor(1) as pool:
        keys = pool.submit(asyncio.run, _seed(db)).result()
    with live_server(db) as url:
        yield Site(url, keys["admin"], keys["viewer"], keys["approver"], keys["acme"])


# Module-scoped: while Playwright's sync API is open it keeps an event loop running in this
# thread, which other test modules' asyncio.run() would trip over.
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    if not Path(CHROMIUM).exists():
        if os.environ.get("AGENTPLANE_SKIP_BROWSER") == "1":
            pytest.skip("AGENTPLANE_SKIP_BROWSER=1: console browser tests skipped")
        pytest.fail(f"the console's browser tests need Chromium at {CHROMIUM} (Debian: "
                    "`apt-get install chromium`; elsewhere set AGENTPLANE_CHROMIUM to its path), "
                    "or set AGENTPLANE_SKIP_BROWSER=1 to skip them", pytrace=False)
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                         headless=True)
    yield browser
    browser.close()


@pytest.fixture
def context(browser: Browser, site: Site) -> Iterator[BrowserContext]:
    context = browser.new_context(base_url=site.url, viewport={"width": 1366, "height": 800})
    context.set_default_timeout(15_000)
    # The same patience for `expect(...)` checks (5 s by default): a loaded 2-core CI machine
    # may take longer than that to finish a run the page is following live.
    expect.set_options(timeout=15_000)
    yield context
    context.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


def sign_in(page: Page, key: str, next_path: str = "/") -> None:
    """Sign in at /login with ``key`` and land on ``next_path``."""
    page.goto(f"/login?next={next_path}")
    page.fill("#key", key)
    page.click("button[type=submit]")
    page.wait_for_url(f"**{next_path}")
