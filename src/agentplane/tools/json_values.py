"""What a tool's return value becomes in the journal and in the model's context: one conversion.

Python tools return Python values; the journal stores JSON. ``to_json_value`` defines the
mapping once, for every tool (inline or in a worker process):

===========================  =================================================
returned                     stored
===========================  =================================================
str, int, bool, None         as is (text is made UTF-8-safe by the journal)
float                        as is; NaN and infinities are refused
datetime, date, time         ISO 8601 text (``2026-12-02T17:30:00+00:00``)
Decimal                      its exact text (``"12.30"``); NaN / infinity refused
UUID                         its text
Enum member                  its value, converted by these same rules
set, frozenset               a list, sorted by each item's canonical JSON
tuple, list                  a list
bytes, bytearray             ``{"$base64": "<standard base64>"}``
pydantic model               ``model_dump(mode="json")``
dataclass instance           a dict of its fields, converted by these rules
dict                         a dict; keys str, or int / float / bool / UUID /
                             Enum (as their text)
===========================  =================================================

Anything else (an arbitrary object, a function, a file handle) is refused with a
``ToolResultError`` naming its type and where it was (``result.items[2].owner``), so the model
never sees a ``repr`` with a memory address.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import decimal
import enum
import math
import uuid
from typing import Any

import orjson
import pydantic

from .base import ToolError

BASE64_KEY = "$base64"
"""Marks a byte string in a tool result: ``{"$base64": "..."}``."""


class ToolResultError(ToolError):
    """A tool returned a value that has no JSON form (the message names the type and path)."""


_KEPT = frozenset({str, int, bool})
"""Types kept as they are (their subclasses, such as a ``StrEnum``, are too, one call later)."""


def to_json_value(value: Any, path: str = "result") -> Any:
    """``value`` converted to JSON data by the rules of this module; raises
    ``ToolResultError`` for a value it does not convert."""
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            key = k if type(k) is str else _key(k, path)
            # plain text and numbers are kept as they are (no path made for them)
            out[key] = v if v is None or type(v) in _KEPT else to_json_value(v, f"{path}.{key}")
        return out
    if isinstance(value, list | tuple):
        return [v if v is None or type(v) in _KEPT else to_json_value(v, f"{path}[{i}]")
                for i, v in enumerate(value)]
    if isinstance(value, set | frozenset):
        items = [to_json_value(v, f"{path}{{}}") for v in value]
        return sorted(items, key=lambda v: orjson.dumps(v, option=orjson.OPT_SORT_KEYS))
    if isinstance(value, pydantic.BaseModel):
        return to_json_value(value.model_dump(mode="json"), path)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json_value(getattr(value, f.name), f"{path}.{f.name}")
                for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return to_json_value(value.value, path)
    return _scalar(value, path)


def _scalar(value: Any, path: str) -> Any:
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ToolResultError(f"{path} is the float {value}, which JSON cannot hold; "
                                  "return null or a string instead")
        return value
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        if not value.is_finite():
            raise ToolResultError(f"{path} is Decimal({str(value)!r}), which JSON cannot hold")
        return str(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return {BASE64_KEY: base64.b64encode(bytes(value)).decode("ascii")}
    kind = type(value)
    raise ToolResultError(
        f"{path} is a {kind.__module__}.{kind.__qualname__}, which has no JSON form; return "
        "JSON data (dict, list, str, number, bool, None), a date or time, a Decimal, a UUID, "
        "an Enum, a set, bytes, a pydantic model or a dataclass")


def _key(key: Any, path: str) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, enum.Enum):
        key = key.value
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, int | uuid.UUID) or (isinstance(key, float) and math.isfinite(key)):
        return str(key)
    raise ToolResultError(f"{path} has a key of type {type(key).__qualname__}; "
                          "JSON keys are strings")
