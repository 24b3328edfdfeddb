"""``make_safe``: the journal's one boundary for untrusted values."""

from __future__ import annotations

from typing import Any

import pytest

from agentplane.journal import NewEvent
from agentplane.journal.safe import make_safe, safe_text


def test_safe_values_pass_through_as_the_same_objects() -> None:
    value: dict[str, Any] = {"a": ["x", 1, 2.5, None, True, {"中文": "审计 ✓"}], "b": "é"}
    fixed = make_safe(value)
    assert fixed.value is value and fixed.changes == []
    event = NewEvent("note", data=value)
    assert event.data is value  # nothing copied on the hot path


@pytest.mark.parametrize(("text", "expected"), [
    ("\udc80", "\ufffd"), ("a\ud800b\udfffc", "a\ufffdb\ufffdc"), ("ok", None), ("é", None),
    ("\ud83d\ude00", "\ufffd\ufffd"),  # a pair split into two lone halves stays two
])
def test_lone_surrogates_are_replaced_one_for_one(text: str, expected: str | None) -> None:
    assert safe_text(text) == expected


def test_every_change_is_listed_with_its_path() -> None:
    fixed = make_safe({"t": ("\udc80", float("nan")), True: 1, None: -float("inf")}, "data")
    assert fixed.value == {"t": ["\ufffd", None], "true": 1, "null": None}
    assert fixed.changes == [
        {"path": "data.t[0]", "change": "lone surrogates replaced by U+FFFD"},
        {"path": "data.t[1]", "change": "nan is not JSON: replaced by null"},
        {"path": "data.true", "change": "key made a string"},
        {"path": "data.null", "change": "key made a string"},
        {"path": "data.null", "change": "-inf is not JSON: replaced by null"},
    ]


def test_an_event_keeps_earlier_markers() -> None:
    event = NewEvent("note", data={"sanitized": [{"path": "x", "change": "earlier"}],
                                   "v": "\udc80"})
    assert [c["path"] for c in event.data["sanitized"]] == ["x", "data.v"]
