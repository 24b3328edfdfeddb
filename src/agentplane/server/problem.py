"""The body of every error answer: ``{"error", "status"}`` (and ``problems`` for 422)."""

from __future__ import annotations

import json
from typing import Any

from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field


class Problem(BaseModel):
    """Every error the API answers."""

    error: str = Field(description="What went wrong, where, and what to do.")
    status: int = Field(description="The HTTP status, repeated.")
    problems: list[dict[str, str]] | None = Field(
        default=None, description="For 422: each invalid field (`where`) and its `problem`.")


class SafeJSON(JSONResponse):
    """JSON that any client can decode: non-ASCII escaped, so a lone surrogate echoed from a
    request cannot make the answer itself fail to encode."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, separators=(",", ":")).encode()


def problem(status: int, message: str, **extra: object) -> JSONResponse:
    return SafeJSON({"error": message, "status": status, **extra}, status_code=status)
