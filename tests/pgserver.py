"""A real PostgreSQL server for the tests, started from Debian's ``postgresql`` package.

One server per test session, in a temporary folder (``initdb`` + ``pg_ctl``), listening on a free
loopback port. PostgreSQL refuses to run as root, so when the tests run as root (CI does) every
server command runs as the ``postgres`` system user the package creates.

Tests get a fresh, empty database each through the ``postgres_url`` fixture (``conftest.py``).
Crash tests use :meth:`PostgresServer.restart` (``pg_ctl restart -m immediate``: a crash of the
server, as far as clients can tell) and :meth:`PostgresServer.terminate_backends`.

Where PostgreSQL is not installed the fixtures skip, unless ``AGENTPLANE_REQUIRE_POSTGRES=1``
(set by ``.ci/run``), which turns the skip into a failure so CI never silently tests less.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

SUPERUSER = "agentplane"
"""The cluster's superuser (``initdb -U``); the tests connect as it with ``trust`` on loopback."""


class PostgresUnavailable(RuntimeError):
    """PostgreSQL's server programs are not installed on this machine."""


def find_bindir() -> Path:
    """The folder with ``initdb``/``pg_ctl``/``postgres`` (Debian keeps them out of ``PATH``)."""
    for candidate in (os.environ.get("AGENTPLANE_PG_BINDIR"),
                      *sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)):
        if candidate and (Path(candidate) / "initdb").is_file():
            return Path(candidate)
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    raise PostgresUnavailable(
        "PostgreSQL's server is not installed (no initdb): install Debian's `postgresql` "
        "package, or set AGENTPLANE_PG_BINDIR")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresServer:
    """A throwaway PostgreSQL cluster on loopback."""

    def __init__(self) -> None:
        self.bindir = find_bindir()
        self.as_root = os.geteuid() == 0
        self.folder = Path(tempfile.mkdtemp(prefix="agentplane-pg-"))
        self.data = self.folder / "data"
        self.log = self.folder / "server.log"
        self.port = _free_port()
        self.host = "127.0.0.1"
        if self.as_root:
            shutil.chown(self.folder, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-U", SUPERUSER, "-A", "trust",
                  "-E", "UTF8", "--locale=C.UTF-8", "--no-sync")
        options = (f"-p {self.port} -k {self.folder} -c listen_addresses={self.host}"
                   " -c fsync=off -c full_page_writes=off -c max_connections=300"
                   " -c shared_buffers=128MB")
        # fsync=off is safe here: the tests crash the server, never the machine, and a killed
        # server still recovers from its write-ahead log in the OS cache.
        (self.folder / "options").write_text(options)
        self.start()

    def _run(self, program: str, *args: str, check: bool = True
             ) -> subprocess.CompletedProcess[str]:
        cmd = [str(self.bindir / program), *args]
        if self.as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=120)
        if check and done.returncode != 0:
            raise RuntimeError(f"{program} failed ({done.returncode}): "
                               f"{done.stderr.strip() or done.stdout.strip()}")
        return done

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60",
                  "-o", (self.folder / "options").read_text(), "start")

    def restart(self, *, immediate: bool = True) -> None:
        """Restart the server; ``immediate`` stops it without a clean shutdown (a crash)."""
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60",
                  "-m", "immediate" if immediate else "fast",
                  "-o", (self.folder / "options").read_text(), "restart")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-w", "-m", "immediate", "stop", check=False)
        shutil.rmtree(self.folder, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@{self.host}:{self.port}/{database}"

    def admin_sql(self, sql: str, database: str = "postgres") -> None:
        """Run one statement outside a transaction (``CREATE DATABASE`` needs that)."""
        import psycopg

        with psycopg.connect(self.url(database), autocommit=True) as conn:
            conn.execute(sql.encode())

    def create_database(self) -> str:
        """A fresh, empty database; returns its URL."""
        name = f"t_{uuid.uuid4().hex[:12]}"
        self.admin_sql(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def terminate_backends(self, database: str, *, application_name: str | None = None) -> int:
        """Kill the server processes serving clients of ``database`` (as a dropped network
        connection would); returns how many."""
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            sql = ("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                   " WHERE datname = %s AND pid <> pg_backend_pid()")
            args: list[str] = [database]
            if application_name is not None:
                sql += " AND application_name = %s"
                args.append(application_name)
            row = conn.execute(sql.encode(), args).fetchone()
            return int(row[0]) if row else 0
