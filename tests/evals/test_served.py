"""Stored evaluations over REST and on the console's Evaluations page, from a real server on
loopback: the list, one evaluation's cases with its comparison, tenants kept apart, sign-in
required."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from agentplane.evals.evaluate import Evaluation, evaluate
from agentplane.evals.spec import Dataset
from agentplane.evals.store import EvalStore
from agentplane.journal import open_store
from tests.server.live import Api, live_server

from .desk import SLOPPY, desk, runtime

CASES = Dataset.model_validate({"name": "desk", "cases": [
    {"id": "looks-up", "input": "refund A1", "expect": {"tool_calls": [{"name": "lookup_order"}]}},
    {"id": "refunds", "input": "refund A1", "expect": {"contains": "Refunded"}}]})


@pytest.fixture
async def evaluations(db: Path, keys: dict[str, str]) -> dict[str, Evaluation]:
    store = open_store(f"sqlite:///{db}")
    engine, _ = runtime(store)
    try:
        before = await evaluate(engine, desk(), CASES, tenant="acme")
        after = await evaluate(engine, desk(SLOPPY), CASES, tenant="acme",
                               compared_to=before.id)
        beta = await evaluate(engine, desk(), CASES, tenant="beta")
    finally:
        await engine.aclose()
    results = EvalStore(store.database)
    for e in (before, after, beta):
        results.save(e)
    results.close()
    await store.close()
    return {"before": before, "after": after, "beta": beta}


@pytest.fixture
def base(db: Path, evaluations: dict[str, Evaluation]) -> Iterator[str]:
    with live_server(db, worker=False) as url:
        yield url


def test_the_rest_api_lists_and_shows_evaluations(base: str, keys: dict[str, str],
                                                  evaluations: dict[str, Evaluation]) -> None:
    acme = Api(base, keys["acme"])
    listed = acme.ok("GET", "/evals")
    assert {e["id"] for e in listed} == {evaluations["after"].id, evaluations["before"].id}
    assert all(e["tenant"] == "acme" for e in listed)
    shown = acme.ok("GET", f"/evals/{evaluations['after'].id}")
    assert shown["summary"] == evaluations["after"].summary()
    assert [c["case_id"] for c in shown["cases"]] == ["looks-up", "refunds"]
    assert shown["comparison"]["newly_failing"] == ["looks-up"]
    assert shown["comparison"]["baseline"] == evaluations["before"].id
    assert acme.ok("GET", f"/evals/{evaluations['before'].id}")["comparison"] is None
    beta_id = evaluations["beta"].id
    other = acme.get(f"/evals/{beta_id}")
    missing = acme.get("/evals/eval-nothing")
    assert other.status_code == missing.status_code == 404
    assert beta_id in other.text and "no evaluation" in other.text
    assert Api(base, None).get("/evals").status_code == 401
    assert [e["id"] for e in Api(base, keys["beta"]).ok("GET", "/evals")] == [beta_id]


def test_the_console_page_lists_evaluations_and_shows_the_diff(
        base: str, keys: dict[str, str], evaluations: dict[str, Evaluation]) -> None:
    with httpx.Client(base_url=base, timeout=30) as browser:
        assert "/login" in str(browser.get("/evals", follow_redirects=True).url)
        signed = browser.post("/login", data={"key": keys["acme"], "next": "/evals"},
                              headers={"Origin": base}, follow_redirects=True)
        assert signed.status_code == 200, signed.text
        listing = signed.text
        assert 'data-testid="evals"' in listing
        assert evaluations["after"].id in listing and evaluations["before"].id in listing
        assert evaluations["beta"].id not in listing
        page = browser.get(f"/evals/{evaluations['after'].id}")
        assert page.status_code == 200
        assert 'data-case="looks-up" data-passed="no"' in page.text
        assert 'data-case="refunds" data-passed="yes"' in page.text
        assert 'data-testid="newly-failing">looks-up<' in page.text
        assert f'href="/runs/{evaluations["after"].cases[0].run_id}"' in page.text
        assert browser.get(f"/evals/{evaluations['beta'].id}").status_code == 404
        assert browser.get("/evals/eval-nothing").status_code == 404
