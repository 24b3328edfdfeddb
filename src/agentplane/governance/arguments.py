"""Which arguments of a call select or address something, and which are free text the agent
composes; which say where an external call goes.

A tool may declare ``composed: [body, subject]`` and ``destination: [url]``; otherwise they come
from the argument's name (and, for composed text, its JSON Schema: ``"x-composed": true``):

- composed text: ``body``, ``content``, ``message``, ``text``, ``description``, ``summary``,
  ``note(s)``, ``comment(s)``, ``subject``, ``title``, ``reason``, ``caption``, ``reply``,
  ``answer``, ``prompt``, ``task``, ``reference``, ``memo``, ``purpose``, ``remark(s)``, and
  names ending in one of them (``email_body``);
- destinations: ``url``, ``uri``, ``link``, ``href``, ``endpoint``, ``webhook``, ``to``, ``cc``,
  ``bcc``, ``recipient(s)``, ``email(s)``, ``address``, ``destination``, ``phone``, and names
  ending in ``_url``, ``_uri``, ``_link``, ``_email``, ``_address``, ``_recipient(s)``,
  ``_phone``;
- amounts (which may be computed from two trusted amounts): ``amount``, ``price``, ``total``,
  ``sum``, ``cost``, ``fee``, and names ending in one of them (``new_amount``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

COMPOSED_NAMES = frozenset({
    "body", "content", "message", "text", "description", "summary", "note", "notes", "comment",
    "comments", "subject", "title", "reason", "caption", "reply", "answer", "prompt", "task",
    "reference", "memo", "purpose", "remark", "remarks"})
DESTINATION_NAMES = frozenset({
    "url", "uri", "link", "href", "endpoint", "webhook", "to", "cc", "bcc", "recipient",
    "recipients", "email", "emails", "address", "destination", "phone", "phone_number"})
_DESTINATION_SUFFIXES = ("_url", "_uri", "_link", "_email", "_emails", "_address",
                         "_recipient", "_recipients", "_phone")


def _words(name: str) -> list[str]:
    return [w for w in name.lower().replace("-", "_").split("_") if w]


def composed_arguments(names: Iterable[str], schema: Mapping[str, Any] | None = None,
                       declared: Iterable[str] | None = None) -> frozenset[str]:
    """The arguments of a call that are free text the agent composes."""
    if declared is not None:
        return frozenset(declared)
    properties = (schema or {}).get("properties") or {}
    found = set()
    for name in names:
        prop = properties.get(name) if isinstance(properties, Mapping) else None
        words = _words(name)
        if (isinstance(prop, Mapping) and prop.get("x-composed") is True) or (
                words and words[-1] in COMPOSED_NAMES):
            found.add(name)
    return frozenset(found)


def destination_arguments(names: Iterable[str],
                          declared: Iterable[str] | None = None) -> frozenset[str]:
    """The arguments of an external call that say where it goes."""
    if declared is not None:
        return frozenset(declared)
    return frozenset(n for n in names if n.lower() in DESTINATION_NAMES
                     or n.lower().endswith(_DESTINATION_SUFFIXES))


AMOUNT_NAMES = frozenset({"amount", "price", "total", "sum", "cost", "fee"})


def is_amount_argument(path: str) -> bool:
    """Whether an argument (path ``items[0].amount``) holds an amount of money."""
    name = path.rsplit(".", 1)[-1].split("[", 1)[0]
    words = _words(name)
    return bool(words) and words[-1] in AMOUNT_NAMES
