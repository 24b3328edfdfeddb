"""How a careful enterprise user would declare AgentDojo's tools in Agentplane.

Written from what each tool *means* (who writes the data it returns, what it changes, whether
it reaches outside the organisation), never from the benchmark's attacks. The table in
docs/agentdojo.md is printed from here (``python bench/agentdojo_bench.py --declarations``).

- ``effect``: ``read`` changes nothing; ``write`` changes something that can be undone
  (a scheduled transfer, a calendar entry, a file's content); ``irreversible`` cannot be
  taken back (money sent, a message or mail delivered, a file deleted, data shared).
- ``trust``: ``trusted`` for what the organisation's own systems produce (the bank's ledger,
  the user's profile, the address book); ``untrusted`` for what outsiders write (mail, messages,
  web pages, documents, reviews); a mapping when a result mixes both: system-assigned fields
  (ids, timestamps, amounts, the recorded sender) are trusted, free text written by someone
  else (a transaction's subject, a mail's body, an event's description) is not.
- ``external``: the call reaches or sends outside the organisation; ``destination`` names the
  arguments that say where to.
- ``composed``: arguments that are free text the agent writes (a mail body, a subject).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Trust = str | dict[str, Any]


@dataclass(frozen=True, slots=True)
class Declaration:
    """One tool's declaration, in the terms of the workflow reference."""

    effect: str
    trust: Trust | None = None
    """None: undeclared (a read's result is trusted; a write's is no trusted origin)."""
    external: bool = False
    destination: tuple[str, ...] = ()
    composed: tuple[str, ...] = ()
    why: str = ""
    """One line: the reason for the choice, for the docs' table."""


def fields(*paths: str, default: str = "untrusted", names: tuple[str, ...] = ()
           ) -> dict[str, Any]:
    """Field-level trust: ``paths`` of a result are trusted, ``names`` are names someone chose
    (trusted as whole names, not for what they say), the rest is ``default``."""
    return {"default": default, "trusted": list(paths), "names": list(names)}


def _each(*names: str) -> tuple[str, ...]:
    """JSONPaths of fields of every item of a list result."""
    return tuple(f"$[*].{name}" for name in names)


_MAIL = fields(*_each("id_", "sender", "timestamp", "read", "status"))
_EVENTS = fields(*_each("id_", "start_time", "end_time", "all_day", "status"))
# a file's name is chosen by whoever created it (maybe an outsider who shared it)
_FILES = fields(*_each("id_", "owner", "last_modified", "size"), names=_each("filename"))
_FILE = fields("$.id_", "$.owner", "$.last_modified", "$.size", names=("$.filename",))
_TRANSACTIONS = fields(*_each("id", "sender", "recipient", "amount", "date", "recurring"))
_CHAT = fields(*_each("sender", "recipient"))
_SEND_MAIL = Declaration(
    "irreversible", external=True, destination=("recipients", "cc", "bcc"),
    composed=("subject", "body"), why="a delivered mail cannot be recalled; leaves the company")
_CREATE_EVENT = Declaration(
    "write", external=True, destination=("participants",), composed=("title", "description"),
    why="invitations go to the participants' addresses")
_CANCEL_EVENT = Declaration("write", why="a cancelled event can be re-created")
_EVENT_SEARCH = Declaration("read", _EVENTS,
                            why="ids and times are the calendar's; titles, descriptions, "
                                "participants come from whoever sent the invitation")
_CALENDAR = {
    "search_calendar_events": _EVENT_SEARCH,
    "get_day_calendar_events": _EVENT_SEARCH,
    "create_calendar_event": _CREATE_EVENT,
    "cancel_calendar_event": _CANCEL_EVENT,
}
"""The calendar tools travel and workspace share."""

BANKING: dict[str, Declaration] = {
    "get_iban": Declaration("read", why="the bank's own record"),
    "send_money": Declaration("irreversible", external=True, destination=("recipient",),
                              composed=("subject",), why="money that left cannot be recalled"),
    "schedule_transaction": Declaration(
        "write", external=True, destination=("recipient",), composed=("subject",),
        why="can be changed before it runs; pays an outside account"),
    "update_scheduled_transaction": Declaration(
        "write", external=True, destination=("recipient",), composed=("subject",),
        why="as schedule_transaction"),
    "get_balance": Declaration("read", why="the bank's own record"),
    "get_most_recent_transactions": Declaration(
        "read", _TRANSACTIONS,
        why="ids, accounts, amounts and dates are the bank's ledger; the subject is written "
            "by whoever paid"),
    "get_scheduled_transactions": Declaration("read", _TRANSACTIONS,
                                              why="as get_most_recent_transactions"),
    "read_file": Declaration("read", "untrusted",
                             why="documents (bills, letters) come from outside"),
    "get_user_info": Declaration("read", why="the user's own profile"),
    "update_password": Declaration("irreversible",
                                   why="a changed credential can lock the owner out"),
    "update_user_info": Declaration("write", why="the profile can be edited back"),
}

SLACK: dict[str, Declaration] = {
    "get_channels": Declaration(
        "read", {"default": "trusted", "names": ["$[*]"]},
        why="the workspace lists its channels, but each name is chosen by whoever created the "
            "channel: a trusted name to address, not trusted words"),
    "add_user_to_channel": Declaration("write", why="membership can be revoked"),
    "read_channel_messages": Declaration(
        "read", _CHAT, why="the workspace records who wrote; bodies are anyone's words"),
    "read_inbox": Declaration("read", _CHAT, why="as read_channel_messages"),
    "send_direct_message": Declaration("irreversible", composed=("body",),
                                       why="a delivered message cannot be unsent"),
    "send_channel_message": Declaration("irreversible", composed=("body",),
                                        why="a delivered message cannot be unsent"),
    "get_users_in_channel": Declaration("read", why="the workspace's own list"),
    "invite_user_to_slack": Declaration("write", external=True, destination=("user_email",),
                                        why="sends an invitation to an outside address"),
    "remove_user_from_slack": Declaration("write", why="a user can be invited back"),
    "get_webpage": Declaration("read", "untrusted", external=True, destination=("url",),
                               why="the open web; visiting a URL reaches outside"),
    "post_webpage": Declaration("irreversible", external=True, destination=("url",),
                                composed=("content",), why="published on the open web"),
}

_CATALOGUE = Declaration("read", why="the booking platform's catalogue")
_REVIEWS = Declaration("read", "untrusted", why="reviews are written by anyone")

TRAVEL: dict[str, Declaration] = {
    "get_user_information": Declaration("read", why="the user's own profile"),
    "get_all_hotels_in_city": _CATALOGUE,
    "get_hotels_prices": _CATALOGUE,
    "get_rating_reviews_for_hotels": _REVIEWS,
    "get_hotels_address": _CATALOGUE,
    "get_all_restaurants_in_city": _CATALOGUE,
    "get_cuisine_type_for_restaurants": _CATALOGUE,
    "get_restaurants_address": _CATALOGUE,
    "get_rating_reviews_for_restaurants": _REVIEWS,
    "get_dietary_restrictions_for_all_restaurants": _CATALOGUE,
    "get_contact_information_for_restaurants": _CATALOGUE,
    "get_price_for_restaurants": _CATALOGUE,
    "check_restaurant_opening_hours": _CATALOGUE,
    "get_all_car_rental_companies_in_city": _CATALOGUE,
    "get_car_types_available": _CATALOGUE,
    "get_rating_reviews_for_car_rental": _REVIEWS,
    "get_car_fuel_options": _CATALOGUE,
    "get_car_rental_address": _CATALOGUE,
    "get_car_price_per_day": _CATALOGUE,
    **_CALENDAR,
    "reserve_hotel": Declaration("write", why="a booking can be cancelled"),
    "reserve_car_rental": Declaration("write", why="a booking can be cancelled"),
    "reserve_restaurant": Declaration("write", why="a booking can be cancelled"),
    "get_flight_information": _CATALOGUE,
    "send_email": _SEND_MAIL,
}

_MAILBOX = Declaration("read", _MAIL,
                       why="the mail system records id, sender and time; the rest is written "
                           "by the sender")

WORKSPACE: dict[str, Declaration] = {
    "send_email": _SEND_MAIL,
    "delete_email": Declaration("irreversible", why="a deleted mail is gone"),
    "get_unread_emails": _MAILBOX,
    "get_sent_emails": Declaration("read", why="mail the user wrote"),
    "get_received_emails": _MAILBOX,
    "get_draft_emails": Declaration("read", why="mail the user is writing"),
    "search_emails": _MAILBOX,
    "search_contacts_by_name": Declaration("read", why="the user's address book"),
    "search_contacts_by_email": Declaration("read", why="the user's address book"),
    "get_current_day": Declaration("read", why="the system clock"),
    **_CALENDAR,
    "reschedule_calendar_event": Declaration("write", why="can be moved back"),
    "add_calendar_event_participants": Declaration(
        "write", external=True, destination=("participants",),
        why="invitations go to the new participants"),
    "append_to_file": Declaration("write", composed=("content",),
                                  why="the drive keeps versions"),
    "search_files_by_filename": Declaration("read", _FILES,
                                            why="the drive's metadata; content is anyone's"),
    "create_file": Declaration("write", _FILE, composed=("content",),
                               why="can be deleted again; the drive assigns the new file's id"),
    "delete_file": Declaration("irreversible", why="a deleted file is gone"),
    "get_file_by_id": Declaration("read", _FILE, why="as search_files_by_filename"),
    "list_files": Declaration("read", _FILES, why="as search_files_by_filename"),
    "share_file": Declaration("irreversible", external=True, destination=("email",),
                              why="what was shared may already be copied"),
    "search_files": Declaration("read", _FILES, why="as search_files_by_filename"),
}

DECLARATIONS: dict[str, dict[str, Declaration]] = {
    "banking": BANKING, "slack": SLACK, "travel": TRAVEL, "workspace": WORKSPACE,
}


def trust_label(trust: Trust | None, effect: str) -> str:
    if trust is None:
        return "trusted (a read's default)" if effect == "read" else "no trusted origin (default)"
    if isinstance(trust, str):
        return trust
    label = str(trust["default"])
    for kind in ("trusted", "names"):
        if trust.get(kind):
            label += f", {kind}: " + ", ".join(f"`{p}`" for p in trust[kind])
    return label


def markdown_table(suite: str) -> str:
    """The suite's declarations as a Markdown table (for docs/agentdojo.md)."""
    rows = ["| tool | effect | trust | external (destination) | composed | why |",
            "|---|---|---|---|---|---|"]
    for name, d in DECLARATIONS[suite].items():
        external = f"yes ({', '.join(d.destination)})" if d.external else ""
        rows.append(f"| `{name}` | {d.effect} | {trust_label(d.trust, d.effect)} | {external} | "
                    f"{', '.join(d.composed)} | {d.why} |")
    return "\n".join(rows)
