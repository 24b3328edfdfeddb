"""The console's Knowledge and Memory pages and a run's context packets, in a real browser,
on the journal the support-desk demo leaves: documents and search (passages with scores and
the retrievers that found them), memories by kind and status with quarantine, release,
delete and forget (CSRF forms, approvers only) and their audit, and on the run page what each
agent was shown — "why did the agent know this"."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from agentplane.governance.keys import KeyRing
from agentplane.journal import Event, EventType
from agentplane.server.console.timeline import entry
from tests.server.live import live_server

from .conftest import sign_in

DEMO = Path(__file__).resolve().parents[2] / "examples" / "support-desk" / "run.py"


@dataclass(frozen=True)
class Desk:
    url: str
    admin: str
    viewer: str
    approver: str
    operator: str
    acme: str
    """An approver of another tenant: sees none of it."""
    runs: tuple[str, str]
    """The demo's first and second run."""


def _seed(folder: Path) -> tuple[dict[str, str], tuple[str, str]]:
    env = {**os.environ, "AGENTPLANE_HOME": str(folder)}
    env.pop("AGENTPLANE_DB", None)
    done = subprocess.run([sys.executable, str(DEMO), "--db", "desk.db"], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    runs = re.findall(r"== \w+ case: run (run-[0-9a-f]+)", done.stdout)
    ring = KeyRing(folder / "desk.db")
    keys = {name: ring.create(name, role=role, tenant=tenant)[1] for name, role, tenant in [
        ("admin", "admin", "*"), ("viewer", "viewer", "default"),
        ("approver", "approver", "default"), ("operator", "operator", "default"),
        ("acme", "approver", "acme")]}
    ring.close()
    return keys, (runs[0], runs[1])


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    folder = tmp_path_factory.mktemp("desk-console")
    keys, runs = _seed(folder)
    with live_server(folder / "desk.db") as url:
        yield Desk(url, keys["admin"], keys["viewer"], keys["approver"], keys["operator"],
                   keys["acme"], runs)


@pytest.fixture
def tab(browser: Browser, desk: Desk) -> Iterator[Page]:
    context = browser.new_context(base_url=desk.url, viewport={"width": 1366, "height": 900})
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


def test_knowledge_lists_documents_and_searches_in_both_languages(tab: Page, desk: Desk
                                                                  ) -> None:
    sign_in(tab, desk.viewer, "/knowledge")
    documents = tab.get_by_test_id("documents")
    for source in ("policies/refund-policy.zh.md", "policies/escalation.en.md",
                   "policies/data-protection.en.md"):
        expect(documents.locator("tr", has_text=source)).to_have_count(1)
    expect(documents.locator("tr", has_text="refund-policy.zh.md")).to_contain_text("compliance")
    expect(tab.get_by_test_id("kb-remove")).to_have_count(0)  # a viewer adds and removes nothing
    expect(tab.get_by_test_id("kb-add")).to_have_count(0)

    tab.get_by_test_id("kb-query").fill("退款超过500元需要谁批准？")
    tab.get_by_test_id("kb-search").click()
    passages = tab.get_by_test_id("passages").locator("tbody tr")
    expect(passages.first).to_contain_text("须经客服主管批准")
    expect(passages.first.locator(".via")).to_contain_text("lexical")
    score = passages.first.get_by_test_id("score").inner_text()
    assert float(score) > 0
    tab.goto("/knowledge?q=who+approves+refunds+above+500+CNY")
    expect(tab.get_by_test_id("passages").locator("tbody tr").first).to_contain_text(
        "supervisor's approval")


def test_an_operator_adds_and_removes_a_document(tab: Page, desk: Desk) -> None:
    sign_in(tab, desk.operator, "/knowledge")
    tab.click("summary:has-text('Add a document')")
    tab.get_by_test_id("kb-source").fill("notes/holiday-hours.md")
    tab.get_by_test_id("kb-text").fill("# Holiday hours\n\nThe desk closes at noon on "
                                       "31 December.")
    tab.get_by_test_id("kb-add").click()
    expect(tab.get_by_test_id("flash")).to_contain_text("Added notes/holiday-hours.md")
    row = tab.get_by_test_id("documents").locator("tr", has_text="notes/holiday-hours.md")
    expect(row).to_contain_text("operator")  # the owner: the key's name
    tab.goto("/knowledge?q=holiday+noon")
    expect(tab.get_by_test_id("passages")).to_contain_text("closes at noon")
    row = tab.get_by_test_id("documents").locator("tr", has_text="notes/holiday-hours.md")
    row.get_by_test_id("kb-remove").click()
    expect(tab.get_by_test_id("flash")).to_contain_text("Removed notes/holiday-hours.md")
    expect(tab.get_by_test_id("documents").locator("tr", has_text="holiday")).to_have_count(0)


def test_the_run_page_shows_each_agents_context_packet(tab: Page, desk: Desk) -> None:
    sign_in(tab, desk.viewer, f"/runs/{desk.runs[1]}")
    timeline = tab.get_by_test_id("timeline")
    packets = timeline.locator("[data-type='context.packet']")
    expect(packets).to_have_count(2)
    support, compliance = packets.nth(0), packets.nth(1)
    expect(support).to_contain_text("Context for support")
    expect(support.locator("tr[data-item^='mem:']")).to_have_count(2)
    expect(support).to_contain_text("above the maximum 500")
    expect(compliance.locator("tr[data-item^='kb:']").first).to_be_visible()
    expect(compliance).to_contain_text("policies/refund-policy.zh.md")
    expect(compliance).to_contain_text("须经客服主管批准")
    # what the answers cite is there, row by row
    cited = re.findall(r"\[((?:kb|mem):[^\]\s]+)\]", timeline.locator(
        "[data-type='agent.completed']").last.inner_text())
    assert cited
    for item in cited:
        expect(compliance.locator(f"tr[data-item='{item}']")).to_have_count(1)
    written = timeline.locator("[data-type='memory.written']")
    expect(written.first).to_contain_text("Remembers")
    expect(written.filter(has_text="experiential")).to_have_count(1)


def test_memory_lists_by_kind_and_status(tab: Page, desk: Desk) -> None:
    sign_in(tab, desk.viewer, "/memory")
    rows = tab.get_by_test_id("memories").locator("tbody tr[data-memory]")
    expect(rows.first).to_be_visible()
    kinds = {row.locator("td").nth(1).inner_text() for row in rows.all()}
    assert kinds == {"factual", "experiential", "procedural"}
    expect(tab.get_by_test_id("quarantine")).to_have_count(0)  # viewers review nothing
    expect(tab.get_by_test_id("forget")).to_have_count(0)
    tab.get_by_test_id("mem-kind").select_option("factual")
    tab.get_by_test_id("mem-status").select_option("active")
    tab.get_by_test_id("mem-filter").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("C-1042 writes in Chinese")
    expect(rows.first).to_contain_text("preferred_language")
    tab.goto("/memory?kind=procedural&status=active")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("lookup_order")
    # a forged form with the viewer's own, valid CSRF token: the role still refuses
    skill = rows.first.get_attribute("data-memory")
    csrf = tab.locator("input[name=csrf]").first.get_attribute("value")
    forged = tab.request.post(f"/console/memories/{skill}/delete",
                              form={"csrf": csrf or "", "reason": "forged"}, max_redirects=0)
    assert forged.status == 403 and "may not do this" in forged.text()
    sign_in(tab, desk.acme, "/memory")  # another tenant: nothing of it
    expect(tab.get_by_test_id("memories").locator("tbody tr[data-memory]")).to_have_count(0)


def test_approvers_quarantine_release_delete_and_forget(tab: Page, desk: Desk) -> None:
    sign_in(tab, desk.approver, "/memory")
    tab.goto("/memory?kind=factual&status=active")
    fact = tab.get_by_test_id("memories").locator("tbody tr[data-memory]").first
    memory_id = fact.get_attribute("data-memory")
    assert memory_id

    # a form without its CSRF token is refused
    refused = tab.request.post(f"/console/memories/{memory_id}/quarantine",
                               form={"reason": "no token"}, max_redirects=0)
    assert refused.status == 403 and "CSRF" in refused.text()

    fact.locator("input[name=reason]").fill("came from the customer's message")
    fact.get_by_test_id("quarantine").click()
    expect(tab.get_by_test_id("flash")).to_contain_text(f"Quarantined {memory_id}")
    expect(tab.locator(f"tr[data-memory='{memory_id}']")).to_have_count(0)  # not active now
    tab.goto("/memory?status=quarantined")
    row = tab.locator(f"tr[data-memory='{memory_id}']")
    expect(row).to_have_attribute("data-status", "quarantined")
    row.locator("input[name=reason]").fill("checked with the customer")
    row.get_by_test_id("release").click()
    expect(tab.get_by_test_id("flash")).to_contain_text(f"Released {memory_id}")
    tab.goto("/memory")
    expect(tab.locator(f"tr[data-memory='{memory_id}']")).to_have_attribute("data-status",
                                                                             "active")

    tab.goto("/memory?kind=experiential")
    case = tab.get_by_test_id("memories").locator("tbody tr[data-memory]").first
    case_id = case.get_attribute("data-memory")
    case.locator("input[name=reason]").fill("duplicate summary")
    case.get_by_test_id("delete").click()
    expect(tab.get_by_test_id("flash")).to_contain_text(f"Deleted {case_id}")
    expect(tab.locator(f"tr[data-memory='{case_id}']")).to_have_count(0)

    tab.goto("/memory")
    tab.click("summary:has-text('Forget a subject')")
    tab.get_by_test_id("forget-subject").fill("C-1042")
    tab.get_by_test_id("forget-reason").fill("erasure request (rule DP-3)")
    tab.get_by_test_id("forget").click()
    expect(tab.get_by_test_id("flash")).to_contain_text(re.compile(
        r"Forgot C-1042: [1-9]\d* memories deleted"))
    expect(tab.get_by_test_id("memories")).not_to_contain_text("C-1042")

    audit = tab.get_by_test_id("memory-audit").locator("tbody tr[data-action]")
    expect(audit).to_have_count(5)  # and, first of all, the demo's promotion of the skill
    actions = [audit.nth(i).get_attribute("data-action") for i in range(5)]
    assert actions == ["forget", "delete", "release", "quarantine", "promote"]
    expect(audit.first).to_contain_text("erasure request (rule DP-3)")
    expect(tab.get_by_test_id("memory-audit")).not_to_contain_text("writes in Chinese")


def test_tools_selected_shows_the_choice_and_why() -> None:
    item = entry(Event("run-1", 7, "2026-12-03T09:00:00.000000Z", EventType.TOOLS_SELECTED,
                       "agent:support", "s0/support/m2/tools",
                       {"agent": "support", "tools": ["lookup_order", "request_refund"],
                        "scores": [1.2, 0.8], "used": ["lookup_order"], "offered": 100,
                        "limit": 2, "reason": "1 used earlier in the run, then the most "
                                              "relevant"}, None, "0", "h"))
    assert (item.kind, item.title) == ("context", "Tools for support: 2 chosen")
    facts = dict(item.facts)
    assert facts == {"chosen": "lookup_order, request_refund", "of": "100", "limit": "2",
                     "used before": "lookup_order"}
    assert item.text and item.text.startswith("1 used earlier")
    assert item.blocks and "1.2" in item.blocks[0][1]


def test_a_packet_with_conflicts_and_dropped_items_says_so() -> None:
    item = entry(Event("run-1", 4, "2026-12-03T09:00:00.000000Z", EventType.CONTEXT_PACKET,
                       "agent:support", "s0/support/context", {"agent": "support", "packet": {
                           "version": 1, "query": "pay ACME", "tokens": 120, "budget": 1500,
                           "items": [{"id": "mem:a", "kind": "memory", "text": "IBAN DE1",
                                      "source": "user:ops", "trust": "trusted", "score": 2.5}],
                           "dropped": [{"id": "mem:b", "reason": "conflict", "detail": ""},
                                       {"id": "kb:c", "reason": "duplicate",
                                        "detail": "of kb:d"}],
                           "conflicts": [{"subject": "ACME", "relation": "iban", "kept": "mem:a",
                                          "dropped": ["mem:b"], "values": ["DE1", "XX9"]}]}},
                       None, "0", "h"))
    assert (item.kind, item.tone) == ("context", "warn")
    assert item.title == "Context for support: 1 item(s)"
    assert item.alert == "sources disagree on ACME's iban: kept mem:a, dropped mem:b"
    assert dict(item.facts) == {"for": "pay ACME", "tokens": "120 of 1,500", "dropped": "2",
                                "conflicts": "1"}
    assert item.context is not None and [i["id"] for i in item.context.items] == ["mem:a"]
    assert [d["reason"] for d in item.context.dropped] == ["conflict", "duplicate"]
