"""Size limits, as a class: every way a large value enters the server (a request body, with
or without Content-Length; a run's input through the API or a console form) is refused with a
clear JSON 413/422 or a console message, and what lists and pages show of a large value is a
preview with a link to all of it — never the whole value on every page."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote

import httpx
import pytest

from agentplane.server.limits import Limits

from .live import Api, as_, finished, live_server

LIMITS = Limits(body_bytes=64_000, input_bytes=16_000, preview_chars=100, block_chars=2_000)


@pytest.fixture
def small(db: Path, keys: dict[str, str]) -> Iterator[str]:
    with live_server(db, limits=LIMITS) as url:
        yield url


def test_a_body_over_the_limit_is_413_whatever_its_framing(small: str, keys: dict[str, str]
                                                           ) -> None:
    operator = as_(small, keys, "operator")
    body = b'{"workflow": "refund-desk", "input": "' + b"x" * 70_000 + b'"}'
    sized = operator.http.post("/runs", content=body,
                               headers={"content-type": "application/json"})

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(body), 8_192):
            yield body[start:start + 8_192]

    chunked = operator.http.post("/runs", content=chunks(),
                                 headers={"content-type": "application/json"})
    for response in (sized, chunked):
        assert response.status_code == 413
        assert response.json()["status"] == 413
        assert "62 KiB" in response.json()["error"] or "63 KiB" in response.json()["error"]
    # a console form is a request body like any other
    form = httpx.post(f"{small}/console/runs", data={"workflow": "refund-desk",
                                                     "input": "x" * 70_000},
                      headers={"Authorization": f"Bearer {keys['operator']}"})
    assert form.status_code == 413
    assert operator.ok("GET", "/runs") == []  # nothing was started


def test_an_input_over_the_limit_is_422_naming_the_field(small: str, keys: dict[str, str]
                                                         ) -> None:
    operator = as_(small, keys, "operator")
    big = {"items": ["y" * 1_000] * 20}  # 20 KB of JSON, under the body limit
    response = operator.post("/runs", {"workflow": "refund-desk", "input": big})
    assert response.status_code == 422
    answer = response.json()
    assert answer["problems"][0]["where"] == "body.input"
    assert "limit is 16 KiB" in answer["error"]
    form = httpx.post(f"{small}/console/runs", data={"workflow": "refund-desk",
                                                     "input": "z" * 20_000},
                      headers={"Authorization": f"Bearer {keys['operator']}"})
    assert form.status_code == 303
    assert "limit is 16 KiB" in unquote(form.cookies.get("agentplane_flash") or "")
    assert operator.ok("GET", "/runs") == []


def test_lists_show_a_preview_and_the_run_all_of_it(small: str, keys: dict[str, str]) -> None:
    operator = as_(small, keys, "operator")
    text = "Refund order A1. " + "w" * 10_000
    run = operator.ok("POST", "/runs", {"workflow": "refund-desk", "input": text})
    operator.wait_for(run["id"], finished)
    [listed] = operator.ok("GET", "/runs")
    assert "input" not in listed
    assert listed["input_truncated"] is True
    assert len(listed["input_preview"]) == LIMITS.preview_chars + 1  # and the ellipsis
    assert text.startswith(listed["input_preview"][:-1])
    assert operator.ok("GET", f"/runs/{run['id']}")["input"] == text
    # the console shows part of it, and links to all of it
    cookies = {"agentplane_session": keys["viewer"]}
    page = httpx.get(f"{small}/runs/{run['id']}", cookies=cookies)
    assert page.status_code == 200
    assert text not in page.text
    assert len(page.text) < len(text) + 60_000
    assert 'data-testid="clipped"' in page.text
    link = f"/console/runs/{run['id']}/events/1"
    assert link in page.text
    full = httpx.get(f"{small}{link}", cookies=cookies)
    assert full.status_code == 200 and text in full.text
    listing = httpx.get(f"{small}/runs", cookies=cookies)
    assert "w" * 500 not in listing.text
    assert Api(small, keys["viewer"]).get("/runs").status_code == 200
