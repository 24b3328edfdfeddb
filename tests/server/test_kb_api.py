"""The knowledge base over REST against a real server on loopback: adding (JSON text,
records, a multipart upload), superseding, search in Chinese and English, removal, roles,
tenants, clear 4xx answers, and the graph routes with a workflow's ontology."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from .live import Api, as_, live_server

REFUND_ZH = ("# 退款政策\n\n## 第3条 大额退款审批\n\n"
             "单笔退款金额超过500元人民币的，须经客服主管批准后方可办理。\n")
CARDS_EN = ("# Data rules\n\n## Rule DP-2: Card numbers\n\nNever ask for, repeat or store a full "
            "payment card number. Refer to a card by its last four digits.\n")


def _add(api: Api, **body: Any) -> dict[str, Any]:
    result: dict[str, Any] = api.ok("POST", "/kb/documents", body)
    return result


def _search(api: Api, q: str, **params: Any) -> list[dict[str, Any]]:
    response = api.get("/kb/search", q=q, **params)
    assert response.status_code == 200, response.text
    passages: list[dict[str, Any]] = response.json()["passages"]
    return passages


def test_documents_are_added_listed_searched_and_removed(base: str, keys: dict[str, str]
                                                         ) -> None:
    operator = as_(base, keys, "operator")
    added = _add(operator, source="refund-policy.zh.md", text=REFUND_ZH, owner="support")
    document = added["document"]
    assert added["added"] >= 1 and not added["unchanged"] and added["superseded"] is None
    assert document["tenant"] == "acme" and document["trust"] == "trusted"
    _add(operator, source="data-rules.md", text=CARDS_EN, trust="untrusted")

    viewer = as_(base, keys, "viewer")
    listed = {d["source"]: d for d in viewer.ok("GET", "/kb/documents")}
    assert set(listed) == {"refund-policy.zh.md", "data-rules.md"}
    assert listed["data-rules.md"]["trust"] == "untrusted"
    assert listed["refund-policy.zh.md"]["owner"] == "support"
    assert listed["refund-policy.zh.md"]["chunks"] == document["chunks"] >= 1

    zh = _search(viewer, "退款超过500元需要谁批准？")
    assert zh[0]["document_id"] == document["id"]
    assert "主管批准" in zh[0]["text"] and zh[0]["score"] > 0 and "lexical" in zh[0]["via"]
    en = _search(viewer, "may I store the full card number?", k=1)
    assert len(en) == 1 and en[0]["source"] == "data-rules.md"
    assert en[0]["trust"] == "untrusted"
    assert _search(viewer, "card number", trust="trusted") == []

    whole = viewer.ok("GET", f"/kb/documents/{document['id']}")
    assert [c["id"] for c in whole["chunk_list"]][:1] == [zh[0]["id"]]

    removed = operator.ok("DELETE", f"/kb/documents/{document['id']}")
    assert removed["chunks_removed"] == document["chunks"]
    assert all(p["source"] != "refund-policy.zh.md" for p in _search(viewer, "退款 批准"))
    assert viewer.get(f"/kb/documents/{document['id']}").status_code == 404


def test_the_same_source_again_is_unchanged_or_supersedes(base: str, keys: dict[str, str]
                                                          ) -> None:
    operator = as_(base, keys, "operator")
    first = _add(operator, source="policy.md", text=CARDS_EN)["document"]
    again = _add(operator, source="policy.md", text=CARDS_EN)
    assert again["unchanged"] and again["document"]["id"] == first["id"]
    changed = _add(operator, source="policy.md",
                   text=CARDS_EN.replace("last four digits", "last four digits only"))
    assert changed["superseded"] == first["id"] and changed["removed"] == first["chunks"]
    current = operator.ok("GET", "/kb/documents", None)
    assert [d["id"] for d in current] == [changed["document"]["id"]]
    history = operator.get("/kb/documents", superseded="true").json()
    assert {d["id"] for d in history} == {first["id"], changed["document"]["id"]}


def test_records_and_uploaded_files(base: str, keys: dict[str, str]) -> None:
    operator = as_(base, keys, "operator")
    rows = [{"sku": "K-100", "name": "Travel kettle", "warranty": "24 months"},
            {"sku": "L-200", "name": "Desk lamp", "warranty": "12 months"}]
    added = _add(operator, source="catalogue", records=rows, key="sku")
    assert added["added"] == 2
    found = _search(operator, "kettle warranty")
    assert found[0]["title"] == "K-100" and "24 months" in found[0]["text"]

    headers = {"Authorization": f"Bearer {keys['operator']}"}
    upload = httpx.post(f"{base}/api/v1/kb/documents", headers=headers,
                        files={"file": ("escalation.md", "# Escalation\n\nA refund above 500 "
                                        "CNY needs a supervisor's approval.", "text/markdown")},
                        data={"owner": "compliance", "trust": "trusted"})
    assert upload.status_code == 201, upload.text
    document = upload.json()["document"]
    assert (document["source"], document["owner"]) == ("escalation.md", "compliance")
    assert document["media_type"] == "text/markdown"
    csv = httpx.post(f"{base}/api/v1/kb/documents", headers=headers,
                     files={"file": ("stock.csv", "sku,shelf\nK-100,A3\n", "text/csv")},
                     data={"source": "warehouse/stock"})
    assert csv.status_code == 201, csv.text
    assert csv.json()["document"]["source"] == "warehouse/stock"
    assert _search(operator, "K-100 shelf", source="warehouse/stock")[0]["text"].count("A3")


def test_clear_errors_for_bad_requests(base: str, keys: dict[str, str]) -> None:
    operator = as_(base, keys, "operator")
    both = operator.post("/kb/documents", {"source": "x", "text": "a", "records": [{"a": 1}]})
    assert both.status_code == 422 and "either 'text' or 'records'" in both.json()["error"]
    extra = operator.post("/kb/documents", {"source": "x", "txt": "a"})
    assert extra.status_code == 422 and "body.txt" in extra.json()["error"]
    trust = operator.post("/kb/documents", {"source": "x", "text": "a", "trust": "maybe"})
    assert trust.status_code == 422 and "body.trust" in trust.json()["error"]
    empty = operator.post("/kb/documents", {"source": "x", "text": "   "})
    assert empty.status_code == 422 and "body.text" in empty.json()["error"]
    neither = operator.post("/kb/documents", {"source": "x"})
    assert neither.status_code == 422 and "either 'text' or 'records'" in neither.json()["error"]
    unreadable = httpx.post(f"{base}/api/v1/kb/documents",
                            headers={"Authorization": f"Bearer {keys['operator']}"},
                            files={"file": ("photo.png", b"\x89PNG\r\n", "image/png")})
    assert unreadable.status_code == 400 and "photo.png" in unreadable.json()["error"]
    no_file = httpx.post(f"{base}/api/v1/kb/documents",
                         headers={"Authorization": f"Bearer {keys['operator']}"},
                         files={"other": ("a.txt", b"x")})
    assert no_file.status_code == 422 and "file" in no_file.json()["error"]
    not_json = httpx.post(f"{base}/api/v1/kb/documents", content=b"{",
                          headers={"Authorization": f"Bearer {keys['operator']}",
                                   "content-type": "application/json"})
    assert not_json.status_code == 422
    assert operator.get("/kb/search").status_code == 422  # no q
    assert operator.get("/kb/search", q="x", k=0).status_code == 422
    vector = operator.get("/kb/search", q="x", mode="vector")  # no embeddings here: skipped
    assert vector.status_code == 200 and vector.json()["modes"] == []
    assert operator.get("/kb/documents/nope").status_code == 404
    no_entity = operator.get("/kb/entities/ACME")
    assert no_entity.status_code == 404 and "no entity 'ACME'" in no_entity.json()["error"]
    assert operator.get("/kb/paths", **{"from": "a"}).status_code == 422  # no 'to'
    assert operator.get("/kb/entities/ACME", hops=9).status_code == 422


def test_roles_and_tenants(base: str, keys: dict[str, str]) -> None:
    operator = as_(base, keys, "operator")
    document = _add(operator, source="acme-only.md", text=CARDS_EN)["document"]
    viewer = as_(base, keys, "viewer")
    refused = viewer.post("/kb/documents", {"source": "v.md", "text": "hello"})
    assert refused.status_code == 403 and "viewer key may not" in refused.json()["error"]
    assert viewer.http.delete(f"/kb/documents/{document['id']}").status_code == 403
    approver = as_(base, keys, "approver")
    assert approver.post("/kb/documents", {"source": "a.md", "text": "x"}).status_code == 403

    beta = as_(base, keys, "beta operator")
    assert beta.ok("GET", "/kb/documents") == []
    assert _search(beta, "card number") == []
    for method in ("GET", "DELETE"):
        other = beta.http.request(method, f"/kb/documents/{document['id']}")
        assert other.status_code == 404, method
        assert other.json()["error"] == "no document " + repr(document["id"])
    assert beta.get("/kb/documents", tenant="acme").status_code == 404

    root = as_(base, keys, "root")  # every tenant: names one, 'default' otherwise
    assert root.ok("GET", "/kb/documents") == []
    assert [d["id"] for d in root.get("/kb/documents", tenant="acme").json()] == [document["id"]]
    made = _add(root, source="beta.md", text=CARDS_EN, tenant="beta")
    assert made["document"]["tenant"] == "beta"
    assert [d["source"] for d in beta.ok("GET", "/kb/documents")] == ["beta.md"]


def test_the_openapi_document_describes_the_kb_routes(base: str, keys: dict[str, str]
                                                      ) -> None:
    document = httpx.get(f"{base}/openapi.json",
                         headers={"Authorization": f"Bearer {keys['viewer']}"}).json()
    paths = document["paths"]
    for path in ("/api/v1/kb/documents", "/api/v1/kb/documents/{document_id}",
                 "/api/v1/kb/search", "/api/v1/kb/entities/{name}",
                 "/api/v1/kb/entities/{name}/facts", "/api/v1/kb/paths"):
        assert path in paths, path
    body = paths["/api/v1/kb/documents"]["post"]["requestBody"]["content"]
    assert set(body) == {"application/json", "multipart/form-data"}
    assert body["application/json"]["schema"]["title"] == "NewDocument"
    assert body["multipart/form-data"]["schema"]["required"] == ["file"]


# -- the graph ------------------------------------------------------------------------------

ONTOLOGY = """\
entity_types:
  Customer: {}
  Product: {}
relation_types:
  bought: {domain: Customer, range: Product}
"""


@pytest.fixture
def graph_base(tmp_path: Path, keys: dict[str, str], db: Path) -> Iterator[str]:
    (tmp_path / "ontology.yaml").write_text(ONTOLOGY)
    from agentplane.knowledge.graph import KnowledgeGraph
    from agentplane.knowledge.ontology import load_ontology
    from agentplane.storage import open_database

    database = open_database(f"sqlite:///{db}")
    graph = KnowledgeGraph(database, load_ontology(tmp_path / "ontology.yaml"))
    for tenant in ("acme", "beta"):
        graph.add_entity(tenant, "Customer", "Li Wei", aliases=("李伟",))
        graph.add_entity(tenant, "Product", "Travel kettle")
        graph.add_relation(tenant, "Li Wei", "bought", "Travel kettle")
    graph.add_entity("acme", "Product", "Desk lamp")
    graph.add_relation("acme", "Li Wei", "bought", "Desk lamp")
    database.close()
    with live_server(db) as url:
        yield url


def test_graph_routes(graph_base: str, keys: dict[str, str]) -> None:
    viewer = as_(graph_base, keys, "viewer")
    around = viewer.ok("GET", "/kb/entities/李伟")
    assert around["entity"]["name"] == "Li Wei" and around["entity"]["type"] == "Customer"
    assert {e["name"] for e in around["entities"]} >= {"Travel kettle", "Desk lamp"}
    facts = viewer.ok("GET", "/kb/entities/Li Wei/facts")
    assert {f["relation"] for f in facts} == {"bought"} and len(facts) == 2
    paths = viewer.get("/kb/paths", **{"from": "Travel kettle", "to": "Desk lamp"}).json()
    assert paths and len(paths[0]) == 2
    assert viewer.get("/kb/entities/Nobody").status_code == 404
    beta = as_(graph_base, keys, "beta viewer")
    assert len(beta.ok("GET", "/kb/entities/Li Wei/facts")) == 1
