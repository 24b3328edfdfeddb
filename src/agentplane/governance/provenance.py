"""Provenance of argument values: where did this value first come from?

Every text a run sees is recorded with its source: the user's request and trusted tools'
results as *trusted*, the results of tools declared ``trust: untrusted`` (mail, web pages,
documents, other companies' agents) as *untrusted*. When an agent proposes a ``write`` or
``irreversible`` call, each identifier-like token of its arguments (IBANs, e-mail addresses,
paths, URLs, numbers, long words) is looked up: one that appears in untrusted content and
nowhere trusted came from outside, whatever the model says about it. This does not depend on
the model noticing the attack.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

# ASCII on purpose: a URL written right against Chinese text is still a token of its own.
_TOKEN = re.compile(r"[\w@.:/+\-]+", re.ASCII)
# Digits written in groups (IBANs, card and phone numbers) are also traced without their
# separators, since agents pass them compacted: "DE89 3704 0044" -> "de8937040044".
_CHUNK = r"[A-Za-z]{0,4}\d[A-Za-z0-9]{0,5}"  # a group with a digit: "CY17", "0020", "7600"
_GROUPED = re.compile(rf"(?<![A-Za-z0-9])(?:{_CHUNK}[ \-]){{1,9}}{_CHUNK}(?![A-Za-z0-9])",
                      re.ASCII)
_THOUSANDS = re.compile(r"(?<![\d.])\d{1,3}(?:,\d{3})+(?:\.\d+)?(?![\d])")
_DECIMAL = re.compile(r"(\d+)\.(\d*?)0*")


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _normal(token: str) -> str:
    token = token.strip(".:,;/-+").lower()
    decimal = _DECIMAL.fullmatch(token)
    if decimal:  # 1250.00 and 1250.0 and 1250 are one amount
        whole, fraction = decimal.groups()
        token = f"{whole}.{fraction}" if fraction else whole
    return token


def _identifier_like(token: str) -> bool:
    return len(token) >= 2 and (any(c.isdigit() for c in token)
                                or any(c in token for c in "@/:."))


def tokens(text: str) -> set[str]:
    """Identifier-like pieces of a text: numbers, IBANs, e-mail addresses, paths, URLs.

    Ordinary words are left out on purpose: a summary that shares words with a mail is not an
    injection, while a redirected payment, an exfiltration address, a phishing link or a target
    path always travels in such a piece.
    """
    text = _THOUSANDS.sub(lambda m: m.group().replace(",", ""), text)
    found = {t for t in (_normal(raw) for raw in _TOKEN.findall(text)) if _identifier_like(t)}
    for group in _GROUPED.findall(text):
        joined = _normal(re.sub(r"[ \-]", "", group))
        if sum(c.isdigit() for c in joined) >= 6:
            found.add(joined)
    return found


@dataclass(frozen=True, slots=True)
class TaintedValue:
    """An argument value (or part of one) that came from untrusted content."""

    argument: str
    """Path of the argument, e.g. ``iban`` or ``items[0].note``."""
    value: str
    """The token or words that matched."""
    source: str
    """Where it appeared, e.g. ``read_mail at s0/clerk/m1/t0``."""


@dataclass
class ProvenanceLedger:
    """What a run has seen, by trust. Rebuilt on replay in the same order."""

    min_length: int = 4
    _trusted: set[str] = field(default_factory=set)
    _declared: set[str] = field(default_factory=set)
    _untrusted: dict[str, str] = field(default_factory=dict)

    def add(self, value: Any, *, source: str, trusted: bool, declared: bool = False) -> None:
        """Record what a run saw. ``declared``: the user or the workflow's author wrote it (the
        run's input, instructions), as opposed to what a tool returned."""
        text = _text(value)
        pieces = tokens(text)
        if declared:
            self._declared |= pieces
        if trusted or declared:
            self._trusted |= pieces
        else:
            for piece in pieces:
                self._untrusted.setdefault(piece, source)

    def tainted(self, arguments: dict[str, Any], *, strict: bool = False) -> list[TaintedValue]:
        """Argument values that appeared in untrusted content and nowhere trusted.

        ``strict``: only what the user or the workflow declared clears a value — a trusted
        tool's result that merely repeats what outside content said does not (for
        irreversible calls, where the outside content may have chosen among trusted values).
        """
        cleared = self._declared if strict else self._trusted
        found: list[TaintedValue] = []
        for path, leaf in _leaves(arguments, ""):
            for piece in sorted(tokens(_text(leaf))):
                source = self._untrusted.get(piece)
                if source is not None and piece not in cleared:
                    found.append(TaintedValue(path, piece, source))
        return found


    def untraced(self, arguments: dict[str, Any]) -> list[tuple[str, str]]:
        """Identifier-like values seen nowhere trusted: ``(argument path, value)``."""
        return [(path, piece) for path, leaf in _leaves(arguments, "")
                for piece in sorted(tokens(_text(leaf))) if piece not in self._trusted]

    def is_declared(self, text: str) -> bool:
        """Whether the user or the workflow itself wrote this value (e.g. their own address)."""
        pieces = tokens(text)
        return bool(pieces) and pieces <= self._declared


def _leaves(value: Any, path: str) -> list[tuple[str, Any]]:
    if isinstance(value, dict):
        return [leaf for k, v in value.items()
                for leaf in _leaves(v, f"{path}.{k}" if path else str(k))]
    if isinstance(value, list):
        return [leaf for i, v in enumerate(value) for leaf in _leaves(v, f"{path}[{i}]")]
    return [] if value is None or isinstance(value, bool) else [(path, value)]
