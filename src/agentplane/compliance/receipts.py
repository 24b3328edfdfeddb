"""Signed run receipts: a compact JWS (Ed25519, ``alg: EdDSA``) of what a run was and how it
ended, which a third party verifies with the public key alone, and — given the database — checks
against the journal as it is now.

Claims: ``run`` (id), ``workflow`` and ``workflow_hash``, ``head_hash`` and ``events`` (the
chain's head and length when the receipt was made), ``outcome`` (the run's status), ``time``
(ISO 8601 UTC) and ``iat`` (Unix seconds); ``iss`` is ``agentplane``; the header's ``kid``
names the key.
"""

from __future__ import annotations

import calendar
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentplane._extras import require
from agentplane.errors import AgentplaneError
from agentplane.journal import JournalStore
from agentplane.journal.chain import verify_run
from agentplane.journal.events import utc_now

from . import keys

ISSUER = "agentplane"
CLAIMS = ("run", "workflow", "workflow_hash", "head_hash", "events", "outcome", "time")


class ReceiptError(AgentplaneError):
    """A receipt is not a well-formed JWS signed by the given key."""


@dataclass(slots=True)
class ReceiptCheck:
    """What verifying a receipt found."""

    claims: dict[str, Any]
    problems: list[str] = field(default_factory=list)
    """Where the journal no longer matches the receipt (empty when it does, or unchecked)."""
    journal_checked: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems


def _jwt() -> Any:
    return require("jwt", extra="compliance", feature=keys.FEATURE)


async def make_receipt(store: JournalStore, run_id: str, private_key: Path) -> str:
    """The signed receipt of ``run_id`` as it stands now (compact JWS)."""
    run = await store.require_run(run_id)
    key = keys.load_private(private_key)
    now = utc_now()
    claims = {"iss": ISSUER, "run": run.id, "workflow": run.workflow,
              "workflow_hash": run.workflow_hash, "head_hash": run.head_hash,
              "events": run.last_seq, "outcome": run.status, "time": now,
              "iat": calendar.timegm(time.gmtime())}
    token: str = _jwt().encode(claims, key, algorithm="EdDSA",
                               headers={"kid": keys.key_id(key.public_key()), "typ": "JWT"})
    return token


def read_receipt(token: str, public_key: Path) -> dict[str, Any]:
    """The claims of a receipt whose signature holds under ``public_key`` (offline check)."""
    jwt = _jwt()
    key = keys.load_public(public_key)
    try:
        claims: dict[str, Any] = jwt.decode(token.strip(), key, algorithms=["EdDSA"],
                                            issuer=ISSUER,
                                            options={"require": ["iss", "iat", *CLAIMS]})
    except jwt.InvalidSignatureError:
        raise ReceiptError("the receipt's signature does not match its content under this "
                           "public key: it was changed, or another key signed it") from None
    except jwt.PyJWTError as exc:
        raise ReceiptError(f"not a valid receipt: {exc}") from None
    return claims


async def check_against_journal(store: JournalStore, claims: dict[str, Any]) -> list[str]:
    """Where the journal no longer matches a receipt's claims (empty when it does)."""
    run_id = str(claims["run"])
    run = await store.get_run(run_id)
    if run is None:
        return [f"run {run_id} is not in the journal (deleted, or another database)"]
    problems = []
    for name, value in (("workflow", run.workflow), ("workflow_hash", run.workflow_hash)):
        if claims[name] != value:
            problems.append(f"the run's {name} is now {value!r}, the receipt says "
                            f"{claims[name]!r}")
    _, brk = await verify_run(store, run_id)
    if brk is not None:
        problems.append(f"the run's chain is broken at "
                        f"{'event ' + str(brk.seq) if brk.seq else 'the run record'}: "
                        f"{brk.reason}")
    count = int(claims["events"])
    events = await store.events(run_id, after_seq=count - 1, resolve_blobs=False)
    at = next((e for e in events if e.seq == count), None)
    if at is None:
        problems.append(f"the journal holds {run.last_seq} events, the receipt {count}: "
                        "events were removed")
    elif at.hash != claims["head_hash"]:
        problems.append(f"event {count}'s hash is {at.hash[:12]}, the receipt says "
                        f"{str(claims['head_hash'])[:12]}: the history was rewritten")
    elif run.last_seq == count and run.status != claims["outcome"]:
        problems.append(f"the run's status is {run.status}, the receipt says "
                        f"{claims['outcome']}")
    return problems


async def verify_receipt(token: str, public_key: Path,
                         store: JournalStore | None = None) -> ReceiptCheck:
    """Check a receipt's signature and, with a store, that the journal still matches it."""
    check = ReceiptCheck(read_receipt(token, public_key))
    if store is not None:
        check.problems = await check_against_journal(store, check.claims)
        check.journal_checked = True
    return check
