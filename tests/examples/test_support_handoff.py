"""The support hand-off reference app (examples/support-handoff): the assistant hands over only
after the remote steps failed, the summary reaches a person in the inbox before any ticket
exists, every fact in it comes from a tool result, and the customer is told who takes over."""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agentplane.journal import EventType, open_store

APP = Path(__file__).resolve().parents[2] / "examples" / "support-handoff"


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    folder = tmp_path_factory.mktemp("handoff")
    env = {**os.environ, "AGENTPLANE_HOME": str(folder)}
    env.pop("AGENTPLANE_DB", None)
    done = subprocess.run([sys.executable, str(APP / "run.py"), "--db", "desk.db"], cwd=folder,
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return folder, done.stdout


def test_the_person_sees_the_summary_and_the_customer_who_takes_over(
        finished: tuple[Path, str]) -> None:
    folder, out = finished
    assert "error_codes: ['E17', 'E42']" in out
    [ticket] = [json.loads(line) for line in (folder / "handoff-queue.jsonl").read_text()
                .splitlines()]
    assert ticket["device"].endswith("SP-88-0412") and ticket["queue"] == "tier-2"
    assert f"({ticket['ticket']})" in out.split("To the customer")[1]


def test_the_hand_off_waited_for_a_person_after_the_failed_steps(
        finished: tuple[Path, str]) -> None:
    folder, _ = finished

    async def events() -> list[tuple[str, str]]:
        store = open_store(f"sqlite:///{folder / 'desk.db'}")
        try:
            [run] = await store.list_runs(limit=5)
            return [(e.type, str(e.data.get("tool") or "")) for e in await store.events(run.id)]
        finally:
            await store.close()

    seen = asyncio.run(events())
    asked = seen.index((EventType.APPROVAL_REQUESTED, "hand_off"))
    granted = next(i for i, (t, _) in enumerate(seen) if t == EventType.APPROVAL_GRANTED)
    filed = seen.index((EventType.TOOL_COMPLETED, "hand_off"))
    steps = [i for i, e in enumerate(seen) if e == (EventType.TOOL_COMPLETED, "run_setup_step")]
    assert len(steps) == 3 and max(steps) < asked < granted < filed


def test_a_summary_with_a_claim_no_tool_returned_is_caught(monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    monkeypatch.syspath_prepend(str(APP))
    for name in ("tools", "support_handoff", "run"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    app = importlib.import_module("run")
    seen = [{"step": "update_firmware", "error_code": "E42"}, {"serial": "SP-88-0412"}]
    summary = {"error_codes": ["E42", "E99"], "steps_tried": ["update_firmware: E42"],
               "device": "Aria SP-88-0412"}
    assert app.unsupported(summary, seen) == ["E99"]
    for name in ("tools", "support_handoff", "run"):
        sys.modules.pop(name, None)
