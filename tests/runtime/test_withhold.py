"""Withholding answer values that trace only to untrusted content (``withhold_values``)."""

from __future__ import annotations

from agentplane.runtime.governed import WITHHELD, withhold_values


def test_every_value_is_withheld_in_any_case_and_at_any_depth() -> None:
    answer = {"text": "Pay DE89 3704 to Mallory", "items": ["mallory@evil.example", 3]}
    assert withhold_values(answer, ["de89 3704", "Mallory", "mallory@evil.example"]) == {
        "text": f"Pay {WITHHELD} to {WITHHELD}", "items": [WITHHELD, 3]}


def test_a_value_is_not_found_again_inside_a_replacement() -> None:
    # "content" is in the marker's own text: replaced one value at a time, the second pass
    # would rewrite the marker the first one wrote.
    assert withhold_values("send the content to acme-7 corp", ["acme-7 corp", "content"]) == (
        f"send the {WITHHELD} to {WITHHELD}")
