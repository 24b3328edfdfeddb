"""The knowledge base and knowledge graph over REST (``/api/v1/kb``), per the key's tenant."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1")
