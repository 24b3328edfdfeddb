"""Database URLs: ``sqlite:///PATH`` (or a plain path) and ``postgresql://...``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlparse, urlunparse

from agentplane.errors import ConfigError

from .base import Database
from .migrations import Migration, migrate

SQLITE_OPTIONS = {"synchronous", "mode"}


@dataclass(frozen=True, slots=True)
class DatabaseURL:
    """A parsed database URL. ``safe`` is the URL without its password (for messages)."""

    scheme: str
    """``sqlite`` or ``postgresql``."""
    raw: str
    safe: str
    path: str = ""
    """SQLite: the file (or ``:memory:``)."""
    options: dict[str, str] = field(default_factory=dict)


def _without_password(url: str) -> str:
    parsed = urlparse(url)
    if parsed.password is None:
        return url
    host = parsed.hostname or ""
    netloc = f"{parsed.username}:***@{host}" + (f":{parsed.port}" if parsed.port else "")
    return urlunparse(parsed._replace(netloc=netloc))


def parse_url(url: str) -> DatabaseURL:
    """Parse a database URL, written as SQLAlchemy writes them: ``sqlite:///relative.db``,
    ``sqlite:////absolute/path.db``, ``sqlite:///:memory:`` (options ``?synchronous=FULL`` and
    ``?mode=ro``), a plain file path, or ``postgresql://user:password@host:port/database``."""
    if "://" not in url:
        return DatabaseURL("sqlite", url, url, path=str(Path(url).expanduser()))
    parsed = urlparse(url)
    if parsed.scheme in ("postgresql", "postgres"):
        return DatabaseURL("postgresql", url, _without_password(url))
    if parsed.scheme != "sqlite":
        raise ConfigError(
            f"database URL {_without_password(url)!r} has scheme {parsed.scheme!r}; supported: "
            "sqlite:///PATH and postgresql://USER@HOST:PORT/DATABASE")
    if parsed.netloc:
        raise ConfigError(f"database URL {url!r} names a host ({parsed.netloc!r}); SQLite "
                          "URLs have three slashes before a relative path, four before an "
                          "absolute one")
    options = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
    unknown = set(options) - SQLITE_OPTIONS
    if unknown:
        raise ConfigError(
            f"unknown option(s) {', '.join(sorted(unknown))} in database URL {url!r}; "
            "SQLite URLs accept ?synchronous=OFF|NORMAL|FULL|EXTRA and ?mode=ro|rw")
    mode = options.get("mode", "rw")
    if mode not in ("ro", "rw"):
        raise ConfigError(f"mode={mode!r} in database URL {url!r}: use mode=ro (read-only) "
                          "or mode=rw")
    return DatabaseURL("sqlite", url, url, path=parsed.path[1:] or ":memory:", options=options)


def as_database(target: Database | str | Path, *, readonly: bool = False
                ) -> tuple[Database, bool]:
    """``target`` itself when it is a handle (shared: the caller must not close it), or a new
    handle on the URL or file path it names (owned: the caller closes it). Returns the handle
    and whether the caller owns it."""
    if isinstance(target, Database):
        return target, False
    return open_database(str(target), readonly=readonly or None), True


def open_component(target: Database | str | Path, component: str,
                   migrations: Sequence[Migration], *, readonly: bool = False
                   ) -> tuple[Database, bool]:
    """:func:`as_database`, with ``component``'s tables brought up to date (a read-only handle
    refuses an older schema; every handle refuses a newer one). A handle it opened is closed
    again if that fails."""
    db, owned = as_database(target, readonly=readonly)
    try:
        migrate(db, component, migrations)
    except BaseException:
        if owned:
            db.close()
        raise
    return db, owned


def open_database(url: str, *, create: bool = True, readonly: bool | None = None) -> Database:
    """A synchronous :class:`Database` handle for ``url``."""
    parsed = parse_url(url)
    if parsed.scheme == "postgresql":
        from .postgres import PostgresDatabase

        return PostgresDatabase(parsed.raw, safe_url=parsed.safe, readonly=bool(readonly))
    from .sqlite import SQLiteDatabase

    ro = parsed.options.get("mode") == "ro" if readonly is None else readonly
    return SQLiteDatabase(parsed.path, synchronous=parsed.options.get("synchronous", "NORMAL"),
                          create=create, readonly=ro)
