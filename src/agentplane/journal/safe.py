"""The journal's one boundary for untrusted values: everything stored is JSON- and UTF-8-safe.

Values reach the journal from tool results, model replies, run inputs, the API, MCP and A2A.
Any of them may carry text no JSON encoder or SQLite can store (a lone UTF-16 surrogate such as
``"\\udc80"`` is valid in a JSON document and in a Python ``str``, but not in UTF-8), a float
that JSON has no word for (NaN, infinity), or a key that is not a string. Rather than let one
such value fail a write — after a side effect started, losing its record — every event's data,
step key and actor, and every run input, pass through ``make_safe`` when they enter the
journal. What had to change is replaced (never dropped) and listed in the event's data under
``sanitized``, so the record says it is not byte-for-byte what was received.

Values of other types (a ``datetime``, an object) are not guessed at here: converting a tool's
result is the tools layer's job (``agentplane.tools.to_json_value``); they are left for the
store, which refuses what it cannot encode with a ``JournalError`` before writing anything.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import orjson

from agentplane.errors import AgentplaneError

SANITIZED_KEY = "sanitized"
"""Event data key listing what ``make_safe`` replaced: ``[{"path": ..., "change": ...}]``."""

MAX_EVENT_DATA_CHARS = 16 * 1024 * 1024
"""The most characters of JSON one event's data may hold, blobs included (16 Mi). A larger
event is refused (``EventTooLargeError``): the runtime truncates tool results well below this
(``tool_defaults.max_result_chars``), so only a defect or an attack gets here.
"""

REPLACEMENT = "\ufffd"
"""What a lone surrogate becomes (U+FFFD REPLACEMENT CHARACTER)."""


class EventTooLargeError(AgentplaneError, ValueError):
    """An event's data is over ``MAX_EVENT_DATA_CHARS``."""


def check_size(chars: int, what: str = "event data") -> None:
    """Refuse ``chars`` characters of JSON over the journal's limit for one event."""
    if chars > MAX_EVENT_DATA_CHARS:
        raise EventTooLargeError(f"{what} is {chars} characters of JSON, over the journal's "
                                 f"limit of {MAX_EVENT_DATA_CHARS} for one event")


@dataclass(slots=True)
class Sanitized:
    """A value made safe, and what was changed to make it so."""

    value: Any
    changes: list[dict[str, str]] = field(default_factory=list)
    """One ``{"path": ..., "change": ...}`` per replaced part, in document order."""


def safe_text(text: str) -> str | None:
    """``text`` with lone surrogates replaced by U+FFFD, or None when it is already safe."""
    if text.isascii():
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub(REPLACEMENT, text)
    return None


_SURROGATE = re.compile("[\ud800-\udfff]")


def make_safe(value: Any, path: str = "$") -> Sanitized:
    """``value`` as JSON- and UTF-8-safe data; unchanged parts are the same objects.

    Replaced: lone surrogates in strings and keys (by U+FFFD), NaN and infinities (by None),
    keys that are numbers, booleans or null (by their JSON text), tuples (by lists).
    Left as they are: values of any other type (the store refuses them).
    """
    if type(value) in _CONTAINERS and round_trips(value):
        return Sanitized(value)
    result = Sanitized(None)
    result.value = _walk(value, path, result.changes)
    return result


_CONTAINERS = frozenset({dict, list})


def round_trips(value: Any) -> bool:
    """Whether ``value`` is JSON that orjson writes and reads back equal, in C: then the walk
    would change nothing and is skipped (the common case, most of an event's cost otherwise).

    orjson refuses lone surrogates, keys that are not strings, integers beyond 64 bits and most
    other types; what it writes of the rest reads back unequal (NaN and infinities as null,
    tuples as lists, dates and dataclasses as text and objects), so anything the walk would
    replace, or that is not JSON at all, fails here and takes the walk.
    """
    try:
        return bool(orjson.loads(orjson.dumps(value)) == value)
    except Exception:  # refused, too deep, or an __eq__ that raises: the walk decides
        return False


_SCALARS = (bool, int, type(None))
_PLAIN = frozenset(_SCALARS)
"""Leaf types that are always safe as they are (exact types: a subclass takes the long way)."""


def _walk(value: Any, path: str, changes: list[dict[str, str]]) -> Any:  # noqa: C901
    if isinstance(value, str):
        fixed = safe_text(value)
        if fixed is None:
            return value
        changes.append({"path": path, "change": "lone surrogates replaced by U+FFFD"})
        return fixed
    if isinstance(value, _SCALARS):
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        changes.append({"path": path, "change": f"{value} is not JSON: replaced by null"})
        return None
    if isinstance(value, dict):
        out: dict[str, Any] | None = None
        for i, (key, item) in enumerate(value.items()):
            new_key = key
            if type(key) is str and key.isascii():
                pass  # the common key, safe as it is
            elif not isinstance(key, str):
                if isinstance(key, (*_SCALARS, float)):
                    new_key = "null" if key is None else str(key).lower() if isinstance(
                        key, bool) else str(key)
                    changes.append({"path": f"{path}.{new_key}", "change": "key made a string"})
            else:
                fixed_key = safe_text(key)
                if fixed_key is not None:
                    new_key = fixed_key
                    changes.append({"path": f"{path}.{fixed_key}",
                                    "change": "lone surrogates in the key replaced by U+FFFD"})
            kind = type(item)
            if (kind is str and item.isascii()) or kind in _PLAIN:
                new_item = item  # the common leaves, decided here without a call
            else:
                new_item = _walk(item, f"{path}.{new_key}", changes)
            if out is None and (new_key is not key or new_item is not item):
                out = dict(list(value.items())[:i])
            if out is not None:
                out[new_key] = new_item
        return value if out is None else out
    if isinstance(value, list | tuple):
        items: list[Any] | None = None if isinstance(value, list) else list(value)
        for i, item in enumerate(value):
            kind = type(item)
            if (kind is str and item.isascii()) or kind in _PLAIN:
                continue  # the common leaves, decided here without a call
            new_item = _walk(item, f"{path}[{i}]", changes)
            if new_item is not item:
                if items is None:
                    items = list(value)
                items[i] = new_item
        return value if items is None else items
    return value  # not JSON at all: the store refuses it


def safe_event_data(data: dict[str, Any]) -> dict[str, Any]:
    """Event data made safe, with the changes listed under ``sanitized`` when there were any."""
    if type(data) is dict and round_trips(data):  # make_safe's own shortcut, nothing built
        return data
    fixed = make_safe(data, "data")
    if not fixed.changes:
        return data
    out = dict(fixed.value)
    out[SANITIZED_KEY] = [*out.get(SANITIZED_KEY, []), *fixed.changes] if isinstance(
        out.get(SANITIZED_KEY), list) else fixed.changes
    return out
