"""``make_safe`` skips its walk for values orjson reads back equal (``round_trips``): the
results — values, identities and the list of changes — are the walk's, on random documents
and on every kind of value the walk replaces or leaves alone."""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from agentplane.journal import safe
from agentplane.journal.safe import make_safe, round_trips


class Colour(enum.StrEnum):
    RED = "red"


@dataclass
class Point:
    x: int


ODD_LEAVES: list[Any] = [
    "\udc80", "a\ud800b", float("nan"), float("inf"), -float("inf"), (1, "x"), (), 2**70,
    -(2**70), datetime(2026, 1, 2, tzinfo=UTC), Point(1), Colour.RED, {1, 2}, b"bytes",
    {1: "int key"}, {None: 1}, {True: 2}, {2.5: 3}, {"\udc80": 1}, 0.1, -0.0, 1e308, "é✓",
    "", "a\x00b", 2**63 - 1, -(2**63), True, None,
]
PLAIN_LEAVES: list[Any] = ["x", "审计", 0, -5, 3.25, True, False, None, "ascii text " * 3]


def _document(rng: random.Random, depth: int, odd: float) -> Any:
    if depth == 0 or rng.random() < 0.3:
        pool = ODD_LEAVES if rng.random() < odd else PLAIN_LEAVES
        return rng.choice(pool)
    if rng.random() < 0.5:
        return [_document(rng, depth - 1, odd) for _ in range(rng.randrange(4))]
    keys = ["a", "b", "c", "中", f"k{rng.randrange(9)}"]
    return {rng.choice(keys): _document(rng, depth - 1, odd) for _ in range(rng.randrange(4))}


def _walked(value: Any, path: str) -> safe.Sanitized:
    result = safe.Sanitized(None)
    result.value = safe._walk(value, path, result.changes)
    return result


def _same(a: Any, b: Any) -> bool:
    """Equal, of the same types all the way down (a tuple is not a list), NaN equal to NaN."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and a != a:
        return bool(b != b)
    return bool(a == b)


@pytest.mark.parametrize("odd", [0.0, 0.05, 0.3])
def test_make_safe_gives_what_the_walk_gives(odd: float) -> None:
    rng = random.Random(13)
    skipped = 0
    for _ in range(2000):
        value = {"data": _document(rng, 5, odd)}
        fast, walked = make_safe(value, "data"), _walked(value, "data")
        assert fast.changes == walked.changes, value
        assert _same(fast.value, walked.value), value
        assert (fast.value is value) == (walked.value is value), value
        skipped += round_trips(value)
    assert skipped > (1500 if odd == 0.0 else 100)  # the fast path is taken, not only tried


@pytest.mark.parametrize("leaf", ODD_LEAVES, ids=repr)
def test_every_odd_leaf_alone_in_a_document(leaf: Any) -> None:
    value = {"k": [leaf, {"x": leaf}]}
    fast, walked = make_safe(value, "data"), _walked(value, "data")
    assert fast.changes == walked.changes
    assert _same(fast.value, walked.value)
    assert (fast.value is value) == (walked.value is value)


def test_what_the_walk_would_change_does_not_round_trip() -> None:
    for leaf in ["\udc80", float("nan"), float("inf"), (1,), {1: 2}, 2**70, Point(1),
                 datetime(2026, 1, 2, tzinfo=UTC)]:
        assert not round_trips({"k": leaf}), leaf
    assert round_trips({"k": ["é", 1, 2.5, None, True, {"中文": "审计 ✓"}]})
