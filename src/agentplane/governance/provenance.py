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

_TOKEN = re.compile(r"[\w@.:/+\-]+", re.UNICODE)
def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _normal(token: str) -> str:
    return token.strip(".:,;/-+").lower()


def _identifier_like(token: str) -> bool:
    return len(token) >= 2 and (any(c.isdigit() for c in token)
                                or any(c in token for c in "@/:."))


def tokens(text: str) -> set[str]:
    """Identifier-like pieces of a text: numbers, IBANs, e-mail addresses, paths, URLs.

    Ordinary words are left out on purpose: a summary that shares words with a mail is not an
    injection, while a redirected payment, an exfiltration address, a phishing link or a target
    path always travels in such a piece.
    """
    return {t for t in (_normal(raw) for raw in _TOKEN.findall(text)) if _identifier_like(t)}


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
    _untrusted: dict[str, str] = field(default_factory=dict)

    def add(self, value: Any, *, source: str, trusted: bool) -> None:
        text = _text(value)
        pieces = tokens(text)
        if trusted:
            self._trusted |= pieces
        else:
            for piece in pieces:
                self._untrusted.setdefault(piece, source)

    def tainted(self, arguments: dict[str, Any]) -> list[TaintedValue]:
        """Argument values that appeared in untrusted content and nowhere trusted."""
        found: list[TaintedValue] = []
        for path, leaf in _leaves(arguments, ""):
            text = _text(leaf)
            pieces = tokens(text)
            whole = _normal(text)
            if len(whole) >= self.min_length:
                pieces.add(whole)  # a short free-text value taken whole from untrusted content
            for piece in sorted(pieces):
                source = self._untrusted.get(piece)
                if source is not None and piece not in self._trusted:
                    found.append(TaintedValue(path, piece, source))
        return found


def _leaves(value: Any, path: str) -> list[tuple[str, Any]]:
    if isinstance(value, dict):
        return [leaf for k, v in value.items()
                for leaf in _leaves(v, f"{path}.{k}" if path else str(k))]
    if isinstance(value, list):
        return [leaf for i, v in enumerate(value) for leaf in _leaves(v, f"{path}[{i}]")]
    return [] if value is None or isinstance(value, bool) else [(path, value)]
