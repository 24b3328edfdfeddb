"""Scorers for the ensemble tests (``module:function``, called as ``function(task, answer)``)."""

from __future__ import annotations


def digits(task: str, answer: str) -> float:
    """More digits, more facts: the answer with the most wins."""
    return float(sum(c.isdigit() for c in answer))


async def shortest_first(task: str, answer: str) -> float:
    """An async scorer (awaited): shorter is better."""
    return -float(len(answer))


def not_a_number(task: str, answer: str) -> str:
    return "high"
