"""The console's /triggers page over real HTTP: the triggers with their recent fires, the
enable / disable forms (CSRF like every console form, operators only), and deferred runs with
what deferral saved."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from agentplane.triggers.webhook import sign
from tests.triggers.conftest import write_workflow

from .live import live_server


def test_the_triggers_page_lists_switches_and_shows_savings(
        tmp_path: Path, db: Path, keys: dict[str, str], monkeypatch: pytest.MonkeyPatch
        ) -> None:
    monkeypatch.setenv("HOOK_SECRET", "k")
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    (tmp_path / "prices.json").write_text(json.dumps({"points": [
        {"start": (hour - timedelta(hours=1)).isoformat(), "price": 0.30, "carbon": 400},
        {"start": (hour + timedelta(hours=5)).isoformat(), "price": 0.10, "carbon": 100}]}))
    flow = write_workflow(tmp_path, name="ops", triggers=[
        {"name": "hook", "webhook": {"secret_env": "HOOK_SECRET"}},
        {"name": "daily", "schedule": "0 6 * * *"}])
    later = write_workflow(tmp_path, name="batch", triggers=[],
                           defer={"within": "1h", "signal": "prices.json"})
    with live_server(db, [flow, later]) as url:
        body = b'{"n": 1}'
        sent = httpx.post(f"{url}/hooks/hook", content=body,
                          headers={"X-Agentplane-Signature": sign("k", body),
                                   "X-Agentplane-Delivery": "delivery-77"})
        assert sent.status_code == 202
        run_id = sent.json()["run_id"]
        # a run deferred within 1 h finds no better window: it starts at once, and says so
        httpx.post(f"{url}/api/v1/runs", json={"workflow": "batch", "tenant": "default"},
                   headers={"Authorization": f"Bearer {keys['root']}"}).raise_for_status()
        operator = httpx.Client(base_url=url, cookies={"agentplane_session": keys["root"]})
        html = operator.get("/triggers").text
        assert 'data-trigger="ops/hook" data-enabled="yes"' in html
        assert run_id in html and "delivery-77" in html
        assert "0 6 * * * (UTC, catch-up skip)" in html
        assert "now is already the lowest price" in html
        csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
        assert csrf is not None
        forged = operator.post("/console/triggers/ops/hook/disable", data={"csrf": "0" * 64})
        assert forged.status_code == 403
        assert 'data-trigger="ops/hook" data-enabled="yes"' in operator.get("/triggers").text
        done = operator.post("/console/triggers/ops/hook/disable",
                             data={"csrf": csrf.group(1)}, follow_redirects=False)
        assert done.status_code == 303
        html = operator.get("/triggers").text
        assert 'data-trigger="ops/hook" data-enabled="no"' in html
        viewer = httpx.Client(base_url=url, cookies={"agentplane_session": keys["viewer"]})
        shown = viewer.get("/triggers").text  # tenant acme sees no fires of default
        assert run_id not in shown and 'data-testid="disable"' not in shown
