"""The PostgreSQL journal's connections: a pool per event loop, one listening connection, and
what a broken connection becomes (``JournalUnavailableError``, said without the password)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import psycopg
from psycopg_pool import AsyncConnectionPool

from .health import JournalUnavailableError
from .postgres_schema import TENANT_SETTING

T = TypeVar("T")
Conn = psycopg.AsyncConnection[Any]

CHANNEL = "agentplane"
"""The ``LISTEN/NOTIFY`` channel; the payload is the id of the run that changed."""
POOL_TIMEOUT = 10.0
"""Seconds an operation waits for a connection before failing (server down or pool busy)."""
_BROKEN = (psycopg.OperationalError, psycopg.InterfaceError)


class Connections:
    """How a ``PostgresJournal`` reaches its database.

    The pool is opened lazily in the running event loop (``open_store`` is synchronous); a
    store used from a second loop, as by two ``asyncio.run`` calls, gets a new pool. Every
    connection carries the store's tenant (``agentplane.tenant``, read by row-level security)
    and, read-only, ``default_transaction_read_only``, set when it is made."""

    def __init__(self, dsn: str, *, url: str, tenant: str, readonly: bool,
                 pool_size: int) -> None:
        self._dsn = dsn
        self.url = url
        self.tenant = tenant
        self.readonly = readonly
        self.pool_size = pool_size
        self._pool: AsyncConnectionPool[Conn] | None = None
        self._pool_loop: asyncio.AbstractEventLoop | None = None
        self._listener: Conn | None = None
        self._listener_loop: asyncio.AbstractEventLoop | None = None
        self._listener_lost = False

    async def _configure(self, conn: Conn) -> None:
        await conn.execute("SELECT set_config(%s, %s, false)", (TENANT_SETTING, self.tenant))
        if self.readonly:
            await conn.execute("SET default_transaction_read_only = on")

    def _pool_here(self) -> AsyncConnectionPool[Conn]:
        """The pool of the running event loop (a store used from a second loop, as by two
        ``asyncio.run`` calls, gets a new one)."""
        loop = asyncio.get_running_loop()
        if self._pool is None or self._pool_loop is not loop:
            self._pool = AsyncConnectionPool(
                self._dsn, min_size=1, max_size=self.pool_size, open=False,
                kwargs={"autocommit": True, "application_name": "agentplane"},
                configure=self._configure, timeout=POOL_TIMEOUT, name="agentplane-journal")
            self._pool_loop = loop
        return self._pool

    async def _open_pool(self) -> AsyncConnectionPool[Conn]:
        pool = self._pool_here()
        if pool.closed:
            await pool.open()
        return pool

    def unavailable(self, exc: BaseException, doing: str) -> JournalUnavailableError:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if isinstance(exc, psycopg.errors.ReadOnlySqlTransaction):
            return JournalUnavailableError(
                f"the journal {self.url} cannot be written: it is open read-only (?mode=ro); "
                "use a writable --db, or only commands that read")
        return JournalUnavailableError(
            f"the journal {self.url} could not {doing} ({reason}); nothing was written — "
            "retry once the PostgreSQL server is reachable")

    async def _drop_broken(self) -> None:
        """After a connection broke: check the idle ones too, so the next operation gets one
        that works (the pool reconnects in the background)."""
        if self._pool is not None and self._pool_loop is asyncio.get_running_loop():
            with contextlib.suppress(Exception):  # still down: the pool retries on its own
                await self._pool.check()

    async def read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of one query, retried once on a broken connection."""
        for attempt in (1, 2):
            pool = await self._open_pool()
            try:
                async with pool.connection() as conn:
                    cur = await conn.execute(sql.encode(), params or None)
                    return await cur.fetchall()
            except _BROKEN as exc:
                await self._drop_broken()
                if attempt == 2:
                    raise self.unavailable(exc, "be read") from exc
        raise AssertionError("unreachable")

    async def autocommit(self, work: Callable[[Conn], Awaitable[T]]) -> T:
        """Run ``work`` — one statement — on a pooled connection in autocommit."""
        pool = await self._open_pool()
        try:
            async with pool.connection() as conn:
                return await work(conn)
        except (*_BROKEN, psycopg.errors.ReadOnlySqlTransaction) as exc:
            await self._drop_broken()
            raise self.unavailable(exc, "be written") from exc

    async def transaction(self, work: Callable[[Conn], Awaitable[T]]) -> T:
        """Run ``work`` in one transaction on a pooled connection."""
        pool = await self._open_pool()
        try:
            async with pool.connection() as conn, conn.transaction():
                return await work(conn)
        except (*_BROKEN, psycopg.errors.ReadOnlySqlTransaction) as exc:
            await self._drop_broken()
            raise self.unavailable(exc, "be written") from exc

    async def wait_for_change(self, timeout: float) -> bool:
        """Wait for a ``NOTIFY agentplane`` (any process's append, new run, resolved wait) or
        ``timeout`` seconds. After the listening connection was lost and made again, returns
        True at once: changes made meanwhile were not heard."""
        try:
            conn = await self._listening()
            if self._listener_lost:
                self._listener_lost = False
                return True
            async for _ in conn.notifies(timeout=timeout, stop_after=1):
                return True
            return False
        except _BROKEN:
            await self._close_listener()
            self._listener_lost = True
            await asyncio.sleep(min(timeout, 1.0))  # the server may be restarting
            return False

    async def _listening(self) -> Conn:
        loop = asyncio.get_running_loop()
        if self._listener_loop is not loop:  # made in a loop that is gone: it cannot be used
            self._listener, self._listener_loop = None, loop
        if self._listener is None or self._listener.closed or self._listener.broken:
            await self._close_listener()
            self._listener = await psycopg.AsyncConnection.connect(
                self._dsn, autocommit=True, application_name="agentplane-listen",
                connect_timeout=10)
            await self._listener.execute(f"LISTEN {CHANNEL}".encode())
        return self._listener

    async def _close_listener(self) -> None:
        if self._listener is not None:
            listener, self._listener = self._listener, None
            with contextlib.suppress(Exception):  # it is already broken
                await listener.close()

    async def close(self) -> None:
        if self._listener_loop is asyncio.get_running_loop():
            await self._close_listener()
        if self._pool is not None and self._pool_loop is asyncio.get_running_loop():
            await self._pool.close()
        self._pool = None
