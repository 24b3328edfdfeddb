"""Signed receipts: verifiable offline with the public key alone, invalid when any claim is
changed or another key signed, and — against the database — found out when the journal no
longer matches."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from agentplane.compliance import keys
from agentplane.compliance.keys import SigningKeyError
from agentplane.compliance.receipts import ReceiptError, make_receipt, verify_receipt
from agentplane.journal import JournalStore

from .conftest import rewrite_tail, truncate


async def test_a_receipt_verifies_offline_and_against_the_journal(
        store: JournalStore, key_pair: tuple[Path, Path]) -> None:
    token = await make_receipt(store, "run-b", key_pair[0])
    assert token.count(".") == 2  # compact JWS
    run = await store.require_run("run-b")
    offline = await verify_receipt(token, key_pair[1])
    assert offline.ok and not offline.journal_checked
    claims = offline.claims
    assert (claims["run"], claims["workflow_hash"], claims["head_hash"], claims["events"],
            claims["outcome"]) == ("run-b", run.workflow_hash, run.head_hash, 6, "completed")
    online = await verify_receipt(token, key_pair[1], store)
    assert online.ok and online.journal_checked


def _forge(token: str, **changes: object) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(keys.unb64url(payload))
    claims.update(changes)
    return ".".join([header, keys.b64url(json.dumps(claims).encode()), signature])


@pytest.mark.parametrize("change", [{"outcome": "failed"}, {"events": 5},
                                    {"head_hash": "0" * 64}, {"run": "run-a"}])
async def test_a_changed_claim_makes_the_receipt_invalid(store: JournalStore,
                                                         key_pair: tuple[Path, Path],
                                                         change: dict[str, object]) -> None:
    token = await make_receipt(store, "run-b", key_pair[0])
    with pytest.raises(ReceiptError, match="signature does not match"):
        await verify_receipt(_forge(token, **change), key_pair[1])


async def test_another_key_makes_the_receipt_invalid(store: JournalStore,
                                                     key_pair: tuple[Path, Path],
                                                     tmp_path: Path) -> None:
    token = await make_receipt(store, "run-b", key_pair[0])
    keys.generate(tmp_path / "k2.pem", tmp_path / "k2.pub.pem")
    with pytest.raises(ReceiptError):
        await verify_receipt(token, tmp_path / "k2.pub.pem")
    with pytest.raises(ReceiptError, match="not a valid receipt"):
        await verify_receipt("not.a.receipt", key_pair[1])


async def test_the_journal_check_finds_truncation_and_rewriting(
        store: JournalStore, key_pair: tuple[Path, Path]) -> None:
    token = await make_receipt(store, "run-b", key_pair[0])
    rewrite_tail(store, "run-b", 5, {"result": {"refunded": 50}})
    check = await verify_receipt(token, key_pair[1], store)
    assert not check.ok and "history was rewritten" in check.problems[0]
    truncate(store, "run-b", keep=4)
    check = await verify_receipt(token, key_pair[1], store)
    assert check.problems == ["the journal holds 4 events, the receipt 6: events were removed"]


def test_keygen_writes_a_private_key_only_its_owner_reads(tmp_path: Path) -> None:
    private, public = tmp_path / "k.pem", tmp_path / "k.pub.pem"
    kid = keys.generate(private, public)
    assert stat.S_IMODE(os.stat(private).st_mode) == 0o600
    assert kid == keys.key_id(keys.load_public(public))
    with pytest.raises(SigningKeyError, match="already exists"):
        keys.generate(private, tmp_path / "other.pub.pem")
    with pytest.raises(SigningKeyError, match="not an unencrypted PEM private key"):
        keys.load_private(public)
