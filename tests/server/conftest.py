"""Fixtures of the API tests: a SQLite journal with a key per role and tenant, and a live
server on it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from agentplane.governance.keys import ROLES, KeyRing

from .live import live_server


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "agentplane.db"


@pytest.fixture
def keys(db: Path) -> dict[str, str]:
    """A key per role for tenant acme, a viewer and an operator of tenant beta, and an admin
    of every tenant."""
    ring = KeyRing(db)
    made: dict[str, str] = {role: ring.create(f"acme {role}", role=role, tenant="acme")[1]
                            for role in ROLES}
    made["beta viewer"] = ring.create("beta viewer", role="viewer", tenant="beta")[1]
    made["beta operator"] = ring.create("beta operator", role="operator", tenant="beta")[1]
    made["root"] = ring.create("root", role="admin", tenant="*")[1]
    ring.close()
    return made


@pytest.fixture
def base(db: Path, keys: dict[str, str]) -> Iterator[str]:
    with live_server(db) as url:
        yield url
