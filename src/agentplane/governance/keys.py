"""API keys: who calls the API, with which role, for which tenant.

A key is shown once, when it is created (``ap_<id>_<secret>``); only the SHA-256 of the secret is
stored, in a table of its own in the journal's database (component ``keys``). The secret is 32
random bytes, so a plain hash is enough (there is nothing to brute-force, unlike a password).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, get_args

from agentplane.errors import ConfigError, NotFoundError
from agentplane.journal import JournalStore
from agentplane.storage import Database, Migration, open_component

Role = Literal["viewer", "operator", "approver", "admin"]
ROLES: tuple[Role, ...] = get_args(Role)

ALL_TENANTS = "*"
"""A key for every tenant (the operator of the whole installation)."""

Permission = Literal["read", "run", "approve", "admin"]

PERMISSIONS: dict[Role, frozenset[Permission]] = {
    "viewer": frozenset({"read"}),
    "operator": frozenset({"read", "run"}),
    "approver": frozenset({"read", "approve"}),
    "admin": frozenset({"read", "run", "approve", "admin"}),
}
"""What each role may do: ``read`` everything of its tenant; ``run`` start, cancel, retry and
roll back runs; ``approve`` decide approvals; ``admin`` all of that and manage keys."""

PREFIX = "ap_"
_COLUMNS = "id, name, role, tenant, created_at, revoked_at"

COMPONENT = "keys"

_V1 = """
CREATE TABLE IF NOT EXISTS api_keys (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    tenant TEXT NOT NULL,
    secret_sha256 TEXT NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
"""

MIGRATIONS = (Migration(1, _V1, note="api_keys"),)


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A stored key (never its secret)."""

    id: str
    name: str
    """What the key is for, chosen by its creator."""
    role: Role
    tenant: str
    """The tenant whose runs the key sees, or ``*`` for all."""
    created_at: str
    revoked_at: str | None = None

    @property
    def identity(self) -> str:
        """How the key's actions are recorded in the journal."""
        return f"key:{self.id}"

    def can(self, permission: Permission) -> bool:
        return self.revoked_at is None and permission in PERMISSIONS[self.role]

    def sees(self, tenant: str) -> bool:
        return self.tenant in (ALL_TENANTS, tenant)

    @property
    def described(self) -> str:
        """The key in a message, with its article: "an operator key", "a viewer key"."""
        return f"{'an' if self.role[:1] in 'aeiou' else 'a'} {self.role} key"

    def to_json(self) -> dict[str, str | None]:
        return {"id": self.id, "name": self.name, "role": self.role, "tenant": self.tenant,
                "created_at": self.created_at, "revoked_at": self.revoked_at}


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _row(row: Sequence[str | None]) -> ApiKey:
    id_, name, role, tenant, created_at, revoked_at = row
    assert id_ and name and role and tenant and created_at
    return ApiKey(id_, name, role, tenant, created_at, revoked_at)  # type: ignore[arg-type]


def check_role(role: str) -> Role:
    if role not in ROLES:
        raise ConfigError(f"unknown role {role!r}; use one of {', '.join(ROLES)}")
    return role


class KeyRing:
    """The API keys of one installation."""

    def __init__(self, db: Database | str | Path, *, readonly: bool = False) -> None:
        """``db``: a :class:`Database` handle (the journal store's, shared), or a database URL
        or SQLite file path to open one (closed with the ring)."""
        self._db, self._owned = open_component(db, COMPONENT, MIGRATIONS, readonly=readonly)

    def close(self) -> None:
        if self._owned:
            self._db.close()

    def create(self, name: str, *, role: str, tenant: str = "default") -> tuple[ApiKey, str]:
        """A new key and its secret (``ap_ID_SECRET``), which is not kept and cannot be shown
        again."""
        if not name.strip():
            raise ConfigError("a key needs a name saying what it is for")
        if not tenant.strip():
            raise ConfigError("a key needs a tenant (or '*' for every tenant)")
        key = ApiKey(id=secrets.token_hex(4), name=name.strip(), role=check_role(role),
                     tenant=tenant.strip(), created_at=datetime.now(UTC).isoformat())
        secret = secrets.token_urlsafe(32)
        with self._db.transaction() as db:
            db.execute("INSERT INTO api_keys VALUES (?, ?, ?, ?, ?, ?, NULL)",
                       (key.id, key.name, key.role, key.tenant, _digest(secret), key.created_at))
        return key, f"{PREFIX}{key.id}_{secret}"

    def list(self, *, include_revoked: bool = False, tenant: str | None = None
             ) -> list[ApiKey]:
        """The keys, oldest first; ``tenant``: only that tenant's (what its admin may see —
        not the keys of every tenant, which belong to the installation's operator)."""
        where, args = [], []
        if not include_revoked:
            where.append("revoked_at IS NULL")
        if tenant is not None:
            where.append("tenant = ?")
            args.append(tenant)
        sql = f"SELECT {_COLUMNS} FROM api_keys"
        if where:
            sql += " WHERE " + " AND ".join(where)
        return [_row(r) for r in self._db.query(sql + " ORDER BY created_at, id", args)]

    def get(self, id: str) -> ApiKey | None:
        row = self._db.query_one(f"SELECT {_COLUMNS} FROM api_keys WHERE id = ?", (id,))
        return _row(row) if row else None

    def revoke(self, id: str) -> ApiKey:
        """Revoke a key at once; revoking twice is harmless."""
        with self._db.transaction() as db:
            db.execute("UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                       (datetime.now(UTC).isoformat(), id))
        key = self.get(id)
        if key is None:
            raise NotFoundError(f"no API key with id {id!r}; `agentplane keys list` shows them")
        return key

    def rotate(self, id: str) -> tuple[ApiKey, str]:
        """A new secret for an existing key (live again if it was revoked): the old secret
        stops working at once; the id, and so what the journal records of its actions, stays."""
        secret = secrets.token_urlsafe(32)
        with self._db.transaction() as db:
            db.execute("UPDATE api_keys SET secret_sha256 = ?, revoked_at = NULL WHERE id = ?",
                       (_digest(secret), id))
        key = self.get(id)
        if key is None:
            raise NotFoundError(f"no API key with id {id!r}; `agentplane keys list` shows them")
        return key, f"{PREFIX}{key.id}_{secret}"

    def authenticate(self, token: str) -> ApiKey | None:
        """The live key a presented token belongs to, or None (wrong, unknown or revoked)."""
        if not token.startswith(PREFIX):
            return None
        id_, sep, secret = token[len(PREFIX):].partition("_")
        if not sep or not secret:
            return None
        # one query: this runs on every API request
        row = self._db.query_one(f"SELECT secret_sha256, {_COLUMNS} FROM api_keys WHERE id = ? "
                                 "AND revoked_at IS NULL", (id_,))
        if row is None or not hmac.compare_digest(row[0], _digest(secret)):
            return None
        return _row(row[1:])


    def authorize(self, token: str, permission: Permission, tenant: str) -> ApiKey | None:
        """The live key a token belongs to if it grants ``permission`` on ``tenant``, else
        None (for servers that take the API keys as their credentials: MCP, A2A)."""
        key = self.authenticate(token)
        if key is None or not key.can(permission) or not key.sees(tenant):
            return None
        return key

    def any_live(self) -> bool:
        """Whether any key is live (then servers require one)."""
        return self._db.query_one("SELECT 1 FROM api_keys WHERE revoked_at IS NULL LIMIT 1"
                                  ) is not None


def keyring_for(store: JournalStore) -> KeyRing:
    """The key ring in a journal store's database (through the store's handle)."""
    return KeyRing(store.database)
