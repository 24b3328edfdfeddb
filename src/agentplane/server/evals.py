"""The REST routes of evals."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
