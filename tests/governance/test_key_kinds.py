"""Messages name a key's role with the right article ("an operator key", never "a operator
key"), in the API's refusals as in the console's."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from agentplane.governance.keys import ROLES, ApiKey, KeyRing
from tests.server.live import live_server

ARTICLE = {"viewer": "a", "operator": "an", "approver": "an", "admin": "an"}


@pytest.mark.parametrize("role", ROLES)
def test_a_key_kind_has_the_right_article(role: str) -> None:
    key = ApiKey(id="k", name="n", role=role, tenant="t", created_at="")  # type: ignore[arg-type]
    assert key.described == f"{ARTICLE[role]} {role} key"


def test_refusals_say_an_operator_key(tmp_path: Path) -> None:
    db = tmp_path / "agentplane.db"
    ring = KeyRing(db)
    secrets = {role: ring.create(role, role=role, tenant="acme")[1] for role in ROLES}
    ring.close()
    with live_server(db, []) as base:
        for role in ("viewer", "operator", "approver"):
            answer = httpx.get(f"{base}/api/v1/keys",
                               headers={"Authorization": f"Bearer {secrets[role]}"})
            assert answer.status_code == 403
            assert answer.json()["error"].startswith(f"{ARTICLE[role]} {role} key may not")
