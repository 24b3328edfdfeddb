"""A real ``agentplane serve`` application on a loopback port, in a thread of the test process."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from agentplane.demo import workflow_files
from agentplane.journal import open_store
from agentplane.server import Plane, create_app
from agentplane.server.auth import BearerVerifier
from agentplane.server.limits import Limits


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def live_server(db_path: Path, workflows: list[Path] | None = None, *, worker: bool = True,
                limits: Limits | None = None, planes: list[Plane] | None = None,
                verifiers: list[BearerVerifier] | None = None) -> Iterator[str]:
    """Serve the API for the SQLite file at ``db_path`` (demo workflows by default); yields the
    base URL and stops the server afterwards."""
    port = free_port()
    ready = threading.Event()
    holder: dict[str, uvicorn.Server] = {}
    failure: list[BaseException] = []

    async def main() -> None:
        store = open_store(f"sqlite:///{db_path}")
        plane = Plane.open(store, workflows if workflows is not None else workflow_files(),
                           worker=worker)
        plane.poll_s = 0.1
        if limits is not None:
            plane.limits = limits
        if planes is not None:
            planes.append(plane)
        app = create_app(plane)
        for verifier in verifiers or []:
            app.state.authenticator.add(verifier)
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                               log_level="warning", lifespan="on"))
        holder["server"] = server

        async def signal_ready() -> None:
            while not server.started:
                await asyncio.sleep(0.01)
            ready.set()

        waiter = asyncio.create_task(signal_ready())
        try:
            await server.serve()
        finally:
            waiter.cancel()
            await store.close()

    def run() -> None:
        try:
            asyncio.run(main())
        except BaseException as exc:
            failure.append(exc)
        finally:
            ready.set()

    thread = threading.Thread(target=run, name="live-server", daemon=True)
    thread.start()
    ready.wait(30)
    if failure or "server" not in holder or not holder["server"].started:
        raise RuntimeError(f"the server did not start: {failure}")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        holder["server"].should_exit = True
        thread.join(30)


class Api:
    """A client that acts as one key."""

    def __init__(self, base: str, key: str | None) -> None:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.http = httpx.Client(base_url=f"{base}/api/v1", headers=headers, timeout=30)

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.http.get(path, params=params)

    def post(self, path: str, body: Any = None) -> httpx.Response:
        return self.http.post(path, json=body)

    def ok(self, method: str, path: str, body: Any = None) -> Any:
        response = self.http.request(method, path, json=body)
        assert response.is_success, (response.status_code, response.text)
        return response.json()

    def wait_for(self, run_id: str, done: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        """Poll the run until ``done`` holds (bounded: fails after 30 s of no progress)."""
        deadline = time.monotonic() + 30
        while True:
            run: dict[str, Any] = self.ok("GET", f"/runs/{run_id}")
            if done(run):
                return run
            assert time.monotonic() < deadline, f"run never reached the state: {run}"
            time.sleep(0.05)


def as_(base: str, keys: dict[str, str], who: str) -> Api:
    return Api(base, keys[who])


def finished(run: dict[str, Any]) -> bool:
    return run["status"] in ("completed", "failed", "cancelled")


def waiting(run: dict[str, Any]) -> bool:
    return run["status"] == "waiting" and bool(run["waits"])
