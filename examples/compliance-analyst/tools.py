"""The compliance analyst's one tool: read a document to review from the folder of documents
(``$REVIEW_DOCUMENTS``, default ``documents/`` next to this file). Its text comes from outside
(a supplier wrote it), so the tool is declared ``untrusted``: the guardians never let a value
only the document gives clear a consequential call."""

from __future__ import annotations

import os
from pathlib import Path

from agentplane.tools import ToolError

HERE = Path(__file__).resolve().parent


def _folder() -> Path:
    return Path(os.environ.get("REVIEW_DOCUMENTS", HERE / "documents"))


def read_document(name: str) -> str:
    """Read a document to review, by its file name.

    Args:
        name: The document's file name, e.g. acme-cloud-services.md.
    """
    if "/" in name or "\\" in name or name.startswith("."):
        raise ToolError(f"document {name!r}: give a plain file name")
    path = _folder() / name
    if not path.is_file():
        known = ", ".join(sorted(p.name for p in _folder().glob("*"))) or "none"
        raise ToolError(f"no document {name!r}; documents: {known}")
    return path.read_text(encoding="utf-8")
