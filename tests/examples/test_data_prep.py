"""The data-preparation reference app (examples/data-prep): a person approves or refuses each
cleaning step, refused steps are never applied, the report says what changed, and the
rollback restores the original file through each step's compensation."""

from __future__ import annotations

import asyncio
import importlib
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from agentplane.journal import EventType, open_store
from agentplane.tools import ToolContext, ToolError

APP = Path(__file__).resolve().parents[2] / "examples" / "data-prep"


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    folder = tmp_path_factory.mktemp("data-prep")
    env = {**os.environ, "AGENTPLANE_HOME": str(folder)}
    env.pop("AGENTPLANE_DB", None)
    done = subprocess.run([sys.executable, str(APP / "run.py"), "--db", "prep.db", "--work",
                           "work"], cwd=folder, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return folder, done.stdout


def test_refused_steps_stay_unapplied_and_the_report_says_so(
        finished: tuple[Path, str]) -> None:
    _, out = finished
    assert out.count("reviewer approves") == 4
    assert "reviewer refuses drop_rows_missing(email)" in out
    assert "11 rows → 10 (1 removed)" in out  # the duplicate, not the rows without e-mail
    assert "Left as it was (the reviewer refused)" in out
    assert "C-004,David Müller,,DE,2024-05-12" in out  # trimmed, ISO date, ISO country


def test_the_journal_holds_decisions_steps_and_their_compensations(
        finished: tuple[Path, str]) -> None:
    folder, _ = finished

    async def read() -> Counter[str]:
        store = open_store(f"sqlite:///{folder / 'prep.db'}")
        try:
            [run] = await store.list_runs(limit=5)
            return Counter(e.type for e in await store.events(run.id))
        finally:
            await store.close()

    types = asyncio.run(read())
    assert types[EventType.APPROVAL_GRANTED] == 4
    assert types[EventType.APPROVAL_DENIED] == 1
    assert types[EventType.TOOL_COMPENSATED] == 4
    assert types[EventType.ROLLBACK_COMPLETED] == 1


@pytest.fixture
def tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    monkeypatch.setenv("DATA_PREP_DIR", str(tmp_path))
    monkeypatch.syspath_prepend(str(APP))
    monkeypatch.delitem(sys.modules, "tools", raising=False)
    (tmp_path / "c.csv").write_text("id,name,when\n1, A ,01.02.2024\n2,B,2024-02-03\n")
    module = importlib.import_module("tools")
    yield module
    sys.modules.pop("tools", None)


def _context(key: str) -> ToolContext:
    return ToolContext(run_id="r", step_key=key, idempotency_key=key, agent="prep",
                       tool="apply_step", attempt=1)


def test_a_repeated_call_is_not_applied_twice(tools: ModuleType, tmp_path: Path) -> None:
    first = tools.apply_step("c.csv", "trim_whitespace", context=_context("k1"))
    again = tools.apply_step("c.csv", "trim_whitespace", context=_context("k1"))
    assert first == again and first["version"] == 1
    assert len(list(tmp_path.glob("c.csv.v*"))) == 1


def test_undoing_a_step_under_a_later_one_is_refused(tools: ModuleType, tmp_path: Path) -> None:
    original = (tmp_path / "c.csv").read_bytes()
    tools.apply_step("c.csv", "trim_whitespace", context=_context("k1"))
    tools.apply_step("c.csv", "normalise_dates", "when", context=_context("k2"))
    with pytest.raises(ToolError, match="undo the later steps first"):
        tools.revert_step("c.csv", 1)
    tools.revert_step("c.csv", 2)
    tools.revert_step("c.csv", 1)
    assert (tmp_path / "c.csv").read_bytes() == original


def test_bad_input_gets_an_error_that_says_what(tools: ModuleType) -> None:
    with pytest.raises(ToolError, match="plain name"):
        tools.profile_csv("../etc/passwd")
    with pytest.raises(ToolError, match="unknown step 'shuffle'"):
        tools.apply_step("c.csv", "shuffle", context=_context("k3"))
    with pytest.raises(ToolError, match="needs a column"):
        tools.apply_step("c.csv", "normalise_dates", "nope", context=_context("k4"))
