"""The REST routes of triggers."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
