"""The console's triggers page."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
