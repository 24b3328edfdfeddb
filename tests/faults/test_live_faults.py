"""Fault injection against a live ``agentplane serve`` (a real process on loopback).

Tools raise every kind of ``BaseException``, call ``os._exit``, segfault, hang, and return
lone surrogates and values without a JSON form, while ordinary runs go on in the same server.
Afterwards: the server is still up, every ordinary run completed, every faulty run ended in the
state its tool's declaration calls for, nothing accepted was lost (a restarted server sees it
all), and ``agentplane audit verify`` holds.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.server.live import free_port
from tests.server.test_cli_serve import AGENTPLANE, cli, env

FAULTY = Path(__file__).parent.parent / "runtime" / "faulty.py"
STEADY_RUNS = 12
WAITING = frozenset({"completed", "failed", "cancelled", "needs_reconciliation"})

# name: (tool function, arguments, tool declaration, the run's expected end, what the call shows)
FAULTS: dict[str, tuple[str, dict[str, Any], dict[str, Any], str, str]] = {
    "system-exit": ("raise_kind", {"kind": "SystemExit"}, {"effect": "read"}, "completed",
                    "the tool raised SystemExit"),
    "keyboard-interrupt": ("raise_kind", {"kind": "KeyboardInterrupt"}, {"effect": "read"},
                           "completed", "the tool raised KeyboardInterrupt"),
    "generator-exit": ("raise_kind", {"kind": "GeneratorExit"}, {"effect": "read"},
                       "completed", "the tool raised GeneratorExit"),
    "base-exception": ("raise_kind", {"kind": "BaseException"}, {"effect": "read"},
                       "completed", "the tool raised BaseException: custom"),
    "async-exit": ("async_exit", {}, {"effect": "read"}, "completed", "SystemExit: 4"),
    "exit-write": ("sys_exit", {}, {"effect": "write"}, "needs_reconciliation",
                   "SystemExit: bye"),
    "os-exit": ("hard_exit", {}, {"effect": "read", "isolation": "process"}, "completed",
                "exited with code 7"),
    "segfault": ("segfault", {}, {"effect": "read", "isolation": "process"}, "completed",
                 "killed by signal SIGSEGV"),
    "hang": ("hang", {}, {"effect": "read", "timeout_s": 0.5}, "completed",
             "did not answer within 0.5 s"),
    "hang-write": ("sleepy", {"seconds": 600}, {"effect": "write", "isolation": "process",
                                                "timeout_s": 0.5},
                   "needs_reconciliation", "did not answer within 0.5 s"),
    "surrogate": ("surrogate", {}, {"effect": "write"}, "completed", "bad \ufffd text"),
    "non-json": ("non_json", {}, {"effect": "read"}, "completed", "2026-12-02T17:30:00+00:00"),
    "nan": ("nan", {}, {"effect": "read"}, "completed", "result.values[1] is the float nan"),
}


def write_workflows(folder: Path) -> list[Path]:
    shutil.copy(FAULTY, folder / "faulty.py")
    files = []
    specs: dict[str, dict[str, Any]] = {"steady": {
        "tools": [{"name": "ok", "python": "faulty:ok", "effect": "read"}],
        "script": [{"tool_calls": [{"name": "ok", "arguments": {}}], "latency_ms": 50},
                   {"content": "steady done", "latency_ms": 50}]}}
    for name, (fn, args, decl, _, _) in FAULTS.items():
        specs[name] = {
            "tools": [{"name": fn, "python": f"faulty:{fn}", **decl}],
            "script": [{"tool_calls": [{"name": fn, "arguments": args}]},
                       {"content": "survived"}]}
    for name, spec in specs.items():
        path = folder / f"{name}.yaml"
        path.write_text(yaml.safe_dump({
            "name": name, "tools": spec["tools"],
            "tool_defaults": {"retry": {"attempts": 2, "backoff_s": 0}},
            "agents": [{"name": "a", "tools": [t["name"] for t in spec["tools"]],
                        "script": spec["script"]}],
            "steps": [{"agent": "a"}]}))
        files.append(path)
    return files


def start_server(home: Path, files: list[Path], port: int) -> subprocess.Popen[str]:
    log = (home / f"serve-{port}.log").open("w")
    proc = subprocess.Popen([AGENTPLANE, "serve", *map(str, files), "--port", str(port)],
                            env=env(home), stdout=log, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):  # a bound on the wait, not a timing assertion
        try:
            if httpx.get(f"{base}/api/v1/health").status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError((home / f"serve-{port}.log").read_text())


def wait_all(client: httpx.Client, ids: list[str]) -> dict[str, dict[str, Any]]:
    runs: dict[str, dict[str, Any]] = {}
    for _ in range(1200):  # a bound on the wait, not a timing assertion
        runs = {i: client.get(f"/api/v1/runs/{i}").json() for i in ids}
        if all(r.get("status") in WAITING for r in runs.values()):
            return runs
        time.sleep(0.1)
    raise AssertionError({i: r.get("status") for i, r in runs.items()})


def test_faulty_tools_do_not_take_down_the_server(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    flows = tmp_path / "flows"
    flows.mkdir()
    files = write_workflows(flows)
    secret = cli(home, "keys", "create", "ops", "--role", "operator").stdout.strip()
    headers = {"Authorization": f"Bearer {secret}"}
    port = free_port()
    proc = start_server(home, files, port)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers,
                          timeout=30) as client:
            started: dict[str, str] = {}
            for i in range(STEADY_RUNS // 2):
                started[client.post("/api/v1/runs", json={
                    "workflow": "steady", "input": f"n{i}"}).json()["id"]] = "steady"
            for name in FAULTS:  # faults in the middle of ordinary traffic
                # A lone surrogate in the input: valid JSON (as an escape), not valid UTF-8.
                answer = client.post("/api/v1/runs", content=json.dumps(
                    {"workflow": name, "input": "\udc80 go"}),
                    headers={"content-type": "application/json"})
                assert answer.status_code == 201, answer.text
                started[answer.json()["id"]] = name
            for i in range(STEADY_RUNS // 2, STEADY_RUNS):
                started[client.post("/api/v1/runs", json={
                    "workflow": "steady", "input": f"n{i}"}).json()["id"]] = "steady"
            runs = wait_all(client, list(started))
            assert proc.poll() is None, "the server died"
            assert client.get("/api/v1/health").status_code == 200
            for run_id, name in started.items():
                if name == "steady":
                    assert runs[run_id]["status"] == "completed", runs[run_id]
                    continue
                expected_status, shown = FAULTS[name][3], FAULTS[name][4]
                assert runs[run_id]["status"] == expected_status, (name, runs[run_id])
                events = client.get(f"/api/v1/runs/{run_id}/events").json()
                assert shown in str(events), (name, events)
            verified = client.get("/api/v1/audit/verify").json()
            assert verified["ok"] and verified["runs"] >= len(started), verified
    finally:
        proc.terminate()
        proc.wait(30)
    # Nothing lost: a restarted server has every run accepted, in the same state.
    port = free_port()
    proc = start_server(home, files, port)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers,
                          timeout=30) as client:
            again = {i: client.get(f"/api/v1/runs/{i}").json()["status"] for i in started}
        assert again == {i: r["status"] for i, r in runs.items()}
    finally:
        proc.terminate()
        proc.wait(30)
    verify = cli(home, "audit", "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "Traceback" not in (home / f"serve-{port}.log").read_text()
