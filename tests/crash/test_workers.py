"""A fleet of real `agentplane worker` processes sharing one store, killed with SIGKILL at
random instants (and, on PostgreSQL, the database restarted and a worker's connection cut)
while 200 runs with idempotent and irreversible writes and approvals go on.

Every run must end with the output of an uninterrupted run; each payment happens exactly once
(a call cut mid-flight waits for reconciliation, which the test does as a person would); each
reservation keeps one idempotency key; every chain verifies; the runs were spread over the
workers; and the workers left at the end stop cleanly on SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import IO, Any

import pytest

from agentplane.journal import (
    EventType,
    JournalError,
    JournalStore,
    RunExistsError,
    RunRecord,
    open_store,
    verify,
)
from agentplane.runtime import APPROVAL_KINDS, RunStateError, Runtime, Workflow, load_workflow

from .test_sigkill import APPROVAL_PAY_STEPS, PAY_STEPS
from .tools import ledger

HERE = Path(__file__).parent
CLI = str(Path(sys.executable).with_name("agentplane"))
RUNS = int(os.environ.get("AGENTPLANE_FLEET_RUNS", "200"))
WORKERS = 4
KILLS = int(os.environ.get("AGENTPLANE_FLEET_KILLS", "10"))
GUARD_S = 600.0
"""How long the fleet may take before the test gives up (a hang guard, not a measurement)."""
EXPECTED = {"crash-test": ("Checked: two reservations, two payments.", PAY_STEPS),
            "crash-approval": ("Paid 30 and 12.", APPROVAL_PAY_STEPS)}
"""Per workflow: the output of an uninterrupted run, and its payments by step."""
ENDED = frozenset({"completed", "failed", "cancelled"})


class Fleet:
    """The worker processes, started and killed as the test says."""

    def __init__(self, url: str, tmp: Path, rng: random.Random) -> None:
        self.url = url
        self.rng = rng
        self.logs = tmp / "logs"
        self.logs.mkdir()
        self.ledgers = tmp / "ledgers"
        self.ledgers.mkdir()
        self.env = {**os.environ, "CRASH_LEDGER_DIR": str(self.ledgers),
                    "AGENTPLANE_USER": "tester"}
        self.procs: list[subprocess.Popen[bytes]] = []
        self._files: list[IO[bytes]] = []
        self.kills = 0

    def spawn(self) -> None:
        log = (self.logs / f"worker{len(self.procs)}.log").open("wb")
        self._files.append(log)
        self.procs.append(subprocess.Popen(
            [CLI, "worker", "--db", self.url, "--concurrency", "8", "--poll", "0.2",
             "--lease", "5", "--grace", "5"],
            env=self.env, stdout=log, stderr=subprocess.STDOUT))

    @property
    def alive(self) -> list[subprocess.Popen[bytes]]:
        return [p for p in self.procs if p.poll() is None]

    def kill_one(self) -> None:
        """SIGKILL a random worker, and start a replacement."""
        victim = self.rng.choice(self.alive)
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=60)
        self.kills += 1
        self.spawn()

    def stop(self) -> list[int | None]:
        """SIGTERM every live worker once it is up; their exit codes."""
        alive = self.alive
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not all(
                b"SIGTERM" in (self.logs / f"worker{self.procs.index(p)}.log").read_bytes()
                for p in alive):
            time.sleep(0.05)
        for proc in alive:
            proc.send_signal(signal.SIGTERM)
        codes: list[int | None] = []
        for proc in alive:
            try:
                codes.append(proc.wait(timeout=60))
            except subprocess.TimeoutExpired:
                proc.kill()
                codes.append(None)
        return codes

    def close(self) -> None:
        for proc in self.alive:
            proc.kill()
            proc.wait()
        for log in self._files:
            log.close()

    def tail(self) -> str:
        return "\n".join(f"{p.name}: ...{p.read_text()[-1500:]}"
                         for p in sorted(self.logs.iterdir()))


def _effects(run_id: str) -> Counter[str]:
    path = ledger(run_id)
    lines = path.read_text().splitlines() if path.exists() else []
    return Counter(line.split(" ", 1)[1] for line in lines if line.startswith("effect "))


async def _reconcile(runtime: Runtime, run: RunRecord) -> None:
    """What a person does: look at the payment system, then say whether the call happened."""
    last = (await runtime.store.events(run.id))[-1]
    assert last.type == EventType.RUN_NEEDS_RECONCILIATION, last
    step = last.step_key or ""
    await asyncio.sleep(0.2)  # a call cut mid-flight by a lost lease may still be finishing
    happened = _effects(run.id)[f"pay {step}"] > 0
    amount = EXPECTED[run.workflow][1][step]
    with contextlib.suppress(RunStateError):  # settled meanwhile
        await runtime.reconcile(run.id, step_key=step, happened=happened, actor="user:tester",
                                result=f"paid {amount}" if happened else None)


class Chaos:
    """Faults at random instants: worker kills, and the database's own (PostgreSQL)."""

    def __init__(self, fleet: Fleet, rng: random.Random, faults: list[Any]) -> None:
        self.fleet = fleet
        self.rng = rng
        self.faults = faults
        """Callables run once each, between kills (database restart, cut connection)."""
        self.next_at = time.monotonic() + rng.uniform(0.5, 1.5)
        self.log: list[str] = []

    def step(self) -> None:
        if time.monotonic() < self.next_at or (self.fleet.kills >= KILLS and not self.faults):
            return
        if self.faults and (self.fleet.kills >= KILLS or self.rng.random() < 0.25):
            fault = self.faults.pop(0)
            fault()
            self.log.append(getattr(fault, "__name__", "fault"))
        else:
            self.fleet.kill_one()
            self.log.append("kill")
        self.next_at = time.monotonic() + self.rng.uniform(0.3, 1.5)


async def _settle(store: JournalStore, runtime: Runtime, ids: list[str], chaos: Chaos,
                  later: list[tuple[str, Workflow]]) -> Counter[str]:
    """Start the ``later`` runs a few at a time, approve, reconcile and cause faults until
    every run has ended; counts what was done."""
    done: Counter[str] = Counter()
    began = time.monotonic()
    while True:
        chaos.step()
        try:
            for run_id, workflow in later[:4]:
                with contextlib.suppress(RunExistsError):  # created before a lost answer
                    await runtime.start(workflow, None, run_id=run_id)
                later.pop(0)
            for wait in await store.waits(status="open"):
                if wait.kind in APPROVAL_KINDS:
                    with contextlib.suppress(RunStateError):
                        await runtime.decide(wait.id, approve=True, actor="user:tester")
                        done["approved"] += 1
            runs = await store.list_runs(limit=10 * RUNS)
            for run in runs:
                if run.status == "needs_reconciliation":
                    await _reconcile(runtime, run)
                    done["reconciled"] += 1
        except JournalError:  # the database restarts: look again in a moment
            done["journal errors"] += 1
            await asyncio.sleep(0.2)
            continue
        mine = [r for r in runs if r.id in ids]
        if len(mine) == len(ids) and all(r.status in ENDED for r in mine) \
                and chaos.fleet.kills >= KILLS and not chaos.faults:
            return done
        if time.monotonic() - began > GUARD_S:
            states = Counter(r.status for r in mine)
            raise AssertionError(f"runs did not end: {states}\n{chaos.fleet.tail()}")
        await asyncio.sleep(0.1)


def _check_run(run: RunRecord, events: list[Any]) -> str:
    """The invariants of one run; returns the owner of its first drive."""
    output, pays = EXPECTED[run.workflow]
    assert run.status == "completed", (run.id, events[-1])
    assert events[-1].data["output"] == output
    started = Counter(e.step_key for e in events if e.type == EventType.TOOL_STARTED)
    completed = Counter(e.step_key for e in events if e.type == EventType.TOOL_COMPLETED)
    lines = ledger(run.id).read_text().splitlines()
    invoked = Counter(line.split(" ", 2)[2] for line in lines if line.startswith("invoke "))
    failed = {e.step_key: e.data["error"] for e in events if e.type == EventType.TOOL_FAILED}
    for step, count in invoked.items():
        # a tool runs only after its start was journaled, and its outcome is journaled once:
        # completed, or (the database failing just then) a safe call whose result could not be
        # journaled, recorded as failed; never left without a record
        assert count <= started[step], (run.id, step, count, started[step])
        assert completed[step] + (step in failed) == 1, (run.id, step)
        assert completed[step] or "could not be journaled" in failed[step], failed[step]
    effects = _effects(run.id)
    assert {k: v for k, v in effects.items() if k.startswith("pay ")} == \
        {f"pay {step}": 1 for step in pays}, (run.id, effects)
    reserves = {k: v for k, v in effects.items() if k.startswith("reserve ")}
    if run.workflow == "crash-test":
        assert len(reserves) == 2 and set(reserves.values()) == {1}, (run.id, reserves)
        for step in {e.step_key for e in events if e.type == EventType.TOOL_STARTED
                     and e.data["tool"] == "reserve"}:
            keys = {e.data["idempotency_key"] for e in events
                    if e.type == EventType.TOOL_STARTED and e.step_key == step}
            assert len(keys) == 1, (run.id, step, keys)
    else:
        types = [e.type for e in events]
        assert types.count(EventType.APPROVAL_GRANTED) == 2, run.id
    drives = [e.data["worker"] for e in events
              if e.type in (EventType.RUN_STARTED, EventType.RUN_RESUMED)]
    return str(drives[0])


@pytest.fixture(params=["sqlite", "postgresql"])
def fleet_db(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, list[Any]]:
    """The store's URL, and the database faults to cause mid-flight."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'fleet.db'}", []
    pytest.importorskip("agentplane.journal.postgres")
    server = request.getfixturevalue("postgres_server")
    url: str = request.getfixturevalue("postgres_url")
    database = url.rsplit("/", 1)[1].split("?", 1)[0]

    def restart_postgres() -> None:
        server.restart(immediate=True)

    def cut_connections() -> None:
        server.terminate_backends(database)

    return url, [restart_postgres, cut_connections]


@pytest.mark.slow
async def test_a_fleet_of_workers_survives_kills(fleet_db: tuple[str, list[Any]],
                                                 tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "path", list(sys.path))  # loading the workflows extends sys.path
    url, faults = fleet_db
    rng = random.Random(int(os.environ.get("AGENTPLANE_CRASH_SEED", "20261203")))
    fleet = Fleet(url, tmp_path, rng)
    monkeypatch.setenv("CRASH_LEDGER_DIR", str(fleet.ledgers))
    store = open_store(url)
    runtime = Runtime(store)
    workflows = [load_workflow(HERE / "workflow.yaml"), load_workflow(HERE / "approval.yaml")]
    plan = [(f"fleet-{i}", workflows[rng.random() < 1 / 3]) for i in range(RUNS)]
    ids = [run_id for run_id, _ in plan]
    for run_id, workflow in plan[: RUNS // 2]:  # half before the workers start, half after
        await runtime.start(workflow, None, run_id=run_id)
    chaos = Chaos(fleet, rng, list(faults))
    try:
        for _ in range(WORKERS):
            fleet.spawn()
        done = await _settle(store, runtime, ids, chaos, plan[RUNS // 2:])
        codes = fleet.stop()
    finally:
        fleet.close()
    assert codes == [0] * len(codes), fleet.tail()
    owners: Counter[str] = Counter()
    for run_id in ids:
        run = await store.require_run(run_id)
        owners[_check_run(run, await store.events(run_id))] += 1
    report = await verify(store)
    assert report.ok, report
    await runtime.aclose()
    await store.close()
    print(f"\nfleet: {RUNS} runs, {fleet.kills} kills, database faults "
          f"{[f for f in chaos.log if f != 'kill']}, {dict(done)}, "
          f"first drives per worker {sorted(owners.values())}")
    assert fleet.kills == KILLS and not chaos.faults
    assert len(owners) > 1, owners  # the runs were spread over the workers
    asked = sum(2 for _, workflow in plan if workflow.spec.name == "crash-approval")
    assert done["approved"] == asked  # each approval decided once, across every crash
