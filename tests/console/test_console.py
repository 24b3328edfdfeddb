"""The console in a real browser: sign-in, live timelines, approvals, guardians, charts, roles,
CSRF and tenants."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import Page, expect

from .conftest import Site, sign_in


def _api(site: Site, key: str) -> httpx.Client:
    return httpx.Client(base_url=f"{site.url}/api/v1", headers={"Authorization": f"Bearer {key}"})


def _newest_run(page: Page, workflow: str) -> str:
    page.goto(f"/runs?workflow={workflow}")
    run_id = page.locator("table.runs tbody tr").first.get_attribute("data-run")
    assert run_id, f"no {workflow} run listed"
    return run_id


def _start(page: Page, workflow: str, text: str) -> str:
    """Start a run from the runs page's form; returns its id (the page then shows the run)."""
    page.goto("/runs")
    page.click("summary:has-text('Start a run')")
    page.select_option("[data-testid=start-workflow]", workflow)
    page.fill("[data-testid=start-input]", text)
    page.click("[data-testid=start-run]")
    page.wait_for_url(re.compile(r"/runs/run-[0-9a-f]+$"))
    return page.url.rsplit("/", 1)[1]


def _mark_document(page: Page) -> None:
    """Tag the loaded document, so a later check can tell it was never reloaded."""
    page.evaluate("window.__sameDocument = true")


def _same_document(page: Page) -> bool:
    return bool(page.evaluate("window.__sameDocument === true"))


def test_pages_need_sign_in_and_a_valid_key(page: Page, site: Site) -> None:
    page.goto("/runs?workflow=refund-desk")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.fill("#key", "ap_00000000_not-a-key")
    page.click("button[type=submit]")
    expect(page.get_by_test_id("login-error")).to_contain_text("not valid")

    page.fill("#key", site.admin)
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(r"/runs\?workflow=refund-desk$"))
    cookie = next(c for c in page.context.cookies() if c["name"] == "agentplane_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"

    page.goto("/")
    expect(page.get_by_test_id("runs-total")).not_to_have_text("0")
    page.click("button:has-text('Sign out')")
    expect(page).to_have_url(re.compile(r"/login$"))
    page.goto("/approvals")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fapprovals$"))


def test_a_runs_timeline_shows_what_happened(page: Page, site: Site) -> None:
    sign_in(page, site.admin)
    run_id = _newest_run(page, "refund-desk")
    page.click(f"a:has-text('{run_id}')")
    expect(page.get_by_test_id("live")).to_have_text("live")
    timeline = page.get_by_test_id("timeline")
    expect(timeline.locator("[data-type='run.created']")).to_have_count(1)
    model = timeline.locator("[data-type='model.completed']").first
    expect(model).to_contain_text(re.compile(r"tokens:?\s*[\d,]+ in · [\d,]+ out"))
    expect(timeline.locator("[data-type='tool.started']").first).to_contain_text("arguments")
    expect(timeline.locator("[data-type='tool.completed']").first).to_contain_text("result")
    expect(timeline.locator("[data-type='run.completed']")).to_have_count(1)
    expect(page.get_by_test_id("run-status")).to_have_attribute("data-status", "completed")
    expect(page.locator(".side-panel")).to_contain_text("Autonomy")


def test_approving_in_the_browser_lets_the_run_finish_live(page: Page, site: Site) -> None:
    sign_in(page, site.admin)
    run_id = _start(page, "payment-approval", "Pay ACME's invoice INV-2041 of 1200 EUR")
    expect(page.get_by_test_id("flash")).to_contain_text(f"Started {run_id}")
    # The run reaches the approval in the background; the page follows without a reload.
    _mark_document(page)
    expect(page.get_by_test_id("run-status")).to_have_attribute("data-status", "waiting")
    expect(page.locator("[data-type='approval.requested']")).to_contain_text("irreversible")
    assert _same_document(page)

    pending = page.get_by_test_id("pending-approval")
    pending.locator("input[name=reason]").fill("invoice checked against the PO")
    pending.get_by_test_id("approve").click()
    expect(page.get_by_test_id("flash")).to_contain_text("Approved")
    _mark_document(page)
    expect(page.get_by_test_id("run-status")).to_have_attribute("data-status", "completed")
    timeline = page.get_by_test_id("timeline")
    expect(timeline.locator("[data-type='approval.granted']")).to_contain_text(
        "invoice checked against the PO")
    expect(timeline.locator("[data-type='tool.completed']").filter(has_text="pay returns")
           ).to_have_count(1)
    expect(page.get_by_test_id("pending-approval")).to_have_count(0)
    assert _same_document(page), "the page was reloaded instead of updated live"


# Keeps the page's EventSource objects reachable, so a test can deliver a run's event to the
# page at the moment it chooses (the browser's API is not ours; the console's script is).
_CATCH_STREAMS = """
window.__streams = [];
const Native = window.EventSource;
window.EventSource = function (...args) {
  const source = new Native(...args);
  window.__streams.push(source);
  return source;
};
"""


def _event_arrives(page: Page) -> None:
    """Deliver one 'new event' message to the page's live stream, as the server would."""
    page.evaluate("window.__streams.forEach((s) => s.onmessage && s.onmessage("
                  "new MessageEvent('message', {data: '{}'})))")


def test_a_live_update_keeps_the_reason_being_entered(page: Page, site: Site) -> None:
    """The panel is refreshed while someone has typed a reason and moved to the Approve button
    (by Tab, or by pressing the mouse on it): the reason and the focus survive the refresh, and
    the decision is journaled with it."""
    page.add_init_script(_CATCH_STREAMS)
    run_id = _waiting_payment(site)
    _open_wait(site, run_id)
    sign_in(page, site.admin, f"/runs/{run_id}")
    expect(page.get_by_test_id("live")).to_have_text("live")
    pending = page.get_by_test_id("pending-approval")
    reason = pending.locator("input[name=reason]")

    reason.fill("checked with the vendor by phone")
    _event_arrives(page)  # while typing, the panel is held back
    reason.press("Tab")  # the focus moves to Approve; the held-back panel goes in now
    expect(page.locator("#run-panel [data-testid=approve]")).to_be_focused()
    page.evaluate("document.querySelector('#run-panel .pending').dataset.old = 'yes'")
    _event_arrives(page)
    expect(page.locator("#run-panel .pending:not([data-old])")).to_have_count(1)  # refreshed
    expect(reason).to_have_value("checked with the vendor by phone")
    expect(page.locator("#run-panel [data-testid=approve]")).to_be_focused()

    page.keyboard.press("Enter")  # Approve
    expect(page.get_by_test_id("flash")).to_contain_text("Approved")
    expect(page.get_by_test_id("run-status")).to_have_attribute("data-status", "completed")
    expect(page.get_by_test_id("timeline").locator("[data-type='approval.granted']")
           ).to_contain_text("checked with the vendor by phone")


def test_the_timeline_follows_a_run_live(page: Page, site: Site) -> None:
    run_id = _waiting_payment(site)
    wait_id = _open_wait(site, run_id)
    sign_in(page, site.admin, f"/runs/{run_id}")
    expect(page.get_by_test_id("live")).to_have_text("live")
    expect(page.get_by_test_id("run-status")).to_have_attribute("data-status", "waiting")
    _mark_document(page)
    with _api(site, site.approver) as api:  # someone else decides, elsewhere
        assert api.post(f"/approvals/{wait_id}/approve",
                        json={"reason": "approved over the API"}).status_code == 200
    expect(page.get_by_test_id("run-status")).to_have_attribute("data-status", "completed")
    timeline = page.get_by_test_id("timeline")
    expect(timeline.locator("[data-type='approval.granted']")).to_contain_text(
        "approved over the API")
    expect(timeline.locator("[data-type='run.completed'].fresh")).to_have_count(1)
    expect(page.get_by_test_id("pending-approval")).to_have_count(0)
    assert _same_document(page), "the page was reloaded instead of updated live"


def test_denying_from_the_inbox_stops_the_call(page: Page, site: Site) -> None:
    sign_in(page, site.admin)
    run_id = _start(page, "payment-approval", "Pay ACME's invoice INV-2041 of 1200 EUR")
    expect(page.get_by_test_id("run-status")).to_have_attribute("data-status", "waiting")
    page.goto("/approvals")
    card = page.get_by_test_id("approval").filter(has=page.locator(f"a:has-text('{run_id}')"))
    expect(card).to_contain_text("DE12500105170648489890")  # the arguments
    expect(card).to_contain_text("ACME's IBAN is on file")  # the agent's reasoning
    card.locator("input[name=reason]").fill("vendor not verified")
    card.get_by_test_id("deny").click()
    expect(page.get_by_test_id("flash")).to_contain_text("Denied")
    expect(page.locator(f"[data-testid=approval] a:has-text('{run_id}')")).to_have_count(0)

    page.goto(f"/runs/{run_id}")
    expect(page.get_by_test_id("run-status")).to_have_attribute("data-status", "completed")
    timeline = page.get_by_test_id("timeline")
    expect(timeline.locator("[data-type='approval.denied']")).to_contain_text(
        "vendor not verified")
    expect(timeline.locator("[data-type='tool.completed']").filter(has_text="pay returns")
           ).to_have_count(0)


def test_a_guardians_block_shows_its_reason(page: Page, site: Site) -> None:
    sign_in(page, site.admin)
    run_id = _newest_run(page, "injected-mail")
    page.goto(f"/runs/{run_id}")
    block = page.locator(".kind-guard.tone-bad")
    expect(block).to_have_count(1)
    expect(block.get_by_test_id("alert")).to_contain_text("untrusted content")
    expect(block).to_contain_text("untraced-value v1")
    expect(block).to_contain_text(re.compile("DE89370400440532013000", re.IGNORECASE))

    page.goto("/guardians")
    row = page.locator("tr.guard-row[data-result=deny]").filter(has_text=run_id)
    expect(row).to_contain_text("no trusted source gave")
    expect(row).to_contain_text("untraced-value v1")
    row.locator(f"a:has-text('{run_id}')").click()
    expect(page).to_have_url(re.compile(f"/runs/{run_id}$"))


def test_usage_page_draws_bar_and_line_charts(page: Page, site: Site) -> None:
    sign_in(page, site.admin, "/usage")
    for chart in ("chart-tokens-agent", "chart-tokens-model", "chart-spend-agent"):
        bars = page.get_by_test_id(chart).locator("svg rect.rect")
        expect(bars.first).to_be_attached()
        widths = [float(w or 0) for w in bars.evaluate_all("els => els.map(e => "
                                                           "e.getAttribute('width'))")]
        assert widths and max(widths) > 0, f"{chart} has no visible bars"
    expect(page.get_by_test_id("chart-per-day").locator("svg .serie-0 path.line")).to_have_count(1)
    expect(page.locator("main")).to_contain_text("payables")


def test_a_viewer_sees_no_approve_button_and_a_forged_post_is_refused(
        page: Page, site: Site) -> None:
    run_id = _waiting_payment(site)
    wait_id = _open_wait(site, run_id)
    sign_in(page, site.viewer, f"/runs/{run_id}")
    expect(page.get_by_test_id("pending-approval")).to_have_count(1)
    expect(page.get_by_test_id("approve")).to_have_count(0)
    expect(page.get_by_test_id("cancel")).to_have_count(0)
    expect(page.get_by_test_id("read-only")).to_be_visible()
    page.goto("/approvals")
    expect(page.get_by_test_id("approval").first).to_be_visible()
    expect(page.get_by_test_id("approve")).to_have_count(0)

    # A forged form with the viewer's own, valid CSRF token: the role still refuses.
    csrf = page.locator("input[name=csrf]").first.get_attribute("value")
    answer = page.request.post(f"/console/approvals/{wait_id}/approve",
                               form={"csrf": csrf or "", "reason": "forged"},
                               max_redirects=0)
    assert answer.status == 403
    assert "may not do this" in answer.text()
    assert _open_wait(site, run_id) == wait_id


def test_a_post_without_the_csrf_token_is_refused(page: Page, site: Site) -> None:
    run_id = _waiting_payment(site)
    sign_in(page, site.admin, f"/runs/{run_id}")
    expect(page.get_by_test_id("cancel")).to_be_visible()
    forged: list[dict[str, str | float | bool]] = [
        {"reason": "no token"}, {"reason": "bad token", "csrf": "0" * 64}]
    for form in forged:
        answer = page.request.post(f"/console/runs/{run_id}/cancel", form=form,
                                   max_redirects=0)
        assert answer.status == 403
        assert "CSRF" in answer.text()
    with _api(site, site.admin) as api:
        assert api.get(f"/runs/{run_id}").json()["status"] == "waiting"
    # The real form, with its token, works; a conflict comes back as a readable message.
    page.get_by_test_id("cancel").click()
    expect(page.get_by_test_id("flash")).to_contain_text("Run cancelled")
    expect(page.get_by_test_id("run-status")).to_have_attribute("data-status", "cancelled")
    csrf = page.locator("input[name=csrf]").first.get_attribute("value")
    again = page.request.post(f"/console/runs/{run_id}/cancel", form={"csrf": csrf or ""},
                              max_redirects=0)
    assert again.status == 303
    page.reload()
    expect(page.get_by_test_id("flash")).to_contain_text("Could not cancel")


def test_a_second_tenant_sees_only_its_own_runs(page: Page, site: Site) -> None:
    default_run = _waiting_payment(site)
    sign_in(page, site.acme, "/runs")
    expect(page.get_by_test_id("runs-table")).to_contain_text("No runs match")
    acme_run = _start(page, "refund-desk", "Refund order A1")
    expect(page.get_by_test_id("run-status")).to_have_attribute("data-status", "completed")
    expect(page.get_by_test_id("run-status")).to_be_visible()
    page.goto("/runs")
    expect(page.locator("table.runs tbody tr[data-run]")).to_have_count(1)
    page.goto(f"/runs/{default_run}")
    expect(page.get_by_test_id("error-message")).to_contain_text("no run")
    page.goto("/approvals")
    expect(page.get_by_test_id("no-approvals")).to_be_visible()
    page.goto("/guardians")
    expect(page.locator("tr.guard-row")).to_have_count(0)

    page.context.clear_cookies()
    sign_in(page, site.viewer, "/runs")
    expect(page.locator(f"tr[data-run='{default_run}']")).to_have_count(1)
    expect(page.locator(f"tr[data-run='{acme_run}']")).to_have_count(0)
    page.goto(f"/runs/{acme_run}")
    expect(page.get_by_test_id("error-message")).to_contain_text("no run")


def _waiting_payment(site: Site) -> str:
    """A new payment-approval run of tenant default, started over the API."""
    with _api(site, site.admin) as api:
        run = api.post("/runs", json={"workflow": "payment-approval", "tenant": "default",
                                      "input": "Pay ACME's invoice INV-2041 of 1200 EUR"})
        assert run.status_code == 201, run.text
        return str(run.json()["id"])


def _open_wait(site: Site, run_id: str) -> str:
    """The run's open approval (polls while the run gets there)."""
    import time

    with _api(site, site.admin) as api:
        for _ in range(200):
            waits = api.get(f"/runs/{run_id}").json()["waits"]
            if waits:
                return str(waits[0]["id"])
            time.sleep(0.05)
    raise AssertionError(f"run {run_id} never asked for approval")
