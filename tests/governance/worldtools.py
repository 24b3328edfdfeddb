"""Tools of the provenance-class tests: a tiny world with pages, files and a bank; every side
effect lands in EFFECTS. PAGES and FILES are set by each test."""

from __future__ import annotations

from typing import Any

EFFECTS: list[tuple[str, dict[str, Any]]] = []
PAGES: dict[str, str] = {}
FILES: dict[str, dict[str, str]] = {}
MAILS: list[str] = []


def read_page(url: str) -> str:
    """Fetch a web page (reaches outside)."""
    return PAGES.get(url, f"404 for {url}")


def read_mail() -> str:
    """Read the inbox."""
    return "\n".join(MAILS)


def list_files() -> dict[str, Any]:
    """The drive: ids and sizes are the system's, names and contents are the users'."""
    return {"files": [{"id": k, "name": v["name"], "content": v["content"]}
                      for k, v in FILES.items()]}


def delete_file(file_id: str) -> str:
    """Delete a file for good."""
    EFFECTS.append(("delete_file", {"file_id": file_id}))
    return f"deleted {file_id}"


def send_money(recipient: str, amount: float, subject: str, date: str) -> dict[str, Any]:
    """Send money (irreversible)."""
    EFFECTS.append(("send_money", {"recipient": recipient, "amount": amount, "date": date}))
    return {"status": "sent"}


def schedule_transfer(recipient: str, amount: float, subject: str) -> dict[str, Any]:
    """Schedule a transfer (a write) and echo what was scheduled."""
    EFFECTS.append(("schedule_transfer", {"recipient": recipient, "amount": amount}))
    return {"scheduled": {"recipient": recipient, "amount": amount, "subject": subject}}


def set_password(password: str) -> str:
    """Change the user's password (irreversible)."""
    EFFECTS.append(("set_password", {"password": password}))
    return "changed"


def book_hotel(hotel: str, start: str, end: str) -> str:
    """Book a hotel (a write)."""
    EFFECTS.append(("book_hotel", {"hotel": hotel, "start": start, "end": end}))
    return f"booked {hotel}"


def invite_user(user: str, email: str) -> str:
    """Invite someone to the workspace (a write that sends mail outside)."""
    EFFECTS.append(("invite_user", {"user": user, "email": email}))
    return f"invited {user}"


CHANNELS: list[str] = []


def list_channels() -> list[str]:
    """The workspace's channels (names are chosen by whoever created the channel)."""
    return list(CHANNELS)


def post_message(channel: str, body: str) -> str:
    """Post to a channel (irreversible: a delivered message cannot be unsent)."""
    EFFECTS.append(("post_message", {"channel": channel, "body": body}))
    return "posted"


def get_invoice() -> dict[str, Any]:
    """The accounting system's open invoice (trusted: the system's own figures)."""
    return {"id": "INV-1302", "total": 480.0, "account": "5550001234"}


def write_note(body: str) -> str:
    """Write a note for the user (a write: it can be deleted again)."""
    EFFECTS.append(("write_note", {"body": body}))
    return "written"
