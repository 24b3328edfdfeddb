"""What agents remember, over REST (``/api/v1/memories``): review, quarantine, delete."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1")
