"""Spotting secrets and personal data in text, with checksums where a format has one, so that
a number that merely looks like a card or an IBAN is not flagged."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Match:
    kind: str
    """e.g. ``openai_key``, ``private_key``, ``email``, ``iban``, ``credit_card``."""
    category: str
    """``secret`` or ``personal_data``."""
    start: int
    end: int


SECRET_PATTERNS: dict[str, re.Pattern[str]] = {
    "private_key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "openai_key": re.compile(r"\bsk-(?:proj-)?[A-Za-z0-9_\-]{20,}"),
    "anthropic_key": re.compile(r"\bsk-ant-[A-Za-z0-9_\-]{20,}"),
    "aws_access_key": re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    "github_token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b"),
    "slack_token": re.compile(r"\bxox[abposr]-[A-Za-z0-9\-]{10,}"),
    "jwt": re.compile(r"\beyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}"),
    "stripe_key": re.compile(r"\b[sr]k_(?:live|test)_[A-Za-z0-9]{16,}"),
    # password=..., DB_PASSWORD=..., AWS_SECRET_ACCESS_KEY: ..., STRIPE_API_KEY=...
    "password_assignment": re.compile(
        r"(?i)(?<![A-Za-z0-9])[A-Za-z0-9_]*(?:password|passwd|pwd|secret|api[_\-]?key|"
        r"access[_\-]?key|access[_\-]?token|auth[_\-]?token)[A-Za-z0-9_]*\s*[:=]\s*"
        r"[\"']?[^\s\"']{6,}"),
}

_EMAIL = re.compile(r"\b[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}\b")
# International numbers with their + prefix, and the North American (xxx) xxx-xxxx form: a bare
# run of digits is too often an order number or an amount to be called a phone number.
_PHONE = re.compile(r"(?<![\w+])\+\d{1,3}[\s\-]?(?:\(?\d{1,4}\)?[\s\-]?){1,4}\d{2,4}(?!\w)"
                    r"|\(\d{3}\)\s?\d{3}-\d{4}(?!\d)")
_CN_MOBILE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:\s?[A-Z0-9]{4}){2,7}(?:\s?[A-Z0-9]{1,4})?\b")
_CARD = re.compile(r"(?<![\d+])(?:\d[ \-]?){12,18}\d(?!\d)")
_CN_ID = re.compile(r"(?<!\d)\d{17}[\dXx](?!\d)")
_US_SSN = re.compile(r"(?<!\d)\d{3}-\d{2}-\d{4}(?!\d)")


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch)
        if i % 2:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def _iban_ok(text: str) -> bool:
    compact = text.replace(" ", "")
    if not 15 <= len(compact) <= 34:
        return False
    moved = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


_CN_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def _cn_id_ok(text: str) -> bool:
    total = sum(int(d) * w for d, w in zip(text[:17], _CN_WEIGHTS, strict=True))
    return "10X98765432"[total % 11] == text[17].upper()


def find_secrets(text: str) -> list[Match]:
    return [Match(kind, "secret", m.start(), m.end())
            for kind, pattern in SECRET_PATTERNS.items() for m in pattern.finditer(text)]


def find_personal_data(text: str) -> list[Match]:
    found = [Match("email", "personal_data", m.start(), m.end()) for m in _EMAIL.finditer(text)]
    found += [Match("iban", "personal_data", m.start(), m.end()) for m in _IBAN.finditer(text)
              if _iban_ok(m.group())]
    found += [Match("credit_card", "personal_data", m.start(), m.end())
              for m in _CARD.finditer(text)
              if _luhn(re.sub(r"\D", "", m.group())) and len(re.sub(r"\D", "", m.group())) >= 13]
    found += [Match("cn_resident_id", "personal_data", m.start(), m.end())
              for m in _CN_ID.finditer(text) if _cn_id_ok(m.group())]
    found += [Match("us_ssn", "personal_data", m.start(), m.end())
              for m in _US_SSN.finditer(text)]
    found += [Match("phone", "personal_data", m.start(), m.end())
              for m in _CN_MOBILE.finditer(text)]
    taken = [(m.start, m.end) for m in found]
    found += [Match("phone", "personal_data", m.start(), m.end()) for m in _PHONE.finditer(text)
              if sum(c.isdigit() for c in m.group()) >= 9
              and not any(s <= m.start() < e for s, e in taken)]
    return found


def redact(text: str, matches: list[Match]) -> str:
    """Replace every match by ``[REDACTED:kind]``."""
    out, last = [], 0
    for m in sorted(matches, key=lambda m: m.start):
        if m.start < last:
            continue
        out.append(text[last:m.start])
        out.append(f"[REDACTED:{m.kind}]")
        last = m.end
    out.append(text[last:])
    return "".join(out)
