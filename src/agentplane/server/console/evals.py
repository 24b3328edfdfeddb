"""The console's evals page."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
