"""C2PA manifests on a real PNG and a real PDF, signed with a throwaway certificate chain made
at test time (ES256 and Ed25519): read back with producer, models and run; a changed file,
another CA and an unsigned file are found out."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from agentplane.compliance.provenance import ProvenanceError, sign_file, verify_file

from .certs import make_identity, write_pdf, write_png


@pytest.mark.parametrize("algorithm", ["es256", "ed25519"])
@pytest.mark.parametrize("kind", ["png", "pdf"])
def test_sign_and_verify(tmp_path: Path, algorithm: str, kind: str) -> None:
    identity, anchor = make_identity(tmp_path, algorithm)
    source = (write_png if kind == "png" else write_pdf)(tmp_path / f"chart.{kind}")
    before = hashlib.sha256(source.read_bytes()).hexdigest()
    signed = tmp_path / f"signed.{kind}"
    label = sign_file(source, signed, identity, run_id="run-7", models=["openai:gpt-4.1"],
                      time="2026-12-03T12:00:00Z")
    assert label["content_sha256"] == before
    found = verify_file(signed)
    assert found.ok and found.state == "Valid" and not found.failures
    assert (found.label["producer"], found.label["run_id"], found.label["models"],
            found.label["content_sha256"]) == ("Agentplane", "run-7", ["openai:gpt-4.1"], before)
    assert "Agentplane" in found.generator
    assert verify_file(signed, anchor).state == "Trusted"


def test_a_changed_file_or_another_ca_does_not_verify(tmp_path: Path) -> None:
    identity, _ = make_identity(tmp_path)
    signed = tmp_path / "signed.png"
    sign_file(write_png(tmp_path / "a.png"), signed, identity, run_id="r", models=[],
              time="t")
    data = bytearray(signed.read_bytes())
    data[data.find(b"IDAT") + 10] ^= 0xFF  # one pixel byte changed after signing
    changed = tmp_path / "changed.png"
    changed.write_bytes(bytes(data))
    found = verify_file(changed)
    assert not found.ok and any("dataHash.mismatch" in f for f in found.failures)

    other = tmp_path / "other"
    other.mkdir()
    _, other_anchor = make_identity(other)
    untrusted = verify_file(signed, other_anchor)
    assert not untrusted.ok and any("untrusted" in f for f in untrusted.failures)


def test_unsigned_and_unsupported_files_are_refused(tmp_path: Path) -> None:
    identity, _ = make_identity(tmp_path)
    with pytest.raises(ProvenanceError, match="no readable C2PA manifest"):
        verify_file(write_png(tmp_path / "plain.png"))
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(ProvenanceError, match="PNG, JPEG and PDF"):
        sign_file(text, text, identity, run_id="r", models=[], time="t")


async def test_provenance_commands(tmp_path: Path) -> None:
    from agentplane.journal import EventType, open_store
    from tests.cli.harness import make_cli

    from .conftest import populate

    cli = make_cli(tmp_path)
    store = open_store(cli.db_url)
    try:
        await populate(store)
    finally:
        await store.close()
    identity, anchor = make_identity(tmp_path)
    chart = write_png(tmp_path / "chart.png")
    cli.ok("provenance", "sign", chart, "--run", "run-a", "--cert",
           identity.certificate_chain, "--cert-key", identity.private_key)
    shown = cli.ok("provenance", "verify", chart, "--trust", anchor)
    assert "Trusted" in shown.stdout and "run run-a" in shown.stdout
    assert "producer Agentplane" in shown.stdout
    store = open_store(cli.db_url)
    try:
        last = (await store.events("run-a"))[-1]
        assert last.type == EventType.CONTENT_LABELLED and last.data["file"] == "chart.png"
    finally:
        await store.close()
    cli.ok("audit", "verify")
    plain = write_png(tmp_path / "plain.png")
    refused = cli("provenance", "verify", plain)
    assert refused.returncode != 0 and "no readable C2PA manifest" in refused.stderr
