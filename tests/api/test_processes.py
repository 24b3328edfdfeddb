"""A run started from Python in one process resumes in another, which finds the tools by the
``module:function`` that ``@tool`` recorded (never by pickling, never through the first
process's memory)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from . import desk

ROOT = Path(__file__).resolve().parents[2]


def _python(code: str, cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, cwd=cwd, env={**os.environ, **(env or {})}, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


APPROVE = """\
    import asyncio, json, sys
    from agentplane import Runtime

    async def main() -> None:
        async with Runtime(sys.argv[1] if len(sys.argv) > 1 else {db!r}) as rt:
            waiting = (await rt.result({run_id!r})).waiting
            done = await rt.approve(waiting[0].id)
            print(json.dumps({{"status": done.status, "output": done.output}}))

    asyncio.run(main())
    """


def test_a_module_tool_resumes_in_another_process(tmp_path: Path) -> None:
    db = str(tmp_path / "runs.db")
    run_id = _python(f"""\
        from tests.api import desk
        result = desk.careful.run_sync("Refund order A1", db={db!r})
        assert result.status == "waiting", result
        print(result.run_id)
        """, cwd=ROOT)
    assert desk.ledger() == []
    # another process, another folder: nothing of the first is on its path
    out = json.loads(_python(APPROVE.format(db=db, run_id=run_id), cwd=tmp_path,
                             env={"PYTHONPATH": ""}))
    assert out == {"status": "completed", "output": "Refunded 20 on order A1."}
    assert [e["order_id"] for e in desk.ledger()] == ["A1"]


SCRIPT = """\
    import json, os, sys
    from agentplane import Agent, Workflow, tool

    @tool(effect="write")
    def send_note(text: str) -> str:
        \"\"\"Write a note to the notes file.\"\"\"
        with open(os.environ["NOTES"], "a") as f:
            f.write(text + "\\n")
        return "sent"

    writer = Agent("writer", tools=[send_note], script=[
        {"tool_calls": [{"name": "send_note", "arguments": {"text": "hello"}}]}, "Sent."])
    flow = Workflow("notes", steps=[writer], autonomy="in_the_loop")

    if __name__ == "__main__":
        result = flow.run_sync("Send a note", db=sys.argv[1])
        print(result.run_id)
    """


def test_a_script_tool_resumes_in_another_process(tmp_path: Path) -> None:
    script = tmp_path / "scripts" / "notes_flow.py"
    script.parent.mkdir()
    script.write_text(textwrap.dedent(SCRIPT))
    db, notes = str(tmp_path / "runs.db"), tmp_path / "notes.txt"
    done = subprocess.run([sys.executable, str(script), db], capture_output=True, text=True,
                          cwd=tmp_path, env={**os.environ, "NOTES": str(notes)}, timeout=120)
    assert done.returncode == 0, done.stderr
    run_id = done.stdout.strip()
    assert not notes.exists()
    out = json.loads(_python(APPROVE.format(db=db, run_id=run_id), cwd=tmp_path,
                             env={"NOTES": str(notes)}))
    assert out == {"status": "completed", "output": "Sent."}
    # the script's `if __name__ == "__main__"` part did not run again in the second process
    assert notes.read_text() == "hello\n"
