"""Helpers of the mail trigger tests: a Dovecot of the test's own (skipped with the reason when
the binary is absent, unless ``AGENTPLANE_REQUIRE_MAIL=1``), messages to deliver, and the
workflow a mail trigger on it starts."""

from __future__ import annotations

import os
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from agentplane.triggers.mail_local import LocalDovecot, dovecot_binary

from .conftest import write_workflow

USER, PASSWORD = "desk", "s3cret-pw-for-tests"
ENV = {"DESK_MAIL_USER": USER, "DESK_MAIL_PASSWORD": PASSWORD}


def require_dovecot() -> None:
    if dovecot_binary() is None:
        reason = "the dovecot binary is absent (Debian: apt-get install dovecot-imapd)"
        if os.environ.get("AGENTPLANE_REQUIRE_MAIL") == "1":
            pytest.fail(reason)
        pytest.skip(reason)


def dovecot_server() -> Iterator[LocalDovecot]:
    require_dovecot()
    with LocalDovecot({USER: PASSWORD}) as server:
        yield server


def message(n: int, *, subject: str | None = None, body: str | None = None,
            html: str | None = None,
            attachments: list[tuple[str, str, bytes]] = ()) -> EmailMessage:  # type: ignore[assignment]
    mail = EmailMessage()
    mail["From"] = f"Sender {n} <sender{n}@example.org>"
    mail["To"] = "desk@example.com"
    mail["Subject"] = subject or f"Request number {n}"
    mail["Date"] = "Thu, 03 Dec 2026 09:00:00 +0000"
    mail["Message-ID"] = f"<m{n}@example.org>"
    mail.set_content(body or f"Hello desk, this is message {n}.")
    if html is not None:
        mail.add_alternative(html, subtype="html")
    for name, kind, data in attachments:
        main, sub = kind.split("/")
        mail.add_attachment(data, maintype=main, subtype=sub, filename=name)
    return mail


def mail_workflow(folder: Path, server: LocalDovecot, **mail: Any) -> Path:
    return write_workflow(folder, name="mailbox", triggers=[{"name": "inbox", "mail": {
        "host": server.host, "port": server.port, "tls": False,
        "user_env": "DESK_MAIL_USER", "password_env": "DESK_MAIL_PASSWORD", **mail}}])


def pending(server: LocalDovecot, keyword: str = "$AgentplaneDone") -> list[int]:
    """Messages of the desk's inbox without the done keyword."""
    client = server.client(USER)
    try:
        client.select_folder("INBOX")
        return sorted(int(u) for u in client.search(["UNKEYWORD", keyword]))
    finally:
        client.logout()
