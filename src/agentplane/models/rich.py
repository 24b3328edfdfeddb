"""Images in tool results, for models that accept image inputs.

A tool result is journaled as JSON text. An MCP tool result with images or embedded resources
is a list of MCP content blocks (``tools.sources.mcp.result_value``):
``[{"type": "text", "text": ...}, {"type": "image", "data": BASE64, "mimeType": "image/png"},
{"type": "resource", "resource": {"uri": ..., "mimeType": ..., "text" | "blob": ...}}, ...]``.
The adapters of models that take images (OpenAI-compatible, Anthropic) send those images as
images rather than as base64 text; text and text resources stay text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

BLOCK_TYPES = frozenset({"text", "image", "audio", "resource", "resource_link"})
IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})


@dataclass(frozen=True, slots=True)
class Part:
    """One part of a rich tool result: text, or an image (base64 ``data``)."""

    text: str | None = None
    media_type: str | None = None
    data: str | None = None

    @property
    def is_image(self) -> bool:
        return self.data is not None


def _part(block: dict[str, Any]) -> Part:
    kind = block.get("type")
    if kind == "text":
        return Part(text=str(block.get("text", "")))
    if kind == "image" and block.get("mimeType") in IMAGE_TYPES and isinstance(
            block.get("data"), str):
        return Part(media_type=block["mimeType"], data=block["data"])
    if kind == "resource" and isinstance(block.get("resource"), dict):
        res = block["resource"]
        uri, mime = res.get("uri", "?"), res.get("mimeType")
        if isinstance(res.get("text"), str):
            return Part(text=f"[resource {uri}]\n{res['text']}")
        if mime in IMAGE_TYPES and isinstance(res.get("blob"), str):
            return Part(media_type=mime, data=res["blob"])
        return Part(text=f"[resource {uri} ({mime or 'binary'}), not shown]")
    if kind == "resource_link":
        return Part(text=f"[resource link {block.get('uri', '?')}"
                         f"{': ' + str(block['name']) if block.get('name') else ''}]")
    return Part(text=f"[{kind} content ({block.get('mimeType', 'unknown type')}), not shown]")


def rich_parts(content: str | None) -> list[Part] | None:
    """The parts of a tool result holding at least one image, else ``None`` (send as text)."""
    if not content or not content.startswith("[{"):
        return None
    try:
        blocks = json.loads(content)
    except ValueError:
        return None
    if not isinstance(blocks, list) or not all(
            isinstance(b, dict) and b.get("type") in BLOCK_TYPES for b in blocks):
        return None
    parts = [_part(b) for b in blocks]
    return parts if any(p.is_image for p in parts) else None


def placeholder(index: int, part: Part) -> str:
    """How an image is named in the text that accompanies it."""
    return f"[image {index}: {part.media_type}]"


__all__ = ["Part", "placeholder", "rich_parts"]
