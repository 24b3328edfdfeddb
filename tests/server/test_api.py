"""The REST API against a real server on loopback: every role, tenant boundaries, validation,
the run lifecycle through approvals, retry and rollback, and the audit check."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx

from agentplane.governance.keys import KeyRing

from .live import Api, as_, finished, waiting

# -- access -----------------------------------------------------------------------------------

def test_only_health_answers_without_a_key(base: str, keys: dict[str, str]) -> None:
    anonymous = Api(base, None)
    health = anonymous.get("/health").json()
    assert health["status"] == "ok"
    assert health["journal"]["present"] and health["journal"]["writable"]
    for path in ("/runs", "/approvals", "/usage", "/audit/verify", "/workflows", "/keys",
                 "/runs/x", "/runs/x/events", "/whoami"):
        response = anonymous.get(path)
        assert response.status_code == 401, path
        assert "API key" in response.json()["error"]
        assert response.headers["www-authenticate"].startswith("Bearer")
    assert anonymous.post("/runs", {"workflow": "refund-desk"}).status_code == 401
    metrics = httpx.get(f"{base}/metrics")
    assert metrics.status_code == 401


def test_wrong_and_revoked_keys_are_refused(base: str, keys: dict[str, str], db: Path) -> None:
    viewer = keys["viewer"]
    assert Api(base, viewer).get("/runs").status_code == 200
    assert Api(base, viewer[:-2] + "xx").get("/runs").status_code == 401
    assert Api(base, "not-a-key").get("/runs").status_code == 401
    # the same key in the X-API-Key header works too
    assert httpx.get(f"{base}/api/v1/runs", headers={"X-API-Key": viewer}).status_code == 200
    ring = KeyRing(db)
    key_id = viewer.split("_")[1]
    ring.revoke(key_id)
    ring.close()
    assert Api(base, viewer).get("/runs").status_code == 401


def test_each_role_does_what_it_may_and_nothing_more(base: str, keys: dict[str, str]) -> None:
    start = {"workflow": "payment-approval", "input": "Pay ACME's invoice INV-2041"}
    # viewer: reads, no actions
    viewer = as_(base, keys, "viewer")
    assert viewer.post("/runs", start).status_code == 403
    # approver cannot start runs either
    approver = as_(base, keys, "approver")
    denied = approver.post("/runs", start)
    assert denied.status_code == 403 and "approver key may not" in denied.json()["error"]
    # operator starts the run, which waits for an approval
    operator = as_(base, keys, "operator")
    run = operator.ok("POST", "/runs", start)
    assert run["tenant"] == "acme"
    run = operator.wait_for(run["id"], waiting)
    wait_id = run["waits"][0]["id"]
    # neither viewer nor operator may decide it
    assert viewer.post(f"/approvals/{wait_id}/approve").status_code == 403
    assert operator.post(f"/approvals/{wait_id}/approve").status_code == 403
    assert [a["id"] for a in viewer.ok("GET", "/approvals")] == [wait_id]
    # the approver may
    approver.ok("POST", f"/approvals/{wait_id}/approve", {"reason": "invoice checked"})
    done = viewer.wait_for(run["id"], finished)
    assert done["status"] == "completed"
    events = viewer.ok("GET", f"/runs/{run['id']}/events")
    granted = [e for e in events if e["type"] == "approval.granted"]
    assert granted[0]["actor"].startswith("key:")
    assert granted[0]["data"]["reason"] == "invoice checked"
    assert sum(e["type"] == "tool.completed" and e["data"].get("tool") == "pay"
               for e in events) == 1
    # deciding again is a conflict, not a second payment
    again = approver.post(f"/approvals/{wait_id}/approve")
    assert again.status_code == 409
    # only admins manage keys
    for who in ("viewer", "operator", "approver"):
        assert as_(base, keys, who).get("/keys").status_code == 403
    admin = as_(base, keys, "admin")
    created = admin.ok("POST", "/keys", {"name": "ci", "role": "viewer", "tenant": "acme"})
    assert created["key"].startswith("ap_")
    assert Api(base, created["key"]).get("/runs").status_code == 200
    admin.ok("DELETE", f"/keys/{created['id']}")
    assert Api(base, created["key"]).get("/runs").status_code == 401
    # a tenant's admin cannot mint keys for another tenant or for all
    for tenant in ("beta", "*"):
        response = admin.post("/keys", {"name": "x", "role": "admin", "tenant": tenant})
        assert response.status_code == 404


def test_a_tenant_sees_only_its_own_runs(base: str, keys: dict[str, str]) -> None:
    acme = as_(base, keys, "operator")
    beta = as_(base, keys, "beta operator")
    acme_run = acme.ok("POST", "/runs", {"workflow": "payment-approval", "input": "Pay"})
    beta_run = beta.ok("POST", "/runs", {"workflow": "refund-desk", "input": "Refund A1"})
    acme.wait_for(acme_run["id"], waiting)
    beta.wait_for(beta_run["id"], finished)
    beta_viewer = as_(base, keys, "beta viewer")
    assert [r["id"] for r in beta_viewer.ok("GET", "/runs")] == [beta_run["id"]]
    assert [r["id"] for r in acme.ok("GET", "/runs")] == [acme_run["id"]]
    for path in (f"/runs/{acme_run['id']}", f"/runs/{acme_run['id']}/events",
                 f"/runs/{acme_run['id']}/audit", f"/runs/{acme_run['id']}/stream"):
        response = beta_viewer.get(path)
        assert response.status_code == 404, path
        assert response.json()["error"] == f"no run {acme_run['id']!r}"
    assert beta.post(f"/runs/{acme_run['id']}/cancel").status_code == 404
    assert beta_viewer.ok("GET", "/approvals") == []
    wait_id = acme.ok("GET", "/approvals")[0]["id"]
    beta_admin_like = as_(base, keys, "beta operator")
    assert beta_admin_like.post(f"/approvals/{wait_id}/deny").status_code in (403, 404)
    assert beta_viewer.ok("GET", "/audit/verify")["runs"] == 1
    usage = beta_viewer.ok("GET", "/usage?by=tenant")
    assert {row["tenant"] for row in usage} == {"beta"}
    # the operator of every tenant sees both
    root = as_(base, keys, "root")
    assert {r["id"] for r in root.ok("GET", "/runs")} == {acme_run["id"], beta_run["id"]}
    assert root.ok("GET", "/audit/verify")["runs"] == 2


# -- validation -------------------------------------------------------------------------------

def test_bad_requests_say_what_and_where(base: str, keys: dict[str, str]) -> None:
    operator = as_(base, keys, "operator")
    extra = operator.post("/runs", {"workflow": "refund-desk", "inptu": "typo"})
    assert extra.status_code == 422
    assert extra.json()["problems"] == [{"where": "body.inptu",
                                         "problem": "Extra inputs are not permitted"}]
    missing = operator.post("/runs", {"input": "x"})
    assert missing.status_code == 422 and "body.workflow" in missing.json()["error"]
    unknown = operator.post("/runs", {"workflow": "nope"})
    assert unknown.status_code == 404
    assert "refund-desk" in unknown.json()["error"]  # it names what is served
    bad_status = operator.get("/runs", status="finished")
    assert bad_status.status_code == 422 and "query.status" in bad_status.json()["error"]
    assert operator.get("/runs", limit=0).status_code == 422
    assert operator.get("/usage", month="2026-13-01").status_code == 422
    not_json = operator.http.post("/runs", content=b"{nope", headers={
        "content-type": "application/json"})
    assert not_json.status_code == 422
    assert operator.get("/runs/does-not-exist").status_code == 404
    assert operator.post("/approvals/w-nope/approve").status_code == 403  # operators can't
    assert as_(base, keys, "approver").post("/approvals/w-nope/approve").status_code == 404


# -- actions on runs --------------------------------------------------------------------------

def test_cancel_then_retry_then_deny(base: str, keys: dict[str, str]) -> None:
    operator = as_(base, keys, "operator")
    run = operator.ok("POST", "/runs", {"workflow": "payment-approval", "input": "Pay"})
    operator.wait_for(run["id"], waiting)
    assert operator.post(f"/runs/{run['id']}/retry").status_code == 409  # not failed yet
    cancelled = operator.ok("POST", f"/runs/{run['id']}/cancel", {"reason": "wrong vendor"})
    assert cancelled["status"] == "cancelled"
    assert operator.post(f"/runs/{run['id']}/cancel").status_code == 409
    retry = operator.ok("POST", f"/runs/{run['id']}/retry")
    assert retry["retry_of"] == run["id"] and retry["input"] == "Pay"
    retry = operator.wait_for(retry["id"], waiting)
    approver = as_(base, keys, "approver")
    approver.ok("POST", f"/approvals/{retry['waits'][0]['id']}/deny", {"reason": "no"})
    done = operator.wait_for(retry["id"], finished)
    events = operator.ok("GET", f"/runs/{retry['id']}/events")
    assert not any(e["type"] == "tool.completed" and e["data"].get("tool") == "pay"
                   for e in events)
    assert done["status"] in ("completed", "failed")


def test_rollback_reverses_a_finished_runs_writes(base: str, keys: dict[str, str]) -> None:
    operator = as_(base, keys, "operator")
    run = operator.ok("POST", "/runs", {"workflow": "refund-desk", "input": "Refund order A1"})
    assert operator.wait_for(run["id"], finished)["status"] == "completed"
    report = operator.ok("POST", f"/runs/{run['id']}/rollback")
    assert [c["outcome"] for c in report["calls"]] == ["compensated"]
    assert as_(base, keys, "viewer").post(f"/runs/{run['id']}/rollback").status_code == 403
    again = operator.ok("POST", f"/runs/{run['id']}/rollback")
    assert again["calls"] == []  # nothing is reversed twice
    events = operator.ok("GET", f"/runs/{run['id']}/events")
    assert sum(e["type"] == "tool.compensated" for e in events) == 1


def test_audit_verify_names_a_tampered_event(base: str, keys: dict[str, str], db: Path
                                             ) -> None:
    operator = as_(base, keys, "operator")
    run = operator.ok("POST", "/runs", {"workflow": "refund-desk", "input": "Refund order A1"})
    operator.wait_for(run["id"], finished)
    assert operator.ok("GET", "/audit/verify")["ok"] is True
    with sqlite3.connect(db) as raw:
        raw.execute("UPDATE events SET data = replace(data, 'A1', 'A9') WHERE run_id = ? "
                    "AND seq = 1", (run["id"],))
    report = operator.ok("GET", "/audit/verify")
    assert report["ok"] is False
    assert report["breaks"][0]["run_id"] == run["id"] and report["breaks"][0]["seq"] == 1
    exported = operator.ok("GET", f"/runs/{run['id']}/audit")
    assert exported["verification"]["ok"] is False


def test_openapi_documents_the_api(base: str, keys: dict[str, str]) -> None:
    assert httpx.get(f"{base}/openapi.json").status_code == 401
    document = httpx.get(f"{base}/openapi.json",
                         headers={"Authorization": f"Bearer {keys['viewer']}"}).json()
    paths = document["paths"]
    for path in ("/api/v1/runs", "/api/v1/runs/{run_id}", "/api/v1/runs/{run_id}/stream",
                 "/api/v1/approvals/{wait_id}/approve", "/api/v1/usage",
                 "/api/v1/audit/verify", "/api/v1/keys"):
        assert path in paths, path
    assert "StartRun" in document["components"]["schemas"]


def test_key_secrets_never_reach_the_journal(base: str, keys: dict[str, str], db: Path) -> None:
    operator = as_(base, keys, "operator")
    run = operator.ok("POST", "/runs", {"workflow": "refund-desk", "input": "Refund order A1"})
    operator.wait_for(run["id"], finished)
    operator.ok("POST", f"/runs/{run['id']}/rollback")
    with sqlite3.connect(db) as raw:
        dump = "\n".join(raw.iterdump())
    for secret in keys.values():
        assert secret.split("_", 2)[2] not in dump


def test_metrics_need_a_key_and_keep_to_the_tenant(base: str, keys: dict[str, str]) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    acme = as_(base, keys, "operator")
    run = acme.ok("POST", "/runs", {"workflow": "refund-desk", "input": "Refund order A1"})
    acme.wait_for(run["id"], finished)

    def scrape(who: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        response = httpx.get(f"{base}/metrics", headers={"Authorization": f"Bearer {keys[who]}"})
        assert response.status_code == 200
        return {(s.name, tuple(sorted(s.labels.items()))): s.value
                for family in text_string_to_metric_families(response.text)
                for s in family.samples}

    mine = scrape("viewer")
    completed = [v for (name, labels), v in mine.items()
                 if name == "agentplane_runs" and ("status", "completed") in labels]
    assert completed == [1.0]
    tokens = sum(v for (name, _), v in mine.items() if name == "agentplane_tokens_total")
    events = acme.ok("GET", f"/runs/{run['id']}/events")
    assert tokens == sum((e["usage"] or {}).get("input_tokens", 0)
                         + (e["usage"] or {}).get("output_tokens", 0) for e in events)
    others = scrape("beta viewer")
    assert not any(name == "agentplane_runs" and v > 0 and ("tenant", "acme") in labels
                   for (name, labels), v in others.items())
    assert sum(v for (name, _), v in others.items() if name == "agentplane_tokens_total") == 0


def test_budgets_show_what_is_spent_against_each(base: str, keys: dict[str, str]) -> None:
    operator = as_(base, keys, "operator")
    run = operator.ok("POST", "/runs", {"workflow": "budget-cap", "input": "Go ahead."})
    waiting_run = operator.wait_for(run["id"], waiting)
    assert waiting_run["waits"][0]["kind"] == "budget"
    rows = as_(base, keys, "viewer").ok("GET", "/budgets")
    [row] = [r for r in rows if r["run_id"] == run["id"]]
    assert (row["workflow"], row["budget"], row["unit"], row["limit"]) == (
        "budget-cap", "research-tokens", "tokens", 1500)
    events = operator.ok("GET", f"/runs/{run['id']}/events")
    spent = sum((e["usage"] or {}).get("input_tokens", 0) + (e["usage"] or {}).get(
        "output_tokens", 0) for e in events if e["type"] == "model.completed")
    assert row["spent"] == spent > 0
    assert row["used"] == spent / 1500
    # another tenant sees no row of this run
    assert all(r["run_id"] != run["id"] for r in as_(base, keys, "beta viewer").ok(
        "GET", "/budgets"))
