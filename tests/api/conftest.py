from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _ledger(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test its own refund ledger and Agentplane home (the default journal)."""
    path = tmp_path / "ledger.jsonl"
    monkeypatch.setenv("DESK_LEDGER", str(path))
    monkeypatch.setenv("AGENTPLANE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("AGENTPLANE_DB", raising=False)
    return path
