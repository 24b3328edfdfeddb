"""Pricing model calls from the price catalog (bundled, plus the user's overrides)."""

from __future__ import annotations

from pathlib import Path

from .usage import Pricer, WorstCase, free, free_worst_case


def catalog_pricing(overrides: Path | None = None) -> tuple[Pricer, WorstCase]:
    """(pricer, worst case) for model calls."""
    return free, free_worst_case
