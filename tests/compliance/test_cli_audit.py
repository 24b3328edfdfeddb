"""The audit commands as a person runs them: keygen, receipt, verify-receipt, checkpoint and
``audit verify --against`` on a real SQLite file."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from agentplane.journal import open_store
from tests.cli.harness import make_cli

from .conftest import populate, truncate


async def _journal(url: str) -> None:
    store = open_store(url)
    try:
        await populate(store)
    finally:
        await store.close()


async def test_receipt_and_checkpoint_commands(tmp_path: Path) -> None:
    cli = make_cli(tmp_path)
    await _journal(cli.db_url)
    keygen = cli.ok("audit", "keygen")
    key = tmp_path / "audit-key.pem"
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    assert key.read_text() not in keygen.stdout + keygen.stderr

    token = cli.ok("audit", "receipt", "run-b").stdout.strip()
    public = tmp_path / "audit-key.pub.pem"
    verified = cli.ok("audit", "verify-receipt", token, "--public-key", public, "--db",
                      cli.db_url)
    assert "signature holds" in verified.stdout and "journal still matches" in verified.stdout
    header, payload, signature = token.split(".")
    forged = cli("audit", "verify-receipt", f"{header}.{payload[:-2]}AA.{signature}",
                 "--public-key", public)
    assert forged.returncode == 1 and "receipt invalid" in forged.stdout

    checkpoints = tmp_path / "checkpoints.jsonl"
    assert "3 runs recorded" in cli.ok("audit", "checkpoint", "--to", checkpoints).stdout
    cli.ok("audit", "verify", "--against", checkpoints, "--public-key", public)

    store = open_store(cli.db_url)
    try:
        truncate(store, "run-b", keep=4)
    finally:
        await store.close()
    cli.ok("audit", "verify")  # the chain alone still holds
    found = cli("audit", "verify", "--against", checkpoints, "--public-key", public)
    assert found.returncode == 1
    assert "chain broken in run run-b at event 5" in found.stdout
    differs = cli("audit", "verify-receipt", token, "--public-key", public, "--db", cli.db_url)
    assert differs.returncode == 1 and "events were removed" in differs.stdout


def test_serve_writes_checkpoints_periodically(tmp_path: Path) -> None:
    import subprocess
    import time

    from tests.cli.harness import AGENTPLANE
    from tests.server.live import free_port

    cli = make_cli(tmp_path)
    cli.ok("audit", "keygen")
    bad = cli("serve", "--checkpoints", tmp_path / "c.jsonl", "--checkpoint-every", "soon")
    assert bad.returncode == 2 and "is not a period" in bad.stderr
    checkpoints = tmp_path / "checkpoints.jsonl"
    proc = subprocess.Popen([AGENTPLANE, "serve", "--port", str(free_port()),
                             "--checkpoints", str(checkpoints), "--checkpoint-every", "1s"],
                            env=cli.env(), cwd=tmp_path, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        for _ in range(600):  # a bound on the wait, not a timing assertion
            if checkpoints.exists() and len(checkpoints.read_text().splitlines()) >= 2:
                break
            time.sleep(0.1)
    finally:
        proc.terminate()
        proc.wait(30)
    assert len(checkpoints.read_text().splitlines()) >= 2
    cli.ok("audit", "verify", "--against", checkpoints, "--public-key",
           tmp_path / "audit-key.pub.pem")
