"""The API under load on loopback: readers listing and opening runs, streams following every
event, while runs execute.

A real ``agentplane serve`` process (demo workflows, SQLite) serves; this process is the load:
``readers`` clients each make ``requests`` reads (list runs, open a run, its events), ``streams``
clients follow ``/api/v1/events/stream``, and ``runs`` runs are started meanwhile. Reported: p50
/ p99 read latency, errors, and events lost on the streams (every stream must see every event of
every run started after it connected). Baseline, same run: the same reads with no other load.

Run: .venv/bin/python bench/api_load.py [--readers 150 --streams 50 --runs 100]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import socket
import subprocess
import sys
import time
from multiprocessing.connection import Connection
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))

from _common import Figure, print_figures, scratch
from agentplane.demo import WORKFLOWS_DIR
from agentplane.governance.keys import KeyRing

WORKFLOWS = ("refund-desk", "research-team", "support-handoff", "incident-triage")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start_server(db: Path, port: int, workers: int) -> list[subprocess.Popen[bytes]]:
    """``agentplane serve``; with ``workers`` > 0 it only serves, and that many
    ``agentplane worker`` processes drive the runs (the scale-out layout)."""
    agentplane = str(Path(sys.executable).with_name("agentplane"))
    files = [str(WORKFLOWS_DIR / f"{name}.yaml") for name in WORKFLOWS]
    env = {**os.environ, "AGENTPLANE_HOME": str(db.parent)}
    url = f"sqlite:///{db}"
    serve = [agentplane, "serve", *files, "--port", str(port), "--db", url]
    if workers:
        serve.append("--no-worker")
    processes = [subprocess.Popen(serve, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  env=env)]
    processes += [subprocess.Popen([agentplane, "worker", "--db", url, "--poll", "0.1"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                   env=env) for _ in range(workers)]
    return processes


async def wait_up(base: str) -> None:
    async with httpx.AsyncClient() as http:
        for _ in range(300):
            try:
                if (await http.get(f"{base}/api/v1/health")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("the server did not come up")


async def reader(http: httpx.AsyncClient, requests: int, run_ids: list[str],
                 latencies: list[float], errors: list[str], interval: float = 0.0,
                 phase: float = 0.0) -> None:
    """``requests`` reads, one every ``interval`` seconds (a person's console refreshing; 0 =
    back to back), rotating over: list runs, open a run, its events. ``phase`` (0–1) spreads
    the readers over the interval, as people's refreshes are, instead of all at once."""
    await asyncio.sleep(phase * interval)
    for i in range(requests):
        if i % 3 == 0 or not run_ids:
            path = "/api/v1/runs?limit=50"
        elif i % 3 == 1:
            path = f"/api/v1/runs/{run_ids[i % len(run_ids)]}"
        else:
            path = f"/api/v1/runs/{run_ids[i % len(run_ids)]}/events"
        t = time.perf_counter()
        try:
            response = await http.get(path)
            if response.status_code != 200:
                errors.append(f"{path}: {response.status_code}")
        except httpx.HTTPError as exc:
            errors.append(f"{path}: {exc!r}")
        took = time.perf_counter() - t
        latencies.append(took)
        if interval:
            await asyncio.sleep(max(0.0, interval - took))


async def stream(http: httpx.AsyncClient, seen: set[tuple[str, int]], connected: asyncio.Event,
                 errors: list[str]) -> None:
    """Follow the event stream until cancelled, noting every (run, seq) seen."""
    try:
        async with http.stream("GET", "/api/v1/events/stream", timeout=None) as response:
            connected.set()
            async for line in response.aiter_lines():
                if line.startswith("data:"):
                    event = json.loads(line[5:])
                    seen.add((event["run_id"], event["seq"]))
    except httpx.HTTPError as exc:
        errors.append(f"stream: {exc!r}")
        connected.set()


def _follow(base: str, key: str, streams: int, conn: Connection) -> None:
    """The stream clients' process: connect, say "ready", answer "counts", and on "stop" send
    what each stream saw."""

    async def main() -> None:
        seen = [set[tuple[str, int]]() for _ in range(streams)]
        errors: list[str] = []
        flags = [asyncio.Event() for _ in range(streams)]
        async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {key}"},
                                     limits=httpx.Limits(max_connections=streams + 5)) as http:
            tasks = [asyncio.create_task(stream(http, seen[i], flags[i], errors))
                     for i in range(streams)]
            await asyncio.gather(*(f.wait() for f in flags))
            conn.send("ready")
            while True:
                if not conn.poll():
                    await asyncio.sleep(0.05)
                    continue
                if conn.recv() == "counts":
                    conn.send([len(s) for s in seen])
                    continue
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                conn.send(([sorted(s) for s in seen], errors))
                return

    asyncio.run(main())


class Followers:
    """Stream clients in a process of their own, so parsing 100k events does not slow the
    readers whose latency is measured."""

    def __init__(self, base: str, key: str, streams: int) -> None:
        self._conn, child = multiprocessing.get_context("spawn").Pipe()
        self._process = multiprocessing.get_context("spawn").Process(
            target=_follow, args=(base, key, streams, child), daemon=True)

    def start(self) -> None:
        self._process.start()
        assert self._conn.recv() == "ready"

    def counts(self) -> list[int]:
        self._conn.send("counts")
        counts: list[int] = self._conn.recv()
        return counts

    def stop(self) -> tuple[list[set[tuple[str, int]]], list[str]]:
        self._conn.send("stop")
        seen, errors = self._conn.recv()
        self._process.join(30)
        return [{(r, q) for r, q in s} for s in seen], errors


async def measure_reads(base: str, key: str, run_ids: list[str], n: int) -> list[float]:
    latencies: list[float] = []
    errors: list[str] = []
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {key}"},
                                 timeout=60) as http:
        await reader(http, n, run_ids, latencies, errors)
    if errors:
        raise RuntimeError(f"baseline reads failed: {errors[:3]}")
    return latencies


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def load(base: str, key: str, readers: int, streams: int, runs: int, requests: int,
               interval: float) -> dict[str, float]:
    headers = {"Authorization": f"Bearer {key}"}
    limits = httpx.Limits(max_connections=readers + streams + 20)
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60,
                                 limits=limits) as http:
        # a few runs to read while the load runs, then the unloaded baseline
        warm = [(await http.post("/api/v1/runs", json={"workflow": w, "input": "Refund A1"})
                 ).json()["id"] for w in WORKFLOWS]
        await asyncio.sleep(1.0)
        baseline = await measure_reads(base, key, warm, 150)

        errors: list[str] = []
        followers = Followers(base, key, streams)
        await asyncio.to_thread(followers.start)
        await asyncio.sleep(0.3)  # the streams are subscribed before the first run starts
        latencies: list[float] = []
        started: list[str] = []

        async def starter() -> None:
            for i in range(runs):
                response = await http.post("/api/v1/runs", json={
                    "workflow": WORKFLOWS[i % len(WORKFLOWS)], "input": "Refund order A1"})
                if response.status_code != 201:
                    errors.append(f"start: {response.status_code}")
                    continue
                started.append(response.json()["id"])

        t0 = time.perf_counter()
        await asyncio.gather(starter(), *(reader(http, requests, warm, latencies, errors,
                                                 interval, i / readers)
                                          for i in range(readers)))
        # wait for every started run to finish, then for the streams to drain
        for _ in range(600):
            listing = (await http.get("/api/v1/runs", params={"limit": 1000})).json()
            states = {r["id"]: r["status"] for r in listing}
            if all(states.get(r) in ("completed", "failed", "waiting") for r in started):
                break
            await asyncio.sleep(0.1)
        elapsed = time.perf_counter() - t0
        expected: set[tuple[str, int]] = set()
        for run_id in started:
            events = (await http.get(f"/api/v1/runs/{run_id}/events")).json()
            expected |= {(run_id, e["seq"]) for e in events}
        for _ in range(100):
            if min(await asyncio.to_thread(followers.counts), default=len(expected)
                   ) >= len(expected):
                break
            await asyncio.sleep(0.1)
        seen, stream_errors = await asyncio.to_thread(followers.stop)
        errors += stream_errors
        lost = sum(len(expected - s) for s in seen)
    return {"p50": pct(latencies, 0.50), "p99": pct(latencies, 0.99),
            "base_p50": pct(baseline, 0.50), "base_p99": pct(baseline, 0.99),
            "reads": len(latencies), "errors": len(errors), "lost": lost,
            "events": len(expected), "runs": len(started), "seconds": elapsed,
            "first_error": errors[0] if errors else ""}  # type: ignore[dict-item]


def run(readers: int = 150, streams: int = 50, runs: int = 100, requests: int = 20,
        interval: float = 1.0, workers: int = 0) -> list[Figure]:
    with scratch() as folder:
        db = folder / "agentplane.db"
        ring = KeyRing(db)
        _, key = ring.create("bench", role="admin", tenant="*")
        ring.close()
        port = free_port()
        processes = start_server(db, port, workers)
        try:
            base = f"http://127.0.0.1:{port}"
            asyncio.run(wait_up(base))
            r = asyncio.run(load(base, key, readers, streams, runs, requests, interval))
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                process.wait(30)
    name = (f"{readers} readers (a read every {interval:g} s each) + {streams} streams, "
            f"{runs} runs, " + (f"{workers} worker process(es)" if workers
                                else "runs driven by the server"))
    if r["first_error"]:
        print(f"first error: {r['first_error']}")
    print(f"{name}: {int(r['reads'])} reads, {int(r['events'])} events of {int(r['runs'])} runs "
          f"in {r['seconds']:.1f} s; errors {int(r['errors'])}; events lost on "
          f"{streams} streams: {int(r['lost'])}")
    return [
        Figure("api_load", "read latency p50 under load", r["p50"], "ms", r["base_p50"]),
        Figure("api_load", "read latency p99 under load", r["p99"], "ms", r["base_p99"],
               "p99 < 100 ms"),
        Figure("api_load", "errors", r["errors"], "requests", None, "0"),
        Figure("api_load", "events lost on the streams", r["lost"], "events", None, "0"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readers", type=int, default=150)
    parser.add_argument("--streams", type=int, default=50)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--requests", type=int, default=20, help="reads per reader")
    parser.add_argument("--interval", type=float, default=1.0,
                        help="seconds between one reader's reads (0: back to back)")
    parser.add_argument("--workers", type=int, default=0,
                        help="separate `agentplane worker` processes (0: the server drives)")
    args = parser.parse_args()
    print_figures(run(args.readers, args.streams, args.runs, args.requests, args.interval,
                      args.workers))


if __name__ == "__main__":
    main()
