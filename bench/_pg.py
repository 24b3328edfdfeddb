"""A PostgreSQL server for the benchmarks: ``AGENTPLANE_BENCH_PG`` (a server URL whose user may
create databases), else one started here from Debian's ``postgresql`` package with the tests'
``PostgresServer`` — switched to full durability (``fsync``, ``full_page_writes``,
``synchronous_commit`` on), since the tests' own server runs without fsync."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse, urlunparse

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.pgserver import PostgresServer


class BenchServer:
    """Makes fresh databases on one server."""

    def __init__(self, url: str) -> None:
        self.url = url

    def admin(self, sql: str) -> list[tuple[object, ...]]:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            cur = conn.execute(sql.encode())
            return list(cur.fetchall()) if cur.description else []

    def settings(self) -> dict[str, str]:
        names = ("fsync", "synchronous_commit", "full_page_writes", "server_version")
        return {n: str(self.admin(f"SHOW {n}")[0][0]) for n in names}

    def create_database(self, prefix: str) -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:8]}"
        self.admin(f'CREATE DATABASE "{name}"')
        return urlunparse(urlparse(self.url)._replace(path=f"/{name}"))


@contextmanager
def bench_server() -> Iterator[BenchServer]:
    configured = os.environ.get("AGENTPLANE_BENCH_PG")
    if configured:
        yield BenchServer(configured)
        return
    server = PostgresServer()
    try:
        # The tests' server skips fsync (it is crashed, never the machine); a benchmark of
        # durable steps needs every commit on disk, so restart it with full durability.
        options = server.folder / "options"
        options.write_text(options.read_text().replace("fsync=off", "fsync=on")
                           .replace("full_page_writes=off", "full_page_writes=on")
                           + " -c synchronous_commit=on")
        server.restart(immediate=False)
        yield BenchServer(server.url())
    finally:
        server.stop()
