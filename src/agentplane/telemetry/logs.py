"""Structured logs: one JSON object per line, with secrets redacted.

Redaction happens in the handler's formatter, after the message is formatted, so a secret is
removed wherever it came from: the message, its arguments, ``extra=`` fields or a traceback.
Values that look like credentials (``sk-...``, ``Bearer ...``, AWS and GitHub keys, JWTs,
``password=...``; the patterns of the output guardian) are replaced in text, and the string
value of any field named like a credential (``api_key``, ``token``, ``secret``, ``password``,
``authorization``, ``cookie``) is replaced whole. Token *counts* (``input_tokens: 12``) are
numbers and stay.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import IO, Any

import orjson

from agentplane.governance.detectors import SECRET_PATTERNS

REDACTED = "[REDACTED]"

_PATTERNS = [
    *SECRET_PATTERNS.values(),
    re.compile(r"(?i)\b(?:bearer|basic)\s+[A-Za-z0-9._~+/\-]{8,}=*"),
    re.compile(r"(?i)\b(?:authorization|x-api-key|api-key)\s*[:=]\s*[^\s,;\"']{6,}"),
]
# A field name ending in one of these words (after ``_``, ``-`` or ``.``, or alone) names a
# credential. Not a bare ``key``: ``step_key`` and ``idempotency_key`` are not secrets.
_SECRET_NAME = re.compile(
    r"(?:^|[_\-.])(?:(?:api|access|secret|private|signing)[_\-]?key|token|secret|"
    r"client[_\-]?secret|password|passwd|pwd|passphrase|authorization|auth|cookie|"
    r"set-cookie|credentials?)$", re.IGNORECASE)

# Attributes every LogRecord has; anything else came in through ``extra=``.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message", "asctime", "taskName"}


def redact_text(text: str) -> str:
    """``text`` with every credential-looking value replaced by ``[REDACTED]``."""
    for pattern in _PATTERNS:
        text = pattern.sub(REDACTED, text)
    return text


def secret_name(name: str) -> bool:
    """Whether a field of this name holds a credential (``api_key``, ``OPENAI_API_KEY``,
    ``token``, ``Authorization``...)."""
    return bool(_SECRET_NAME.search(name))


def redact(value: Any, name: str = "") -> Any:
    """A copy of a value with credentials redacted: strings scanned, the string values of
    credential-named fields replaced, mappings and sequences walked."""
    if isinstance(value, str | bytes):
        text = value.decode(errors="replace") if isinstance(value, bytes) else value
        return REDACTED if name and secret_name(name) else redact_text(text)
    if isinstance(value, Mapping):
        return {str(k): redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [redact(v, name) for v in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    return redact_text(str(value))


class JsonFormatter(logging.Formatter):
    """Log records as JSON lines: ``time``, ``level``, ``logger``, ``message``, the ``extra=``
    fields, and ``exception`` — all redacted."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="microseconds").replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact_text(record.getMessage()),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = redact(value, key)
        if record.exc_info:
            entry["exception"] = redact_text(self.formatException(record.exc_info))
        if record.stack_info:
            entry["stack"] = redact_text(self.formatStack(record.stack_info))
        return orjson.dumps(entry, default=str).decode()


class RedactingFormatter(logging.Formatter):
    """The standard text format, with credentials redacted."""

    def format(self, record: logging.LogRecord) -> str:
        return redact_text(super().format(record))


def configure_logging(*, json: bool = True, level: int | str = "INFO",
                      stream: IO[str] | None = None) -> logging.Handler:
    """Send the ``agentplane`` loggers (and the root logger's other users) to ``stream``
    (stderr by default): JSON lines when ``json``, else readable text; redacted either way.

    Replaces the handler an earlier call installed, so calling it twice is safe. Returns the
    handler.
    """
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.set_name("agentplane")
    handler.setFormatter(JsonFormatter() if json else RedactingFormatter(
        "%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "agentplane"]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)
    return handler
