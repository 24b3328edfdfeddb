"""The console in a browser for what a person operating runs needs: settling a run that needs
reconciliation, reading a long value in part and then in full, and seeing on the Agents page
who hands off to whom, who supervises whom, and which tool calls are stricter than their
agent."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from playwright.sync_api import Page, expect

from agentplane.demo import workflow_files
from agentplane.governance.keys import KeyRing
from tests.server.live import live_server
from tests.server.test_reconcile import make_unconfirmed_run

from .conftest import Site, sign_in

CAREFUL = """\
name: careful-refunds
description: Refunds are a write the clerk may not make without a person.
autonomy: on_the_loop
tools:
  - {name: lookup, python: "tests.runtime.toolbox:lookup", effect: read}
  - {name: refund, python: "tests.runtime.toolbox:refund", effect: write, idempotent: true,
     autonomy: in_the_loop}
agents:
  - name: clerk
    tools: [lookup, refund]
    script:
      - content: Nothing to refund.
steps:
  - agent: clerk
"""


@dataclass(frozen=True)
class Operations(Site):
    stuck: str = ""
    """A run that needs reconciliation."""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Operations]:
    folder = tmp_path_factory.mktemp("operations")
    db = folder / "agentplane.db"
    careful = folder / "careful.yaml"
    careful.write_text(CAREFUL)
    stuck = make_unconfirmed_run(db)
    ring = KeyRing(db)
    admin = ring.create("admin", role="admin", tenant="*")[1]
    viewer = ring.create("viewer", role="viewer", tenant="default")[1]
    ring.close()
    with live_server(db, [*workflow_files(), careful]) as url:
        yield Operations(url, admin, viewer, "", "", stuck)


def test_a_run_needing_reconciliation_is_settled_from_its_page(page: Page, site: Operations
                                                               ) -> None:
    sign_in(page, site.admin, f"/runs/{site.stuck}")
    expect(page.get_by_test_id("run-status")).to_have_attribute(
        "data-status", "needs_reconciliation")
    form = page.get_by_test_id("reconcile")
    expect(form).to_contain_text("blocking_write")
    form.get_by_label("It happened").check()
    form.get_by_label("Result").fill('"wrote x (checked by hand)"')
    form.get_by_label("Reconcile reason").fill("seen in the ledger")
    form.get_by_test_id("reconcile-submit").click()
    expect(page.locator(".flash, .alert").first).to_contain_text("Reconciled")
    expect(page.get_by_test_id("run-status")).to_have_attribute("data-status", "completed")
    expect(page.get_by_test_id("reconcile")).to_have_count(0)
    timeline = page.get_by_test_id("timeline")
    expect(timeline.locator("[data-type='run.reconciled']")).to_have_count(1)
    # what the form said is what was journaled: the call happened (not to be made again)
    events = httpx.get(f"{site.url}/api/v1/runs/{site.stuck}/events",
                       headers={"Authorization": f"Bearer {site.admin}"}).json()
    reconciled = next(e for e in events if e["type"] == "run.reconciled")
    assert reconciled["data"]["decision"] == "completed"
    assert reconciled["data"]["reason"] == "seen in the ledger"


def test_a_long_value_is_shown_in_part_with_a_link_to_all_of_it(page: Page, site: Site
                                                                ) -> None:
    text = "Refund order A1. " + "long " * 3_000
    run = httpx.post(f"{site.url}/api/v1/runs", json={"workflow": "refund-desk", "input": text},
                     headers={"Authorization": f"Bearer {site.admin}"}).json()
    sign_in(page, site.viewer, f"/runs/{run['id']}")
    created = page.get_by_test_id("timeline").locator("[data-type='run.created']")
    expect(created.get_by_test_id("clipped")).to_have_count(1)
    assert len(created.inner_text()) < len(text)
    created.locator("details").first.evaluate("details => { details.open = true; }")
    with page.expect_navigation():
        created.get_by_test_id("full-value").click()
    body = page.locator("body").inner_text()
    assert text.strip() in body.replace("\n", "")


def test_the_agents_page_shows_teams_and_tool_autonomy(page: Page, site: Site) -> None:
    sign_in(page, site.viewer, "/agents")
    research = page.locator("[data-workflow='research-team']")
    expect(research.locator("[data-agent='lead'] [data-testid='workers']")).to_have_text(
        re.compile(r"assigns tasks to\s+researcher,\s+writer"))
    expect(research.locator("[data-agent='writer'] [data-testid='supervisors']")).to_have_text(
        re.compile(r"works for\s+lead"))
    support = page.locator("[data-workflow='support-handoff']")
    expect(support.locator("[data-agent='front_desk'] [data-testid='handoffs']")).to_have_text(
        re.compile(r"hands off to\s+billing"))
    clerk = page.locator("[data-workflow='careful-refunds'] [data-agent='clerk']")
    refund = clerk.locator("[data-tool='refund']")
    expect(refund).to_have_attribute("data-autonomy", "in_the_loop")
    expect(refund).to_contain_text("in the loop")
    expect(clerk.locator("[data-tool='lookup']")).to_have_attribute("data-autonomy",
                                                                    "on_the_loop")
    expect(clerk.locator("[data-tool='lookup']")).not_to_contain_text("loop")
    # the API says the same
    workflows = httpx.get(f"{site.url}/api/v1/workflows",
                          headers={"Authorization": f"Bearer {site.viewer}"}).json()
    careful = next(w for w in workflows if w["name"] == "careful-refunds")
    assert careful["agents"][0]["tool_autonomy"] == {"lookup": "on_the_loop",
                                                      "refund": "in_the_loop"}
    assert next(t for t in careful["tools"] if t["name"] == "refund")["autonomy"] == "in_the_loop"
    research_api = next(w for w in workflows if w["name"] == "research-team")
    lead = next(a for a in research_api["agents"] if a["name"] == "lead")
    assert lead["workers"] == ["researcher", "writer"]

