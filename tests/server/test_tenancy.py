"""Cross-tenant answers, as a class: every entry point of the REST API and the console that
takes an id answers another tenant's object exactly as it answers one that does not exist —
same status, same words (but for the id asked about) — so a key learns nothing about other
tenants; and a tenant's admin sees and makes keys of its own tenant only."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from agentplane.governance.keys import KeyRing

from .live import Api, as_, waiting

Call = Callable[[httpx.Client, str], httpx.Response]


def _api(method: str, path: str, body: Any = None) -> Call:
    """A call of the REST API (``path`` under /api/v1) or, for a path starting ``//``, of the
    console (at the root)."""
    url = path[1:] if path.startswith("//") else "/api/v1" + path

    def call(client: httpx.Client, ident: str) -> httpx.Response:
        return client.request(method, url.format(id=ident), json=body)

    return call


RUN_ROUTES: dict[str, Call] = {
    "GET run": _api("GET", "/runs/{id}"),
    "GET events": _api("GET", "/runs/{id}/events"),
    "GET stream": _api("GET", "/runs/{id}/stream"),
    "GET audit": _api("GET", "/runs/{id}/audit"),
    "POST cancel": _api("POST", "/runs/{id}/cancel", {"reason": "x"}),
    "POST retry": _api("POST", "/runs/{id}/retry"),
    "POST rollback": _api("POST", "/runs/{id}/rollback"),
    "POST reconcile": _api("POST", "/runs/{id}/reconcile", {"step_key": "s", "happened": False}),
    "console run page": _api("GET", "//runs/{id}"),
    "console timeline": _api("GET", "//console/runs/{id}/timeline"),
    "console panel": _api("GET", "//console/runs/{id}/panel"),
    "console event": _api("GET", "//console/runs/{id}/events/1"),
    "console cancel": _api("POST", "//console/runs/{id}/cancel"),
    "console retry": _api("POST", "//console/runs/{id}/retry"),
    "console rollback": _api("POST", "//console/runs/{id}/rollback"),
    "console reconcile": _api("POST", "//console/runs/{id}/reconcile"),
}
WAIT_ROUTES: dict[str, Call] = {
    "POST approve": _api("POST", "/approvals/{id}/approve"),
    "POST deny": _api("POST", "/approvals/{id}/deny"),
    "console approve": _api("POST", "//console/approvals/{id}/approve"),
    "console deny": _api("POST", "//console/approvals/{id}/deny"),
}
KEY_ROUTES: dict[str, Call] = {"DELETE key": _api("DELETE", "/keys/{id}")}
TENANT_ROUTES: dict[str, Call] = {
    "POST run for a tenant": lambda c, t: c.post("/api/v1/runs", json={
        "workflow": "refund-desk", "tenant": t}),
    "POST key for a tenant": lambda c, t: c.post("/api/v1/keys", json={
        "name": "x", "role": "viewer", "tenant": t}),
}


def _answer(response: httpx.Response, ident: str) -> tuple[int, str]:
    """The status and what the answer says, with the id asked about blanked out (an API
    error's text, or a console page's body, or the flash message a console form sets)."""
    if response.headers.get("content-type", "").startswith("application/json"):
        text = str(response.json().get("error"))
    elif response.status_code == 303:
        text = (response.cookies.get("agentplane_flash") or "") + response.headers["location"]
    else:
        text = response.text
    return response.status_code, text.replace(ident, "ID")


@pytest.fixture
def beta_admin(db: Path, base: str) -> httpx.Client:
    """A client with every permission, of tenant beta."""
    ring = KeyRing(db)
    _, secret = ring.create("beta admin", role="admin", tenant="beta")
    ring.close()
    return httpx.Client(base_url=base, timeout=30, follow_redirects=False,
                        headers={"Authorization": f"Bearer {secret}"},
                        cookies={"agentplane_session": secret})


def test_another_tenants_objects_are_answered_as_missing_everywhere(
        base: str, keys: dict[str, str], beta_admin: httpx.Client) -> None:
    acme = as_(base, keys, "operator")
    run = acme.wait_for(acme.ok("POST", "/runs", {"workflow": "payment-approval",
                                                  "input": "Pay INV-1"})["id"], waiting)
    wait_id = run["waits"][0]["id"]
    key_id = keys["viewer"].split("_")[1]
    cases = [*((name, call, run["id"], "r-" + "0" * 12) for name, call in RUN_ROUTES.items()),
             *((name, call, wait_id, "w-" + "0" * 12) for name, call in WAIT_ROUTES.items()),
             *((name, call, key_id, "0" * len(key_id)) for name, call in KEY_ROUTES.items()),
             *((name, call, "acme", "nobody") for name, call in TENANT_ROUTES.items())]
    for name, call, theirs, missing in cases:
        foreign = _answer(call(beta_admin, theirs), theirs)
        absent = _answer(call(beta_admin, missing), missing)
        assert foreign == absent, name
        assert foreign[0] in (303, 404), (name, foreign)
        assert run["id"] not in foreign[1], name  # a wait's answer does not name its run
    # and nothing was done to acme's run or key
    assert acme.ok("GET", f"/runs/{run['id']}")["status"] == "waiting"
    assert Api(base, keys["viewer"]).get("/runs").status_code == 200


def test_a_tenant_admin_sees_and_makes_keys_of_its_tenant_only(base: str, keys: dict[str, str]
                                                               ) -> None:
    admin = as_(base, keys, "admin")
    listed = admin.ok("GET", "/keys")
    assert listed and {k["tenant"] for k in listed} == {"acme"}
    every = as_(base, keys, "root").ok("GET", "/keys")
    assert {k["tenant"] for k in every} == {"acme", "beta", "*"}
    # without a tenant, a tenant admin's new key is of its own tenant (not "default")
    created = admin.ok("POST", "/keys", {"name": "ci", "role": "operator"})
    assert created["tenant"] == "acme"
    assert as_(base, keys, "root").ok("POST", "/keys", {"name": "ops", "role": "viewer"}
                                      )["tenant"] == "default"
    # what the list shows is what DELETE may touch, and the other way round
    listed_ids = {k["id"] for k in admin.ok("GET", "/keys")}
    for key in every:
        status = admin.http.delete(f"/keys/{key['id']}").status_code
        assert (status == 200) == (key["id"] in listed_ids), key


def test_refusals_use_the_right_article(base: str, keys: dict[str, str]) -> None:
    start = {"workflow": "refund-desk", "input": "x"}
    assert "an approver key may not" in as_(base, keys, "approver").post("/runs", start
                                                                          ).json()["error"]
    assert "a viewer key may not" in as_(base, keys, "viewer").post("/runs", start
                                                                     ).json()["error"]
    assert "an operator key may not" in as_(base, keys, "operator").get("/keys").json()["error"]
    # the console says it the same way
    operator = as_(base, keys, "operator")
    operator.wait_for(operator.ok("POST", "/runs", {"workflow": "payment-approval",
                                                    "input": "Pay INV-1"})["id"], waiting)
    page = httpx.get(f"{base}/approvals", cookies={"agentplane_session": keys["operator"]})
    assert "An operator key cannot decide approvals." in page.text
