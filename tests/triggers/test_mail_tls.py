"""The mail trigger over IMAPS (``tls: true``, the default): Dovecot with a throwaway
self-signed certificate for 127.0.0.1, which the test makes the only trusted one. The server's
certificate is verified: an untrusted one is a connection failure, counted, and no run starts."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentplane.runtime import Runtime, load_workflow
from agentplane.triggers.mail import MailPoller
from agentplane.triggers.mail_local import LocalDovecot
from agentplane.triggers.store import TriggerStore

from .mail_servers import ENV, PASSWORD, USER, mail_workflow, message, require_dovecot


def _self_signed(folder: Path, name: str) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 signed by its own key (PEM files)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / f"{name}.pem", folder / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_path.chmod(0o600)
    return cert_path, key_path


@pytest.fixture
def imaps(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalDovecot]:
    require_dovecot()
    cert, key = _self_signed(tmp_path_factory.mktemp("tls"), "imap-test")
    with LocalDovecot({USER: PASSWORD}, cert=cert, key=key) as server:
        yield server


async def test_a_mail_over_imaps_starts_its_run(
        imaps: LocalDovecot, tmp_path: Path, runtime: Runtime, triggers: TriggerStore,
        monkeypatch: pytest.MonkeyPatch) -> None:
    assert imaps.cert is not None
    monkeypatch.setenv("SSL_CERT_FILE", str(imaps.cert))  # the throwaway CA, and only it
    imaps.deliver(USER, message(1, subject="Over TLS"))
    workflow = load_workflow(mail_workflow(tmp_path, imaps, idle=False, tls=True))
    poller = MailPoller(runtime, workflow, "inbox", store=triggers, env=ENV)
    try:
        [fired] = await poller.check()
    finally:
        await poller.aclose()
    assert fired.started
    [recorded] = triggers.fires("default", "mailbox")
    assert (recorded.run_id, recorded.detail["subject"]) == (fired.run_id, "Over TLS")


async def test_an_untrusted_certificate_is_refused(
        imaps: LocalDovecot, tmp_path: Path, runtime: Runtime, triggers: TriggerStore,
        monkeypatch: pytest.MonkeyPatch) -> None:
    other, _ = _self_signed(tmp_path, "someone-else")
    monkeypatch.setenv("SSL_CERT_FILE", str(other))
    imaps.deliver(USER, message(1))
    workflow = load_workflow(mail_workflow(tmp_path, imaps, idle=False, tls=True, poll_s=0.1))
    poller = MailPoller(runtime, workflow, "inbox", store=triggers, env=ENV)
    stop = asyncio.Event()
    task = asyncio.create_task(poller.run(stop))
    async with asyncio.timeout(60):
        while triggers.state("default", "mailbox", "inbox").failures == 0:
            await asyncio.sleep(0.05)
    stop.set()
    async with asyncio.timeout(30):
        await task
    state = triggers.state("default", "mailbox", "inbox")
    assert state.last_error is not None and "CERTIFICATE_VERIFY_FAILED" in state.last_error
    assert triggers.fires("default", "mailbox") == []
