"""Messages name a key's role with the right article ("an operator key", never "a operator
key"); tests/server/test_tenancy.py checks the API's refusals say it so."""

from __future__ import annotations

import pytest

from agentplane.governance.keys import ROLES, ApiKey

ARTICLE = {"viewer": "a", "operator": "an", "approver": "an", "admin": "an"}


@pytest.mark.parametrize("role", ROLES)
def test_a_key_kind_has_the_right_article(role: str) -> None:
    key = ApiKey(id="k", name="n", role=role, tenant="t", created_at="")  # type: ignore[arg-type]
    assert key.described == f"{ARTICLE[role]} {role} key"

