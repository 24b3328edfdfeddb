"""A mail as a run's input: headers, the text of its body (HTML turned into text), and its
attachments stored as blobs of the journal (name, type, size, SHA-256, blob digest).

Everything here is outside content — the sender, the subject, the body and the attachments'
names are whatever the sender wrote — so the run it starts is marked untrusted
(``meta.input_trust``) and the guardians treat it so.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses, parsedate_to_datetime
from typing import Any

from agentplane.journal import JournalStore
from agentplane.knowledge.loaders import html_text

MAX_TEXT_CHARS = 200_000
"""Longer bodies are cut (and marked) so one mail cannot fill a run's input."""


@dataclass(frozen=True, slots=True)
class Attachment:
    name: str
    content_type: str
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass(frozen=True, slots=True)
class ParsedMail:
    """The parts of a message a run reads."""

    sender: str
    to: list[str]
    cc: list[str]
    subject: str
    date: str | None
    """ISO 8601, from the ``Date`` header (as the sender wrote it), or None."""
    message_id: str | None
    in_reply_to: str | None
    text: str
    attachments: list[Attachment]


def _addresses(message: EmailMessage, header: str) -> list[str]:
    values = [str(v) for v in message.get_all(header, [])]
    return [addr for _, addr in getaddresses(values) if addr]


def _date(message: EmailMessage) -> str | None:
    raw = message.get("Date")
    if not raw:
        return None
    try:
        return parsedate_to_datetime(str(raw)).isoformat()
    except (TypeError, ValueError):
        return None  # a malformed Date header: the mail is still read


def _text(message: EmailMessage) -> str:
    """The body as text: the plain part, else the HTML part as text, else nothing."""
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, ValueError):  # an unknown charset: decode what can be decoded
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    text = str(content)
    if part.get_content_type() == "text/html":
        text = html_text(text)[0]
    text = text.replace("\r\n", "\n").strip()
    if len(text) > MAX_TEXT_CHARS:
        text = text[:MAX_TEXT_CHARS] + "\n[cut: the body is longer]"
    return text


def _attachments(message: EmailMessage) -> list[Attachment]:
    out = []
    for i, part in enumerate(message.iter_attachments()):
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        name = part.get_filename() or f"attachment-{i + 1}"
        out.append(Attachment(name, part.get_content_type(), data))
    return out


def parse_mail(raw: bytes) -> ParsedMail:
    """A message (RFC 5322 bytes) parsed; a malformed one gives what could be read."""
    message = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)  # policy.default builds EmailMessage
    senders = _addresses(message, "From")
    mid = message.get("Message-ID")
    reply = message.get("In-Reply-To")
    return ParsedMail(
        sender=senders[0] if senders else "",
        to=_addresses(message, "To"),
        cc=_addresses(message, "Cc"),
        subject=str(message.get("Subject", "")).strip(),
        date=_date(message),
        message_id=str(mid).strip() if mid else None,
        in_reply_to=str(reply).strip() if reply else None,
        text=_text(message),
        attachments=_attachments(message),
    )


async def store_attachment(store: JournalStore, attachment: Attachment) -> dict[str, Any]:
    """Keep an attachment as a blob of the journal (JSON: its bytes in base64); returns what
    the run's input says of it."""
    digest = await store.put_blob({
        "name": attachment.name, "type": attachment.content_type,
        "encoding": "base64", "data": base64.b64encode(attachment.data).decode("ascii")})
    return {"name": attachment.name, "type": attachment.content_type,
            "size": len(attachment.data), "sha256": attachment.sha256, "blob": digest}


async def attachment_bytes(store: JournalStore, blob: str) -> bytes:
    """The bytes of an attachment stored by :func:`store_attachment`."""
    value = await store.get_blob(blob)
    return base64.b64decode(value["data"])


async def mail_input(store: JournalStore, mail: ParsedMail, *, mailbox: str, uid: int,
                     uidvalidity: int) -> dict[str, Any]:
    """The input of the run a mail starts; its attachments are stored as blobs first."""
    return {
        "mailbox": mailbox, "uid": uid, "uidvalidity": uidvalidity,
        "from": mail.sender, "to": mail.to, "cc": mail.cc, "subject": mail.subject,
        "date": mail.date, "message_id": mail.message_id, "in_reply_to": mail.in_reply_to,
        "text": mail.text,
        "attachments": [await store_attachment(store, a) for a in mail.attachments],
    }
