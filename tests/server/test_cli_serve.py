"""``agentplane keys`` and ``agentplane serve`` as a person runs them: a real process, its
stderr, its exit codes."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from agentplane.demo import WORKFLOWS_DIR

from .live import free_port

AGENTPLANE = str(Path(sys.executable).with_name("agentplane"))


def env(home: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AGENTPLANE_", "OTEL_"))}
    return {**clean, "AGENTPLANE_HOME": str(home)}


def cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([AGENTPLANE, *args], env=env(home), capture_output=True, text=True,
                          timeout=60)


def test_keys_are_created_listed_and_revoked(tmp_path: Path) -> None:
    created = cli(tmp_path, "keys", "create", "grafana", "--role", "viewer", "--tenant", "acme")
    assert created.returncode == 0, created.stderr
    secret = created.stdout.strip()
    assert secret.startswith("ap_") and "not shown again" in " ".join(created.stderr.split())
    listed = cli(tmp_path, "keys", "list")
    key_id = secret.split("_")[1]
    assert key_id in listed.stdout and "grafana" in listed.stdout and "acme" in listed.stdout
    assert secret.split("_", 2)[2] not in listed.stdout  # never the secret
    bad = cli(tmp_path, "keys", "create", "x", "--role", "root")
    assert bad.returncode == 2 and "unknown role 'root'" in bad.stderr
    assert "Traceback" not in bad.stderr
    assert cli(tmp_path, "keys", "revoke", key_id).returncode == 0
    assert key_id not in cli(tmp_path, "keys", "list").stdout
    assert key_id in cli(tmp_path, "keys", "list", "--all").stdout
    missing = cli(tmp_path, "keys", "revoke", "nope")
    assert missing.returncode == 3 and "no API key with id 'nope'" in missing.stderr


def test_a_key_name_in_brackets_is_printed_as_typed(tmp_path: Path) -> None:
    """What a person names a key is text, not console markup: "[/]" neither breaks the
    command (after the key was made, losing its secret) nor vanishes from what is printed."""
    name = "ops [/] team [bold]x"
    created = cli(tmp_path, "keys", "create", name, "--tenant", "[acme]")
    assert created.returncode == 0, created.stderr
    assert created.stdout.strip().startswith("ap_")
    said = " ".join(created.stderr.split())
    assert f"({name})" in said and "for tenant [acme]" in said
    revoked = cli(tmp_path, "keys", "revoke", created.stdout.split("_")[1])
    assert f"({name})" in " ".join(revoked.stderr.split())


def test_serve_answers_with_keys_and_logs_json(tmp_path: Path) -> None:
    secret = cli(tmp_path, "keys", "create", "ops", "--role", "operator").stdout.strip()
    port = free_port()
    log = (tmp_path / "serve.log").open("w")
    proc = subprocess.Popen([AGENTPLANE, "serve", str(WORKFLOWS_DIR / "refund-desk.yaml"),
                             "--port", str(port), "--max-input-kb", "1"], env=env(tmp_path),
                            stdout=log,
                            stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):  # a bound on the wait, not a timing assertion
            try:
                if httpx.get(f"{base}/api/v1/health").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        headers = {"Authorization": f"Bearer {secret}"}
        run = httpx.post(f"{base}/api/v1/runs", headers=headers,
                         json={"workflow": "refund-desk", "input": "Refund order A1"})
        assert run.status_code == 201
        big = httpx.post(f"{base}/api/v1/runs", headers=headers,
                         json={"workflow": "refund-desk", "input": "x" * 2_000})
        assert big.status_code == 422 and "the limit is 1 KiB" in big.json()["error"]
        assert httpx.get(f"{base}/api/v1/runs").status_code == 401
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()
    lines = (tmp_path / "serve.log").read_text().splitlines()
    records = [json.loads(line) for line in lines if line.startswith("{")]
    [serving] = [r for r in records if r.get("message") == "serving"]
    assert serving["level"] == "info" and serving["url"] == base
    assert serving["workflows"] == ["refund-desk"]
    assert secret.split("_", 2)[2] not in "\n".join(lines)


def test_serve_refuses_a_bad_log_format(tmp_path: Path) -> None:
    done = cli(tmp_path, "serve", "--log-format", "yaml")
    assert done.returncode == 2 and "--log-format 'yaml'" in done.stderr


def test_serve_says_when_the_port_is_taken(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = cli(tmp_path, "serve", "--port", str(port))
    assert done.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in " ".join(done.stderr.split())
    assert "Traceback" not in done.stderr
