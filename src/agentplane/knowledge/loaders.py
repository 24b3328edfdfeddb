"""Bytes into text or records: plain text, Markdown, HTML, PDF, CSV and JSON.

Each loader names the file (or URL, or label) and what is wrong when it cannot read it: bytes
that are not UTF-8, an encrypted or broken PDF, a PDF without a text layer, a CSV without a
header, JSON that is not records. Nothing is written before loading succeeds.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

from agentplane.errors import ConfigError


class IngestError(ConfigError):
    """A document could not be read; the message names it and says what is wrong."""


TEXT = "text/plain"
MARKDOWN = "text/markdown"
HTML = "text/html"
PDF = "application/pdf"
CSV = "text/csv"
JSON = "application/json"
JSON_LINES = "application/x-ndjson"
RECORD_TYPES = frozenset({CSV, JSON, JSON_LINES})

SUFFIXES = {
    ".txt": TEXT, ".text": TEXT, ".md": MARKDOWN, ".markdown": MARKDOWN, ".html": HTML,
    ".htm": HTML, ".pdf": PDF, ".csv": CSV, ".json": JSON, ".jsonl": JSON_LINES,
    ".ndjson": JSON_LINES,
}
_ALIASES = {"application/xhtml+xml": HTML, "text/x-markdown": MARKDOWN,
            "application/jsonl": JSON_LINES, "application/json-lines": JSON_LINES}
_STRIPPED = ("script", "style", "noscript", "template", "nav", "svg", "iframe", "form")
_BLOCKS = ("p", "div", "li", "tr", "pre", "blockquote", "section", "article", "table", "ul",
           "ol", "dl", "dt", "dd", "br", "figcaption", "main", "header", "footer")


@dataclass(frozen=True, slots=True)
class Loaded:
    """A document as text (headings as Markdown ``#`` lines) with the title it declares."""

    text: str
    title: str | None
    media_type: str


def media_type_for(name: str, declared: str | None = None, *, file: bool = False) -> str:
    """The media type of a document: ``declared`` (a Content-Type header's value, parameters
    ignored) when it is one the loaders read, else by the name's suffix, else plain text. An
    unreadable declared type, or a ``file`` name with an unknown suffix, is an error (a label
    such as ``FAQ v1.2`` is just text)."""
    if declared:
        kind = declared.split(";")[0].strip().lower()
        kind = _ALIASES.get(kind, kind)
        if kind in SUFFIXES.values():
            return kind
    suffix = PurePath(name.split("?")[0]).suffix.lower()
    if suffix in SUFFIXES:
        return SUFFIXES[suffix]
    if declared and declared.split(";")[0].strip().lower().startswith("text/"):
        return TEXT
    if declared or (file and suffix):
        raise IngestError(
            f"{name}: cannot read {declared or suffix!r} documents; readable: text, Markdown, "
            f"HTML, PDF, CSV and JSON ({', '.join(sorted(SUFFIXES))})")
    return TEXT


def decode(content: str | bytes, name: str) -> str:
    """``content`` as text: UTF-8 (a byte-order mark is dropped)."""
    if isinstance(content, str):
        return content
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise IngestError(
            f"{name}: not UTF-8 text (byte 0x{content[exc.start]:02x} at offset {exc.start}); "
            "convert it to UTF-8 first") from None


def load(content: str | bytes, media_type: str, name: str) -> Loaded:
    """A text document (plain, Markdown, HTML or PDF) as text."""
    if media_type == PDF:
        if isinstance(content, str):
            raise IngestError(f"{name}: a PDF must be given as bytes")
        return Loaded(pdf_text(content, name), None, PDF)
    text = decode(content, name)
    if media_type == HTML:
        body, title = html_text(text)
        return Loaded(body, title, HTML)
    return Loaded(text.replace("\r\n", "\n"), None, media_type)


def html_text(html: str) -> tuple[str, str | None]:
    """The readable text of an HTML page (scripts, styles and navigation dropped; headings
    as ``#`` lines) and its ``<title>``."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    title = soup.title.get_text(" ", strip=True) if soup.title else None
    for tag in (soup.head, soup.title):
        if tag is not None:
            tag.decompose()
    for tag in soup.find_all(_STRIPPED):
        tag.decompose()
    for level in range(1, 7):
        for heading in soup.find_all(f"h{level}"):
            words = heading.get_text(" ", strip=True)
            heading.replace_with(f"\n\n{'#' * level} {words}\n\n" if words else "")
    for tag in soup.find_all(_BLOCKS):
        tag.insert_before("\n\n" if tag.name != "br" else "\n")
        tag.insert_after("\n\n" if tag.name != "br" else "\n")
    text = soup.get_text()
    lines = [re.sub(r"[ \t\u00a0]+", " ", line).strip() for line in text.splitlines()]
    body = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    return body, title or None


def pdf_text(data: bytes, name: str) -> str:
    """The text layer of a PDF, page by page."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError, PyPdfError

    # pypdf logs what it repairs in a damaged file; the error below says what matters.
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise IngestError(f"{name}: the PDF is encrypted; give a decrypted copy")
        pages = [page.extract_text() or "" for page in reader.pages]
    except IngestError:
        raise
    except (PdfReadError, PyPdfError, ValueError, KeyError, TypeError, OSError) as exc:
        reason = str(exc) or type(exc).__name__
        if "decrypt" in reason.lower() or "encrypt" in reason.lower():
            raise IngestError(f"{name}: the PDF is encrypted; give a decrypted copy") from None
        raise IngestError(f"{name}: not a readable PDF ({reason})") from None
    text = "\n\n".join(page.strip() for page in pages if page.strip())
    if not text:
        raise IngestError(f"{name}: the PDF has no text layer (a scan?); run OCR on it first")
    return text


def load_records(content: str | bytes, media_type: str, name: str) -> list[dict[str, Any]]:
    """CSV rows (by its header) or JSON / JSON Lines objects, as records."""
    text = decode(content, name)
    if media_type == CSV:
        return _csv_records(text, name)
    if media_type == JSON_LINES:
        records = []
        for number, line in enumerate(text.splitlines(), 1):
            if line.strip():
                records.append(_record(_json(line, f"{name}:{number}"), f"{name}:{number}"))
        return records
    data = _json(text, name)
    rows = data if isinstance(data, list) else [data]
    return [_record(row, f"{name}: record {i + 1}") for i, row in enumerate(rows)]


def _json(text: str, name: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise IngestError(f"{name}: invalid JSON at line {exc.lineno}, column {exc.colno}: "
                          f"{exc.msg}") from None


def _record(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise IngestError(f"{where}: a record must be a JSON object, not {type(value).__name__}")
    return value


def _csv_records(text: str, name: str) -> list[dict[str, Any]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if not header or not any(h.strip() for h in header):
        raise IngestError(f"{name}: the CSV is empty; its first line must name the columns")
    names = [h.strip() for h in header]
    if any(not h for h in names) or len(set(names)) != len(names):
        raise IngestError(f"{name}: the CSV header (line 1) needs a distinct name for every "
                          f"column, got {names}")
    if any(re.fullmatch(r"[-+]?\d+(?:[.,]\d+)*%?", h) for h in names):
        raise IngestError(f"{name}: the CSV has no header: line 1 ({', '.join(names)}) looks "
                          "like data; add a first line naming the columns")
    records = []
    for row in reader:
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(names):
            raise IngestError(f"{name}: line {reader.line_num} has {len(row)} fields, the "
                              f"header has {len(names)}")
        records.append(dict(zip(names, row, strict=True)))
    return records


def render_record(record: Mapping[str, Any]) -> str:
    """A record as ``key: value`` lines (nested values as JSON), the text a chunk indexes."""
    lines = []
    for key, value in record.items():
        shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        lines.append(f"{key}: {shown}")
    return "\n".join(lines)
