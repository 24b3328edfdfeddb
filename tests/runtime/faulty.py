"""Tools that misbehave in every way user code can: the runtime must survive each of them.

Importable both as ``tests.runtime.faulty`` and, from this folder, as ``faulty`` (how the
process-isolation and live-server tests name it)."""

from __future__ import annotations

import asyncio
import ctypes
import dataclasses
import datetime as dt
import decimal
import enum
import os
import sys
import threading
import time
import uuid
from typing import Any

import pydantic

CALLS: list[str] = []
"""Names of the calls made in this process (inline tools only)."""
RELEASE = threading.Event()
"""Sets free the inline ``hang`` tools."""


def reset() -> None:
    CALLS.clear()
    RELEASE.clear()


def raise_kind(kind: str) -> str:
    """Raise a BaseException of the named kind (as user code might)."""
    CALLS.append(f"raise_kind:{kind}")
    errors: dict[str, BaseException] = {
        "SystemExit": SystemExit(3), "KeyboardInterrupt": KeyboardInterrupt(),
        "GeneratorExit": GeneratorExit(), "BaseException": BaseException("custom"),
        "RuntimeError": RuntimeError("plain bug"), "MemoryError": MemoryError(),
    }
    raise errors[kind]


def sys_exit() -> str:
    """Call sys.exit like a script would."""
    CALLS.append("sys_exit")
    sys.exit("bye")


async def async_exit() -> str:
    """An async tool that exits."""
    CALLS.append("async_exit")
    raise SystemExit(4)


async def self_cancel() -> str:
    """An async tool that raises CancelledError though nobody cancelled it."""
    CALLS.append("self_cancel")
    raise asyncio.CancelledError()


def hard_exit() -> str:
    """End the process at once, no cleanup (only process isolation survives this)."""
    os._exit(7)


def segfault() -> str:
    """Crash the interpreter (only process isolation survives this)."""
    ctypes.string_at(0)
    return "unreachable"


def hang(seconds: float = 3600.0) -> str:
    """Never answer (inline: until the test releases it)."""
    CALLS.append("hang")
    RELEASE.wait(seconds)
    return "woke"


def sleepy(seconds: float) -> str:
    """Answer after ``seconds`` (for process-isolated timeouts)."""
    time.sleep(seconds)
    return "slept"


def surrogate() -> dict[str, Any]:
    """Return text with lone surrogates, in a value and a key."""
    CALLS.append("surrogate")
    return {"text": "bad \udc80 text", "bad \ud800 key": ["ok", "\udfff"]}


class Colour(enum.Enum):
    RED = "red"


@dataclasses.dataclass
class Point:
    x: int
    at: dt.date


class Item(pydantic.BaseModel):
    name: str
    price: decimal.Decimal


def non_json() -> dict[Any, Any]:
    """Return every kind of value the JSON conversion defines."""
    CALLS.append("non_json")
    return {
        "when": dt.datetime(2026, 12, 2, 17, 30, tzinfo=dt.UTC), "day": dt.date(2026, 12, 2),
        "time": dt.time(9, 5), "money": decimal.Decimal("12.30"),
        "id": uuid.UUID("12345678-1234-5678-1234-567812345678"), "colour": Colour.RED,
        "tags": {"b", "a", "c"}, "frozen": frozenset({3, 1, 2}), "pair": (1, "x"),
        "blob": b"\x00\xffhi", "point": Point(1, dt.date(2026, 1, 1)),
        "item": Item(name="pen", price=decimal.Decimal("1.50")), 7: "int key",
    }


def nan() -> dict[str, Any]:
    """Return a NaN inside a list."""
    CALLS.append("nan")
    return {"values": [1.0, float("nan")]}


class Opaque:
    pass


def opaque() -> dict[str, Any]:
    """Return an object that has no JSON form."""
    CALLS.append("opaque")
    return {"rows": [{"owner": Opaque()}]}


def huge(chars: int) -> str:
    """Return a string of ``chars`` characters."""
    return "x" * chars


def ok(text: str = "fine") -> str:
    """Answer at once."""
    CALLS.append("ok")
    return text
