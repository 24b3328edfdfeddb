"""Kill a real `agentplane run` process with SIGKILL at random instants, resume, and check that
the result equals an uninterrupted run with no side effect lost and none performed twice."""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).parent
CLI = str(Path(sys.executable).with_name("agentplane"))
KILLS = int(os.environ.get("AGENTPLANE_CRASH_KILLS", "30"))
PAY_STEPS = {"s0/clerk/m3/t0": 30, "s0/clerk/m4/t0": 12}
"""The payments of workflow.yaml, by step."""
APPROVAL_PAY_STEPS = {"s0/clerk/m2/t0": 30, "s0/clerk/m2/t1": 12}
"""The payments of approval.yaml, by step."""


class Harness:
    def __init__(self, tmp: Path) -> None:
        self.db = f"sqlite:///{tmp / 'crash.db'}"
        self.ledger = tmp / "ledger.txt"
        self.env = {**os.environ, "CRASH_LEDGER": str(self.ledger), "AGENTPLANE_USER": "tester"}

    def start(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen([CLI, *args, "--db", self.db], env=self.env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def call(self, *args: str) -> Any:
        done = subprocess.run([CLI, *args, "--db", self.db, "--json"], env=self.env, text=True,
                              capture_output=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    def show(self, run_id: str) -> dict[str, Any] | None:
        done = subprocess.run([CLI, "runs", "show", run_id, "--db", self.db, "--json"],
                              env=self.env, text=True, capture_output=True, timeout=120)
        if done.returncode == 3:  # no such run: the kill came before it was created
            return None
        assert done.returncode == 0, done.stderr
        result: dict[str, Any] = json.loads(done.stdout)
        return result

    def ledger_lines(self) -> list[str]:
        return self.ledger.read_text().splitlines() if self.ledger.exists() else []

    def kill_at_random(self, proc: subprocess.Popen[str], horizon: float, rng: random.Random
                       ) -> None:
        time.sleep(rng.uniform(0, horizon))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)

    def kill_while_active(self, proc: subprocess.Popen[str], run_id: str, active: float,
                          rng: random.Random) -> None:
        """Wait until the run is in the journal, then kill at a random instant of its work."""
        path = self.db.removeprefix("sqlite:///")
        deadline = time.monotonic() + 60
        while proc.poll() is None and time.monotonic() < deadline:
            if Path(path).exists():
                with contextlib.closing(sqlite3.connect(path, timeout=5)) as db:
                    try:
                        if db.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone():
                            break
                    except sqlite3.OperationalError:
                        pass  # tables not created yet
            time.sleep(0.002)
        self.kill_at_random(proc, active, rng)

    def reconcile(self, run: dict[str, Any]) -> None:
        """Do what a person would: look at the payment system, then say what happened."""
        step = run["events"][-1]["step_key"]
        happened = f"effect pay {step}" in self.ledger_lines()
        args = ["runs", "reconcile", run["id"], "--step", step, "--no-resume"]
        if happened:
            amount = {**PAY_STEPS, **APPROVAL_PAY_STEPS}[step]
            args += ["--happened", "--result", json.dumps(f"paid {amount}")]
        else:
            args += ["--not-happened"]
        self.call(*args)

    def approve_all(self) -> int:
        """A person approves every pending approval (without resuming: a worker will)."""
        pending = self.call("approvals", "list")
        for approval in pending:
            self.call("approvals", "approve", approval["id"], "--no-resume", "--reason", "ok")
        return len(pending)

    def drive_to_end(self, run_id: str, rng: random.Random, horizon: float,
                     workflow: str = "workflow.yaml") -> dict[str, Any]:
        for _ in range(50):
            run = self.show(run_id)
            if run is None:  # killed before the run existed: start it again, as a user would
                # ... and kill it only once the run exists: on a loaded machine the CLI may take
                # longer than the horizon to start, and the run would never be created.
                self.kill_while_active(self.start("run", str(HERE / workflow),
                                                  "--run-id", run_id), run_id, horizon, rng)
                continue
            if run["status"] in ("completed", "failed", "cancelled"):
                return run
            if run["status"] == "needs_reconciliation":
                self.reconcile(run)
            if run["status"] == "waiting":
                assert self.approve_all() >= 1
            proc = self.start("resume")
            if rng.random() < 0.3:  # sometimes the recovery itself is killed too
                self.kill_at_random(proc, horizon, rng)
            else:
                proc.wait(timeout=120)
        raise AssertionError(f"run {run_id} did not finish")


def _check_invariants(run: dict[str, Any], lines: list[str], baseline: str) -> list[str]:
    assert run["status"] == "completed", run["events"][-1]
    assert run["output"] == baseline
    events = run["events"]
    started = Counter(e["step_key"] for e in events if e["type"] == "tool.started")
    completed = Counter(e["step_key"] for e in events if e["type"] == "tool.completed")
    invoked = Counter(line.split(" ", 2)[2] for line in lines if line.startswith("invoke "))
    for step, count in invoked.items():
        # A tool runs only after its start was journaled, and never after its completion.
        assert count <= started[step], (step, count, started[step])
        assert completed[step] == 1, step
    effects = Counter(line.split(" ", 1)[1] for line in lines if line.startswith("effect "))
    pays = {k: v for k, v in effects.items() if k.startswith("pay ")}
    assert pays == {f"pay {step}": 1 for step in PAY_STEPS}, pays
    reserves = [k for k in effects if k.startswith("reserve ")]
    assert len(reserves) == 2 and all(effects[k] == 1 for k in reserves)
    return [e["type"] for e in events]


@pytest.mark.slow
def test_sigkill_at_random_instants(tmp_path: Path) -> None:
    rng = random.Random(int(os.environ.get("AGENTPLANE_CRASH_SEED", "20261122")))
    base = Harness(tmp_path / "baseline")
    (tmp_path / "baseline").mkdir()
    began = time.perf_counter()
    proc = base.start("run", str(HERE / "workflow.yaml"), "--run-id", "baseline", "--json")
    out, err = proc.communicate(timeout=120)
    horizon = (time.perf_counter() - began) * 1.1
    assert proc.returncode == 0, err
    baseline_run = json.loads(out)
    baseline = baseline_run["output"]
    stamps = [datetime.fromisoformat(e["time"]) for e in baseline_run["events"]]
    active = (stamps[-1] - stamps[0]).total_seconds() * 1.1
    assert baseline == "Checked: two reservations, two payments."

    outcomes: Counter[str] = Counter()
    for i in range(KILLS):
        folder = tmp_path / f"kill{i}"
        folder.mkdir()
        h = Harness(folder)
        run_id = f"crash-{i}"
        proc = h.start("run", str(HERE / "workflow.yaml"), "--run-id", run_id)
        if rng.random() < 0.2:  # anywhere, start-up included
            h.kill_at_random(proc, horizon, rng)
        else:  # somewhere in the run's own work
            h.kill_while_active(proc, run_id, active, rng)
        first = h.show(run_id)
        outcomes[first["status"] if first else "not created"] += 1
        final = h.drive_to_end(run_id, rng, horizon)
        types = _check_invariants(final, h.ledger_lines(), baseline)
        outcomes["reconciled"] += types.count("run.reconciled")
        audit = subprocess.run([CLI, "audit", "verify", "--db", h.db], capture_output=True,
                               text=True, env=h.env)
        assert audit.returncode == 0, audit.stdout
    print(f"\ncrash test: {KILLS} kills, states right after the kill: {dict(outcomes)}")
    # The kills must have landed in different places for the test to mean anything.
    assert outcomes["running"] + outcomes["pending"] >= KILLS // 2, outcomes


@pytest.mark.slow
def test_sigkill_around_approvals(tmp_path: Path) -> None:
    """Runs wait for two approvals at once; the run and every resume are killed at random.

    Each payment must happen exactly once, only after its approval, and both approvals must be
    kept across every crash.
    """
    rng = random.Random(int(os.environ.get("AGENTPLANE_CRASH_SEED", "20261122")) + 1)
    kills = max(6, KILLS // 3)
    for i in range(kills):
        folder = tmp_path / f"approval{i}"
        folder.mkdir()
        h = Harness(folder)
        run_id = f"approval-{i}"
        h.kill_at_random(h.start("run", str(HERE / "approval.yaml"), "--run-id", run_id),
                         1.5, rng)
        final = h.drive_to_end(run_id, rng, 1.0, workflow="approval.yaml")
        assert final["status"] == "completed", final["events"][-1]
        assert final["output"] == "Paid 30 and 12."
        types = [e["type"] for e in final["events"]]
        assert types.count("approval.requested") == 2
        assert types.count("approval.granted") == 2
        lines = h.ledger_lines()
        effects = Counter(line.split(" ", 1)[1] for line in lines if line.startswith("effect "))
        assert effects == {f"pay {step}": 1 for step in APPROVAL_PAY_STEPS}, effects
        for event in final["events"]:  # no payment started before its approval was granted
            if event["type"] == "tool.started" and event["data"]["tool"] == "pay":
                granted = [e["seq"] for e in final["events"] if e["type"] == "approval.granted"
                           and e["step_key"] == f"{event['step_key']}/approval"]
                assert granted and granted[0] < event["seq"]
