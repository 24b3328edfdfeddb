"""``agentplane worker`` as a process: it drives runs as they come, two of them share the
work, and SIGTERM stops one cleanly (exit 0) with its leases handed back."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agentplane.journal import EventType, open_store
from agentplane.runtime import Runtime, load_workflow

from .harness import AGENTPLANE, Cli

CRASH = Path(__file__).parents[1] / "crash"
GUARD_S = 60.0
"""How long a test waits for what must happen much sooner (a hang guard, not a measurement)."""


def _worker(cli: Cli, *args: str) -> subprocess.Popen[str]:
    env = {**cli.env(), "CRASH_LEDGER_DIR": str(cli.home)}
    return subprocess.Popen([AGENTPLANE, "worker", *args], env=env, cwd=cli.home, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _wait_for_line(proc: subprocess.Popen[str], text: str) -> str:
    """Read the worker's output until a line with ``text``; returns what was read."""
    assert proc.stdout is not None
    seen = ""
    deadline = time.monotonic() + GUARD_S
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        seen += line
        if text in line:
            return seen
        if not line and proc.poll() is not None:
            break
    raise AssertionError(f"the worker never said {text!r}; stderr: {proc.communicate()[1]}")


def _stop(proc: subprocess.Popen[str]) -> tuple[str, str]:
    """SIGTERM; the rest of the output (read from the same buffered files ``_wait_for_line``
    read from: ``communicate`` would skip what they hold already) and stderr."""
    assert proc.stdout is not None and proc.stderr is not None
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=GUARD_S)
    return proc.stdout.read(), proc.stderr.read()


async def _start(cli: Cli, workflow: Path, count: int) -> list[str]:
    store = open_store(cli.db_url)
    runtime = Runtime(store)
    try:
        return [(await runtime.start(load_workflow(workflow), None)).id for _ in range(count)]
    finally:
        await runtime.aclose()
        await store.close()


async def _statuses(cli: Cli, run_ids: list[str]) -> set[str | None]:
    store = open_store(cli.db_url)
    try:
        return {await store.run_status(r) for r in run_ids}
    finally:
        await store.close()


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    monkeypatch.setattr(sys, "path", list(sys.path))  # loading a workflow extends sys.path
    monkeypatch.setenv("CRASH_LEDGER_DIR", str(tmp_path))
    return Cli(home=tmp_path, db=tmp_path / "journal.db")


async def test_two_workers_share_the_runs_and_stop_cleanly_on_sigterm(cli: Cli) -> None:
    ids = await _start(cli, CRASH / "workflow.yaml", 12)
    workers = [_worker(cli, "--concurrency", "2", "--poll", "0.1") for _ in range(2)]
    said = [_wait_for_line(proc, "SIGTERM or Ctrl-C stops it") for proc in workers]
    more = await _start(cli, CRASH / "workflow.yaml", 4)  # taken while they run
    deadline = time.monotonic() + GUARD_S
    while await _statuses(cli, ids + more) != {"completed"}:
        assert time.monotonic() < deadline, await _statuses(cli, ids + more)
        time.sleep(0.05)
    outputs = []
    for proc, before in zip(workers, said, strict=True):
        out, err = _stop(proc)
        assert proc.returncode == 0, err
        assert "worker stopped" in out
        outputs.append(before + out)
    drove = [sum(1 for run_id in ids + more if f"{run_id} (crash-test) → completed" in out)
             for out in outputs]
    assert sum(drove) == 16 and min(drove) > 0, (drove, outputs)


async def test_sigterm_mid_run_hands_the_lease_back(cli: Cli) -> None:
    [run_id] = await _start(cli, CRASH / "approval.yaml", 1)  # waits for a person: ends fast
    ids = await _start(cli, CRASH / "workflow.yaml", 3)
    proc = _worker(cli, "--concurrency", "4", "--poll", "0.1", "--grace", "0")
    _wait_for_line(proc, "→")  # it drove something; some runs may still be going
    out, err = _stop(proc)
    assert "worker stopped" in out
    assert proc.returncode == 0, err
    store = open_store(cli.db_url)
    try:
        for rid in [run_id, *ids]:
            record = await store.require_run(rid)
            assert record.lease_owner is None, (rid, record.status)  # none left behind
        events = await store.events(run_id)
        assert events[-1].type == EventType.RUN_WAITING
    finally:
        await store.close()
    once = cli("worker", "--once")  # a second worker finishes what was cut ...
    statuses = await _statuses(cli, ids)
    # ... except a payment cut mid-call: never repeated silently, it waits for a person
    assert statuses <= {"completed", "needs_reconciliation"}, statuses
    assert once.returncode == (1 if "needs_reconciliation" in statuses else 0), once.stderr
    assert os.path.exists(cli.home / f"{ids[0]}.txt")
