"""Normal forms of values, so that one value written two ways is recognised as one.

Applied on both sides — to what a run saw and to what an agent passes — : Unicode NFKC (full-width
digits become ASCII), zero-width and other format characters removed, case folded, separators
(spaces, hyphens, underscores, thousands separators) dropped, amounts reduced to one number
(``1,250.00``, ``¥1250``, ``1250 EUR`` → ``1250``), dates to ISO (``13th of May``, ``May 13,
2024``, ``2024年5月13日``, ``13/05/2024`` → ``2024-05-13`` or ``--05-13`` without a year), times to
``HH:MM`` and URLs without their scheme, ``www.`` and trailing slash.

This helps legitimate values trace; security never rests on it: a value whose normal form is
found nowhere trusted is refused, however it was written.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

_MONTHS = {"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6, "jul": 7, "aug": 8,
           "sep": 9, "oct": 10, "nov": 11, "dec": 12}
_M = (r"(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
      r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?")
_D = r"(\d{1,2})(?:st|nd|rd|th)?"
_Y = r"(\d{4})"
_TO = r"\s*(?:-|–|—|to|until|till|through|and)\s*(?:the\s+)?"
_B = r"(?<![\w])"
_E = r"(?![\w])"
_DATE_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("ymd", re.compile(rf"{_B}{_Y}[-/.](\d{{1,2}})[-/.](\d{{1,2}}){_E}")),
    ("ymd", re.compile(rf"{_Y}\s*年\s*(\d{{1,2}})\s*月\s*(\d{{1,2}})\s*[日号]?")),
    ("md", re.compile(r"(?<!\d)(\d{1,2})\s*月\s*(\d{1,2})\s*[日号]")),
    ("range_dm", re.compile(rf"{_B}(?:the\s+)?{_D}{_TO}{_D}\s+(?:of\s+)?{_M}(?:,?\s+{_Y})?{_E}")),
    ("range_md", re.compile(rf"{_B}{_M}\s+{_D}{_TO}{_D}(?:,?\s+{_Y})?{_E}")),
    ("dm", re.compile(rf"{_B}(?:the\s+)?{_D}\s+(?:of\s+)?{_M}(?:,?\s+{_Y})?{_E}")),
    ("md_name", re.compile(rf"{_B}{_M}\s+(?:the\s+)?{_D}(?:,?\s+{_Y})?{_E}")),
    ("dmy_or_mdy", re.compile(rf"{_B}(\d{{1,2}})[/.](\d{{1,2}})[/.]{_Y}{_E}")),
]
_TIME = re.compile(r"(?<![\d:])(\d{1,2})(?::(\d{2}))?(?::\d{2})?\s*(am|pm|a\.m\.|p\.m\.)?(?![\d:])"
                   r"|(?<![\d:])(\d{1,2})\s*[:点时]\s*(\d{2})?")
_AMOUNT = re.compile(
    r"(?<![\w.,\-/:#])(?:[$€£¥₹]|usd|eur|gbp|cny|rmb|chf|jpy)?\s?"
    r"([+-]?(?:\d{1,3}(?:[,'\u202f\u00a0 ]\d{3})+|\d+)(?:\.\d+)?)"
    r"(?:\s?(?:[$€£¥₹元]|usd|eur|gbp|cny|rmb|chf|jpy|dollars?|euros?))?(?![\w,]|\.\d)")
_TOKEN = re.compile(r"(?:[^\s,;!?()\[\]{}<>\"'`|]|(?<=\d),(?=\d{3}))+")
_CHUNK = r"[a-z]{0,4}\d[a-z0-9]{0,5}"
_GROUPED = re.compile(rf"(?<![\w])(?:{_CHUNK}[ \-.]){{1,9}}{_CHUNK}(?![\w])")
_PLAIN_NUMBER = re.compile(r"[+-]?(?:0|[1-9]\d{0,2}(?:[,'\u202f\u00a0 ]\d{3})+|[1-9]\d*)(?:\.\d+)?")
_ASCII_RUN = re.compile(r"[\x21-\x7e]+")
_WORD = re.compile(r"[^\W_]+")
_SEPARATORS = re.compile(r"[\s\-_–—]+")
_URL_HEAD = re.compile(r"^(?:[a-z][a-z0-9+.\-]*://)?(?:www\.)?")


def clean(text: str) -> str:
    """NFKC, without zero-width and other format characters, case folded."""
    text = unicodedata.normalize("NFKC", text)
    text = "".join(c for c in text if unicodedata.category(c) != "Cf")
    return text.casefold()


def compact(text: str) -> str:
    """The cleaned text without separators or surrounding punctuation."""
    return _SEPARATORS.sub("", clean(text)).strip(".:,;/+")


def _number(text: str) -> str | None:
    if not _PLAIN_NUMBER.fullmatch(text):
        return None  # "0044" is a code, not the number 44
    digits = re.sub(r"[,'\u202f\u00a0 ]", "", text)
    try:
        return number_form(Decimal(digits))  # exact: "1234567890123456789" is no float
    except InvalidOperation:
        return None


_FLOAT_PLACES = Decimal("1e-10")


def number_form(value: float | Decimal) -> str:
    """A number in one written form: ``1250.50`` → ``1250.5``, ``1250.0`` → ``1250``.

    Written numbers (``Decimal``) and integers are exact; a float is taken as it prints
    (``480.0``), to ten decimals at most (a computed ``0.1 + 0.2`` is ``0.3``)."""
    if isinstance(value, float):
        value = Decimal(repr(value))
        exponent = value.as_tuple().exponent
        if isinstance(exponent, int) and exponent < -10:
            value = value.quantize(_FLOAT_PLACES)
    elif not isinstance(value, Decimal):
        value = Decimal(value)
    if not value.is_finite():
        return str(value).casefold()
    if value == 0:
        return "0"
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def amount_form(text: str) -> str | None:
    """The number an amount written as one piece of cleaned text is, whatever its format —
    ``480.00``, ``+480``, ``1,240.50``, ``usd480``, ``480eur``, ``€480`` —, or None for what is
    not a plain amount: codes with leading zeros (``0042``), versions (``1.2.0``), dates."""
    m = _AMOUNT.fullmatch(text)
    return _number(m.group(1)) if m else None


def _month(name: str) -> int:
    return _MONTHS[name[:3]]


def _date(year: str | None, month: int, day: int) -> list[str]:
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return []
    return [f"{int(year):04d}-{month:02d}-{day:02d}" if year else f"--{month:02d}-{day:02d}"]


def _dates_of(kind: str, g: tuple[Any, ...]) -> list[str]:
    if kind == "ymd":
        return _date(g[0], int(g[1]), int(g[2]))
    if kind == "md":
        return _date(None, int(g[0]), int(g[1]))
    if kind == "range_dm":
        return _date(g[3], _month(g[2]), int(g[0])) + _date(g[3], _month(g[2]), int(g[1]))
    if kind == "range_md":
        return _date(g[3], _month(g[0]), int(g[1])) + _date(g[3], _month(g[0]), int(g[2]))
    if kind == "dm":
        return _date(g[2], _month(g[1]), int(g[0]))
    if kind == "md_name":
        return _date(g[2], _month(g[0]), int(g[1]))
    # 05/13/2024 or 13/05/2024: both readings that are dates
    return sorted(set(_date(g[2], int(g[1]), int(g[0])) + _date(g[2], int(g[0]), int(g[1]))))


def find_dates(text: str) -> tuple[list[str], str]:
    """Dates mentioned in cleaned ``text``, and the text with them blanked out."""
    found: list[str] = []
    for kind, pattern in _DATE_PATTERNS:
        def take(m: re.Match[str], kind: str = kind) -> str:
            found.extend(_dates_of(kind, m.groups()))
            return " " * (m.end() - m.start())
        text = pattern.sub(take, text)
    return found, text


def _times(text: str) -> list[str]:
    out = []
    for m in _TIME.finditer(text):
        hour_s, minute, half, hour2, minute2 = m.groups()
        if hour2 is not None:
            hour, mins = int(hour2), int(minute2 or 0)
        elif minute is None and half is None:
            continue  # a bare number is not a time
        else:
            hour, mins = int(hour_s), int(minute or 0)
            if half and half.startswith("p") and hour < 12:
                hour += 12
            if half and half.startswith("a") and hour == 12:
                hour = 0
        if hour < 24 and mins < 60:
            out.append(f"{hour:02d}:{mins:02d}")
    return out


def url_form(token: str) -> str | None:
    """A URL or host name without scheme, ``www.`` and trailing slash."""
    if "." not in token and "://" not in token:
        return None
    stripped = _URL_HEAD.sub("", token).rstrip("/")
    return stripped if stripped and stripped != token else None


@dataclass(frozen=True, slots=True)
class Indexed:
    """What one text or value contributes to a ledger."""

    forms: frozenset[str]
    """Normal forms of its whole values, tokens, dates, times and amounts."""
    words: str
    """Its words joined by single spaces, for finding a longer value inside it."""


def _token_forms(token: str) -> set[str]:
    token = token.strip(".:,;/+-")
    if not token:
        return set()
    forms = {compact(token)}
    number = _number(token)
    if number is not None:
        forms.add(number)
    url = url_form(token)
    if url is not None:
        forms.add(url)
    return forms


_RUN_ON = re.compile(r"(?<=[a-z0-9])\.(?=[A-Z][a-z])")


CACHED_TEXT_CHARS = 16_384
"""Texts up to this long are indexed once for the last 512 seen (a bound on the memory)."""


def index_text(text: str) -> Indexed:
    """Every form a free text holds: its dates, times, amounts and tokens (dates' pieces are
    not tokens of their own: "June 13" does not offer the number 13). A sentence run on
    without a space ("www.our-company.com.They") also offers its pieces.

    The same passages, memories and tool results recur across runs (a knowledge-base chunk in
    every run that retrieves it): texts up to ``CACHED_TEXT_CHARS`` are indexed once for the
    last 512 seen (``Indexed`` is immutable)."""
    return _index_cached(text) if len(text) <= CACHED_TEXT_CHARS else _index_text(text)


@lru_cache(maxsize=512)
def _index_cached(text: str) -> Indexed:
    return _index_text(text)


def _index_text(text: str) -> Indexed:
    if _RUN_ON.search(text):
        text = f"{text} {_RUN_ON.sub('. ', text)}"
    cleaned = clean(text)
    dates, rest = find_dates(cleaned)
    forms: set[str] = set(dates) | set(_times(rest))
    for m in _AMOUNT.finditer(rest):
        number = _number(m.group(1))
        if number is not None:
            forms.add(number)
    for token in _TOKEN.findall(rest):
        forms |= _token_forms(token)
        if not token.isascii():  # "导出到https://drop.evil.example/api以便同步"
            for piece in _ASCII_RUN.findall(token):
                forms |= _token_forms(piece)
    # digits in groups ("DE89 3704 0044 0532") are also one value
    for group in _GROUPED.findall(rest):
        joined = re.sub(r"[ \-.]", "", group)
        if sum(c.isdigit() for c in joined) >= 6:
            forms.add(joined)
    forms.discard("")
    return Indexed(frozenset(forms), " ".join(_WORD.findall(cleaned)))


def value_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def index_value(value: Any) -> Indexed:
    """A scalar a tool returned: its whole value, plus everything it holds as text."""
    if isinstance(value, bool) or value is None:
        return Indexed(frozenset(), "")
    if isinstance(value, int | float):
        form = number_form(value)
        return Indexed(frozenset({form}), form)
    text = value_text(value)
    inner = index_text(text)
    whole = {compact(text)}
    number = _number(text.strip())
    if number is not None:
        whole.add(number)
    return Indexed(inner.forms | whole, inner.words)


@dataclass(frozen=True, slots=True)
class Part:
    """One part of an argument value that must trace, in all its normal forms."""

    shown: str
    forms: frozenset[str]
    kind: str = "value"
    """``value`` (the whole value), ``date``, ``time`` (of a date-time) or ``token``."""


def value_parts(value: Any) -> list[Part]:
    """What must trace for an argument value to trace.

    Usually one part (the whole value, in all its normal forms). A value that holds dates
    ("2024-05-13 14:00", "May 13") is its dates, its times and its remaining tokens."""
    if isinstance(value, int | float):
        return [Part(str(value), frozenset({number_form(value)}))]
    text = value_text(value)
    cleaned = clean(text)
    dates, rest = find_dates(cleaned)
    if not dates:
        forms = {compact(text)} | _token_forms(cleaned.strip())
        number = _number(cleaned.strip())
        amount = _AMOUNT.fullmatch(cleaned.strip())
        if amount is not None:
            number = _number(amount.group(1))
        if number is not None:
            forms.add(number)
        return [Part(text, frozenset(f for f in forms if f))]
    parts = [Part(d, frozenset({d, "--" + d[5:]} if not d.startswith("--") else {d}), "date")
             for d in dates]
    times = _times(rest)
    parts += [Part(t, frozenset({t}), "time") for t in times]
    rest = _TIME.sub(" ", rest) if times else rest
    parts += [Part(tok, frozenset(_token_forms(tok)), "token") for tok in _TOKEN.findall(rest)
              if tok.strip(".:,;/+-") and tok.strip(".:,;/+-") not in {"t", "at", "z"}]
    return parts


def words_of(value: Any) -> str:
    """The words of a value of several words (to find it inside a longer trusted text); empty
    for a single word, which must match a whole trusted value or token ("1302" is not found in
    "INV-1302")."""
    text = clean(value_text(value)).strip()
    if len(text.split()) < 2:
        return ""
    return " ".join(_WORD.findall(text))
