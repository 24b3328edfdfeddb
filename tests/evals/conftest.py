"""Fixtures of the served evaluations and simulations tests: a SQLite journal file, and a
viewer key for each of two tenants."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentplane.governance.keys import KeyRing


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "agentplane.db"


@pytest.fixture
def keys(db: Path) -> dict[str, str]:
    ring = KeyRing(db)
    made = {"acme": ring.create("acme viewer", role="viewer", tenant="acme")[1],
            "beta": ring.create("beta viewer", role="viewer", tenant="beta")[1]}
    ring.close()
    return made
