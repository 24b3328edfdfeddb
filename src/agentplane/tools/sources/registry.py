"""The agent registry ("marketplace"): agent cards, their replicas' health, discovery and
load balancing.

An ``AgentEntry`` describes one version of an agent: who owns it, what it can do
(``capabilities``), how far it is trusted, what it costs, and where it runs (``replicas``: A2A
base URLs, or ``local:WORKFLOW/AGENT`` for an agent of a workflow in this process). Remote
entries come from A2A agent cards (``entry_from_card``), local ones from workflows
(``entries_from_workflow``).

The ``Registry`` keeps entries and replica health in the journal's database, in tables of
its own (component ``registry``: ``registry_agents``, ``registry_health``, ``registry_cursor``),
JSON in text columns.
An id may be registered in several versions; the one registered last is the *current* one,
which ``get``, ``list``, ``find`` and ``pick`` use.

Health: ``check_health`` fetches the agent card of every A2A replica and records whether it
answered, how fast, and the error if not; ``HealthChecker`` does that periodically. A replica
with ``max_failures`` consecutive failures (checks or calls that failed over) is *down*: ``pick``
skips it until a check succeeds again. Local replicas are in-process and always up.

Load balancing: ``pick`` goes round robin over an agent's replicas (the position is kept in the
database, so every process sharing it takes turns), skipping the down ones; ``failover`` records
that a replica failed a call and returns the next one up. Workflows use them through remote
agents declared with ``registry:`` or ``capability:`` (``a2a_client.RegistryReplicas``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from agentplane.errors import AgentplaneError, ConfigError, NotFoundError
from agentplane.journal import canonical_json
from agentplane.storage import Database, Migration, open_component

if TYPE_CHECKING:
    from agentplane.journal import JournalStore

log = logging.getLogger(__name__)

TrustLevel = Literal["trusted", "untrusted"]
Kind = Literal["local", "a2a"]
TRUST_LEVELS: tuple[TrustLevel, ...] = ("untrusted", "trusted")
"""Trust levels, least trusted first (``min_trust`` keeps this level and those after it)."""
LOCAL_PREFIX = "local:"
"""Replica URL prefix of an agent of a workflow run in this process: ``local:WORKFLOW/AGENT``."""
DEFAULT_MAX_FAILURES = 3
"""Consecutive failures after which a replica is down (skipped by ``pick``)."""

COMPONENT = "registry"

_V1 = """
CREATE TABLE IF NOT EXISTS registry_agents (
    id TEXT NOT NULL,
    version TEXT NOT NULL,
    owner TEXT NOT NULL,
    description TEXT NOT NULL,
    capabilities TEXT NOT NULL,
    trust TEXT NOT NULL,
    price TEXT NOT NULL,
    replicas TEXT NOT NULL,
    kind TEXT NOT NULL,
    registered_at TEXT NOT NULL,
    serial INTEGER NOT NULL,
    PRIMARY KEY (id, version)
);
CREATE TABLE IF NOT EXISTS registry_health (
    url TEXT PRIMARY KEY,
    ok INTEGER NOT NULL,
    checked_at TEXT NOT NULL,
    latency_ms REAL,
    error TEXT,
    failures INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS registry_cursor (id TEXT PRIMARY KEY, position INTEGER NOT NULL);
"""

MIGRATIONS = (Migration(1, _V1, postgresql=_V1.replace("REAL", "DOUBLE PRECISION")
                        .replace("serial INTEGER", "serial BIGINT"),
                        note="registry_agents, registry_health, registry_cursor"),)

_COLUMNS = ("id", "version", "owner", "description", "capabilities", "trust", "price",
            "replicas", "kind", "registered_at")


class RegistryError(AgentplaneError):
    """The registry cannot do what was asked: no such agent, no replica up, a bad card."""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True, slots=True)
class AgentEntry:
    """One version of an agent in the registry."""

    id: str
    """The agent's registry id, e.g. ``refund-desk`` (local agents: ``WORKFLOW/AGENT``)."""
    version: str
    """Its version: the card's ``version`` for A2A agents, the identity digest for local ones."""
    owner: str
    """Who answers for it (a team or an organisation)."""
    description: str = ""
    capabilities: list[str] = field(default_factory=list)
    """What it can do, e.g. ``["refunds", "billing"]``; ``find`` matches them ignoring case."""
    trust: TrustLevel = "untrusted"
    """``trusted`` (ours, reviewed) or ``untrusted`` (its output is content from outside)."""
    price: dict[str, float] = field(default_factory=dict)
    """Free-form prices in US dollars, e.g. ``{"per_task_usd": 0.05}``."""
    replicas: list[str] = field(default_factory=list)
    """Where it runs: A2A base URLs (card at ``URL/.well-known/agent-card.json``), or
    ``local:WORKFLOW/AGENT``."""
    kind: Kind = "a2a"
    """``a2a`` (remote, over A2A) or ``local`` (an agent of a workflow in this process)."""
    registered_at: str = ""
    """When this version was registered: ISO 8601 UTC ("" until registered)."""

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "version": self.version, "owner": self.owner,
                "description": self.description, "capabilities": list(self.capabilities),
                "trust": self.trust, "price": dict(self.price),
                "replicas": list(self.replicas), "kind": self.kind,
                "registered_at": self.registered_at}

    def identity(self, replica: str | None = None) -> dict[str, str]:
        """What to record on journal events about this agent (and the replica that served):
        ``{"id": "agent:<id>", "version", "owner", "trust"[, "replica"]}``. For local agents
        ``id`` and ``version`` equal ``runtime.loop.agent_identity``'s."""
        ident = {"id": f"agent:{self.id}", "version": self.version, "owner": self.owner,
                 "trust": self.trust}
        if replica is not None:
            ident["replica"] = replica
        return ident


@dataclass(frozen=True, slots=True)
class ReplicaHealth:
    """What the last health checks (and failed-over calls) said about one replica."""

    url: str
    ok: bool | None
    """Whether the last check succeeded; None if never checked."""
    checked_at: str | None
    """When it was last checked: ISO 8601 UTC; None if never."""
    latency_ms: float | None
    """How long the last successful check took, milliseconds."""
    error: str | None
    """Why the last check failed."""
    failures: int
    """Consecutive failures up to now (0 after a success)."""

    def to_json(self) -> dict[str, Any]:
        return {"url": self.url, "ok": self.ok, "checked_at": self.checked_at,
                "latency_ms": self.latency_ms, "error": self.error, "failures": self.failures}


def _entry(row: Sequence[Any]) -> AgentEntry:
    (id_, version, owner, description, capabilities, trust, price, replicas, kind,
     registered_at) = row
    return AgentEntry(id=id_, version=version, owner=owner, description=description,
                      capabilities=list(_loads(capabilities)), trust=trust,
                      price=dict(_loads(price)), replicas=list(_loads(replicas)), kind=kind,
                      registered_at=registered_at)


def _loads(text: str) -> Any:
    return json.loads(text)


def _check_entry(entry: AgentEntry) -> None:
    if not entry.id.strip() or not entry.version.strip():
        raise RegistryError("an agent entry needs an id and a version")
    if entry.trust not in TRUST_LEVELS:
        raise RegistryError(f"agent {entry.id}: trust {entry.trust!r} is not one of "
                            f"{', '.join(TRUST_LEVELS)}")
    if entry.kind not in ("local", "a2a"):
        raise RegistryError(f"agent {entry.id}: kind {entry.kind!r} is not local or a2a")
    if not entry.replicas:
        raise RegistryError(f"agent {entry.id}: give at least one replica URL")
    for url in entry.replicas:
        if not (url.startswith(("http://", "https://")) or url.startswith(LOCAL_PREFIX)):
            raise RegistryError(f"agent {entry.id}: replica {url!r} is neither an http(s) URL "
                                f"nor {LOCAL_PREFIX}WORKFLOW/AGENT")


class Registry:
    """Agent entries and replica health in the journal's database (tables of their own).

    ``db``: a :class:`Database` handle (the journal store's, shared), or a database URL or
    SQLite file path to open one (closed with the registry)."""

    def __init__(self, db: Database | str | Path, *, max_failures: int = DEFAULT_MAX_FAILURES,
                 readonly: bool = False) -> None:
        if max_failures < 1:
            raise ConfigError("max_failures must be at least 1")
        self.max_failures = max_failures
        """Consecutive failures after which a replica is down."""
        self._db, self._owned = open_component(db, COMPONENT, MIGRATIONS, readonly=readonly)

    def close(self) -> None:
        if self._owned:
            self._db.close()

    def _write(self) -> contextlib.AbstractContextManager[Database]:
        return self._db.transaction()

    # -- entries ------------------------------------------------------------------------------

    def register(self, entry: AgentEntry) -> AgentEntry:
        """Add an agent version, or replace it (same id and version); it becomes current.
        Returns the entry as stored (with ``registered_at``)."""
        _check_entry(entry)
        stored = replace(entry, registered_at=_now(), capabilities=list(entry.capabilities),
                         price={str(k): float(v) for k, v in entry.price.items()},
                         replicas=list(dict.fromkeys(entry.replicas)))
        with self._write() as db:
            row = db.query_one("SELECT COALESCE(MAX(serial), 0) + 1 FROM registry_agents")
            serial = int(row[0]) if row else 1
            db.execute(
                f"INSERT INTO registry_agents({', '.join(_COLUMNS)}, serial) "
                f"VALUES ({', '.join('?' * len(_COLUMNS))}, ?) "
                "ON CONFLICT(id, version) DO UPDATE SET owner = excluded.owner, "
                "description = excluded.description, capabilities = excluded.capabilities, "
                "trust = excluded.trust, price = excluded.price, replicas = excluded.replicas, "
                "kind = excluded.kind, registered_at = excluded.registered_at, "
                "serial = excluded.serial",
                (stored.id, stored.version, stored.owner, stored.description,
                 canonical_json(stored.capabilities), stored.trust, canonical_json(stored.price),
                 canonical_json(stored.replicas), stored.kind, stored.registered_at, serial))
        return stored

    def remove(self, id: str, version: str | None = None) -> int:
        """Remove an agent (every version, or one). Returns how many versions were removed."""
        with self._write() as db:
            if version is None:
                removed = db.execute("DELETE FROM registry_agents WHERE id = ?", (id,))
                db.execute("DELETE FROM registry_cursor WHERE id = ?", (id,))
            else:
                removed = db.execute("DELETE FROM registry_agents WHERE id = ? AND version = ?",
                                     (id, version))
        return int(removed)

    def get(self, id: str, version: str | None = None) -> AgentEntry | None:
        """The current version of an agent (or the one named), None if not registered."""
        sql = f"SELECT {', '.join(_COLUMNS)} FROM registry_agents WHERE id = ?"
        args: tuple[str, ...] = (id,)
        if version is not None:
            sql += " AND version = ?"
            args = (id, version)
        row = self._db.query_one(sql + " ORDER BY serial DESC LIMIT 1", args)
        return _entry(row) if row else None

    def require(self, id: str) -> AgentEntry:
        """The current version of an agent; a ``NotFoundError`` naming it if there is none."""
        entry = self.get(id)
        if entry is None:
            raise NotFoundError(f"no agent {id!r} in the registry; register it with "
                                "`agentplane registry add`")
        return entry

    def find(self, capability: str, *, min_trust: TrustLevel | None = None
             ) -> list[AgentEntry]:
        """Agents (current versions) with a capability (ignoring case), at least as trusted as
        ``min_trust``. In each entry replicas are ordered best first (last check ok, never
        checked, failing, down); entries are ordered by their best replica, then by id."""
        if min_trust is not None and min_trust not in TRUST_LEVELS:
            raise RegistryError(f"min_trust {min_trust!r} is not one of "
                                f"{', '.join(TRUST_LEVELS)}")
        wanted = capability.strip().lower()
        floor = TRUST_LEVELS.index(min_trust) if min_trust is not None else 0
        found: list[tuple[int, str, AgentEntry]] = []
        for entry in self.list():
            if wanted not in {c.lower() for c in entry.capabilities}:
                continue
            if TRUST_LEVELS.index(entry.trust) < floor:
                continue
            ranked = sorted(entry.replicas, key=self._rank)
            best = self._rank(ranked[0]) if ranked else 4
            found.append((best, entry.id, replace(entry, replicas=ranked)))
        found.sort(key=lambda item: (item[0], item[1]))
        return [entry for _, _, entry in found]

    # -- health -------------------------------------------------------------------------------

    def record_health(self, url: str, ok: bool, latency_ms: float | None = None,
                      error: str | None = None) -> ReplicaHealth:
        """Record a check of a replica (or a call to it that failed); returns its health now."""
        with self._write() as db:
            db.execute(
                "INSERT INTO registry_health(url, ok, checked_at, latency_ms, error, failures) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(url) DO UPDATE SET ok = excluded.ok, "
                "checked_at = excluded.checked_at, latency_ms = excluded.latency_ms, "
                "error = excluded.error, failures = CASE WHEN excluded.ok = 1 THEN 0 "
                "ELSE registry_health.failures + 1 END",
                (url, int(ok), _now(), latency_ms, None if ok else (error or "failed"),
                 0 if ok else 1))
        return self.health(url)

    def health(self, url: str) -> ReplicaHealth:
        """A replica's last status, when it was checked, and its consecutive failures."""
        row = self._db.query_one("SELECT ok, checked_at, latency_ms, error, failures "
                                 "FROM registry_health WHERE url = ?", (url,))
        if row is None:
            return ReplicaHealth(url, None, None, None, None, 0)
        ok, checked_at, latency_ms, error, failures = row
        return ReplicaHealth(url, bool(ok), checked_at, latency_ms, error, int(failures))

    def is_up(self, url: str) -> bool:
        """Whether ``pick`` may choose a replica: local, or fewer than ``max_failures``
        consecutive failures."""
        return url.startswith(LOCAL_PREFIX) or self.health(url).failures < self.max_failures

    def _rank(self, url: str) -> int:
        if url.startswith(LOCAL_PREFIX):
            return 0
        health = self.health(url)
        if health.failures >= self.max_failures:
            return 3
        if health.ok is None:
            return 1
        return 0 if health.ok else 2

    # -- load balancing -----------------------------------------------------------------------

    def _none_up(self, entry: AgentEntry, skipped: Iterable[str] = ()) -> RegistryError:
        parts = []
        for url in entry.replicas:
            health = self.health(url)
            why = f"{health.failures} consecutive failures"
            if health.error:
                why += f", last: {health.error}"
            parts.append(f"{url} ({why})")
        skip = list(skipped)
        extra = f"; {', '.join(skip)} just failed" if skip else ""
        return RegistryError(
            f"agent {entry.id} (version {entry.version}) has no healthy replica: "
            f"{'; '.join(parts)}{extra}. Check them with `agentplane registry check`, or "
            "register a replica that is up")

    def _next(self, entry: AgentEntry, start: int, exclude: str | None) -> str:
        count = len(entry.replicas)
        for step in range(count):
            index = (start + step) % count
            url = entry.replicas[index]
            if url != exclude and self.is_up(url):
                with self._write() as db:
                    db.execute("INSERT INTO registry_cursor(id, position) VALUES (?, ?) "
                               "ON CONFLICT(id) DO UPDATE SET position = excluded.position",
                               (entry.id, index + 1))
                return url
        raise self._none_up(entry, [exclude] if exclude else [])

    def _position(self, id: str) -> int:
        row = self._db.query_one("SELECT position FROM registry_cursor WHERE id = ?", (id,))
        return int(row[0]) if row else 0

    def pick(self, id: str) -> str:
        """The replica to send the agent's next task to: round robin over its replicas,
        skipping those that are down. A ``RegistryError`` naming the agent if none is up."""
        entry = self.require(id)
        return self._next(entry, self._position(id), None)

    def failover(self, id: str, failed_url: str, error: str | None = None) -> str:
        """Record that ``failed_url`` failed a call, and return the next replica up (never
        ``failed_url``). A ``RegistryError`` naming the agent if there is none."""
        entry = self.require(id)
        self.record_health(failed_url, False, None, error or "a call failed over")
        start = (entry.replicas.index(failed_url) + 1 if failed_url in entry.replicas
                 else self._position(id))
        return self._next(entry, start, failed_url)

    def a2a_replicas(self) -> list[str]:
        """Every A2A replica URL of the agents' current versions (once each, sorted)."""
        return sorted({url for entry in self.list() for url in entry.replicas
                       if not url.startswith(LOCAL_PREFIX)})

    def list(self, *, all_versions: bool = False) -> list[AgentEntry]:
        """Every agent's current version (or every version), by id."""
        if all_versions:
            sql = (f"SELECT {', '.join(_COLUMNS)} FROM registry_agents "
                   "ORDER BY id, serial DESC")
        else:
            sql = (f"SELECT {', '.join(_COLUMNS)} FROM registry_agents AS a WHERE serial = "
                   "(SELECT MAX(serial) FROM registry_agents WHERE id = a.id) ORDER BY id")
        return [_entry(row) for row in self._db.query(sql)]


def registry_for(store: JournalStore, *, max_failures: int = DEFAULT_MAX_FAILURES) -> Registry:
    """The registry in a journal store's database (through the store's handle)."""
    return Registry(store.database, max_failures=max_failures)


# -- health checks ------------------------------------------------------------------------------

FetchCard = Callable[[str], Awaitable[Mapping[str, Any]]]
"""Fetch the agent card at a replica's base URL, as JSON; raise if it cannot."""


async def fetch_agent_card(url: str, *, timeout_s: float = 10.0) -> dict[str, Any]:
    """The A2A agent card at ``URL/.well-known/agent-card.json``, through the SDK (public:
    no key needed), as JSON (camelCase field names, as on the wire)."""
    from google.protobuf.json_format import MessageToDict  # type: ignore[import-untyped,unused-ignore]

    from .a2a_client import RemoteAgent

    card = await RemoteAgent(url, read_timeout_s=timeout_s).card()
    data = MessageToDict(card)
    return data if isinstance(data, dict) else {}


async def _check_one(registry: Registry, url: str, fetch_card: FetchCard,
                     timeout_s: float) -> bool:
    started = time.perf_counter()
    try:
        async with asyncio.timeout(timeout_s):
            await fetch_card(url)
    except Exception as exc:  # any failure is the replica's health, recorded, not raised
        message = (f"no answer within {timeout_s:g} s" if isinstance(exc, TimeoutError)
                   else f"{type(exc).__name__}: {exc}")
        registry.record_health(url, False, None, message)
        return False
    registry.record_health(url, True, (time.perf_counter() - started) * 1000.0, None)
    return True


async def check_health(registry: Registry, *, fetch_card: FetchCard | None = None,
                       timeout_s: float = 10.0) -> dict[str, bool]:
    """Fetch the card of every A2A replica (concurrently), record ok / latency / error, and
    return which answered. ``timeout_s``: seconds one replica has to answer."""
    fetch = fetch_card or fetch_agent_card
    urls = registry.a2a_replicas()
    results = await asyncio.gather(*(_check_one(registry, url, fetch, timeout_s)
                                     for url in urls))
    return dict(zip(urls, results, strict=True))


@dataclass
class HealthChecker:
    """Runs ``check_health`` every ``interval_s`` seconds in an asyncio task."""

    registry: Registry
    interval_s: float = 30.0
    """Seconds between the end of one round and the start of the next."""
    fetch_card: FetchCard | None = None
    timeout_s: float = 10.0
    """Seconds one replica has to answer."""
    max_rounds: int | None = None
    """Stop after this many rounds (None: until ``stop``)."""
    on_round: Callable[[dict[str, bool]], None] | None = None
    """Called with each round's results."""
    rounds: int = 0
    """Rounds done so far."""
    _task: asyncio.Task[None] | None = field(default=None, repr=False)

    def start(self) -> None:
        """Start checking (in the running event loop); starting twice does nothing."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(),
                                                                name="registry-health")

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def wait(self) -> None:
        """Until the checker stops by itself (``max_rounds``)."""
        if self._task is not None:
            await self._task

    async def stop(self) -> None:
        """Stop checking, and wait for the round under way to be abandoned."""
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while self.max_rounds is None or self.rounds < self.max_rounds:
            try:
                results = await check_health(self.registry, fetch_card=self.fetch_card,
                                             timeout_s=self.timeout_s)
            except Exception:  # the database was busy or closed: try again next round
                log.exception("registry health check round failed")
                results = {}
            self.rounds += 1
            if self.on_round is not None:
                self.on_round(results)
            if self.max_rounds is not None and self.rounds >= self.max_rounds:
                return
            await asyncio.sleep(self.interval_s)


# -- entries from cards and workflows -----------------------------------------------------------


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _card_capabilities(card: Mapping[str, Any]) -> list[str]:
    found: list[str] = []
    skills = card.get("skills")
    for skill in skills if isinstance(skills, list) else []:
        if not isinstance(skill, Mapping):
            continue
        tags = skill.get("tags")
        for value in [skill.get("id"), *(tags if isinstance(tags, list) else [])]:
            text = _text(value)
            if text and text not in found:
                found.append(text)
    return found


def entry_from_card(card_json: Mapping[str, Any], url: str, *, owner: str | None = None,
                    trust: TrustLevel = "untrusted", price: Mapping[str, float] | None = None,
                    replicas: Sequence[str] | None = None) -> AgentEntry:
    """An entry for a remote A2A agent from its card: id = the card's ``name``, version = its
    ``version`` ("0" if none), capabilities = its skills' ids and tags (in order, once each),
    owner = ``owner`` or else the card's provider organisation. ``url`` is the base URL the card
    was fetched from (the replica); ``replicas`` gives more replicas of the same agent."""
    name = _text(card_json.get("name"))
    if not name:
        raise RegistryError(f"the agent card from {url} has no name; is it an A2A agent card?")
    provider = card_json.get("provider")
    organisation = _text(provider.get("organization")) if isinstance(provider, Mapping) else ""
    return AgentEntry(
        id=name, version=_text(card_json.get("version")) or "0",
        owner=owner or organisation or "unknown",
        description=_text(card_json.get("description")),
        capabilities=_card_capabilities(card_json), trust=trust,
        price={str(k): float(v) for k, v in (price or {}).items()},
        replicas=list(dict.fromkeys([url, *(replicas or [])])), kind="a2a")


_STOPWORD_TEXT = """
about after also answer answers been before being between both does done each every
from have into just like made make many more most much must only other over same should some
such than that their them then there these they this those through under until very what when
where which while will with without would your agent agents task tasks user users
"""
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())
_WORD = re.compile(r"[a-z0-9][a-z0-9\-]*[a-z0-9]")


def description_capabilities(name: str, description: str | None) -> list[str]:
    """Capabilities of a local agent without an explicit list: its name, then each word of its
    description of four letters or more (lower case, without common words), once each."""
    words = _WORD.findall((description or "").lower())
    found = [name.lower()]
    for word in words:
        if len(word) >= 4 and word not in _STOPWORDS and word not in found:
            found.append(word)
    return found


__all__ = [
    "DEFAULT_MAX_FAILURES",
    "LOCAL_PREFIX",
    "TRUST_LEVELS",
    "AgentEntry",
    "FetchCard",
    "HealthChecker",
    "Registry",
    "RegistryError",
    "ReplicaHealth",
    "TrustLevel",
    "check_health",
    "description_capabilities",
    "entry_from_card",
    "fetch_agent_card",
    "registry_for",
]
