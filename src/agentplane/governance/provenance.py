"""Provenance of argument values: can this value be traced to a trusted origin?

Every text a run sees is recorded with its source: the user's request and the workflow as
*declared* (trusted, written by the people who run it), trusted tools' results and the trusted
fields of a result as *trusted*, the results of tools declared ``trust: untrusted`` (mail, web
pages, documents, other companies' agents) and their untrusted fields as *untrusted*. A source
the request itself names ("the IBAN in bill-2023.txt") is *designated*: what a call that reads it
returns counts as declared for the run.

Once untrusted content is in the run, a value an agent passes where it selects or addresses
something must be *found* among trusted values — "can it be traced?", not "was it seen in
untrusted content?" —, so a value the attacker spelled out in words, with full-width digits or
zero-width characters, traces nowhere and is refused. Values are compared in normal forms
(``normalise``); a value shorter than ``min_length`` matches only a whole trusted value or token,
never a piece of one ("13" is not found in "June 13"). This does not depend on the model noticing
the attack.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from agentplane.tools.base import Trust
from agentplane.tools.trust import TrustDeclaration, leaves

from .arguments import is_amount_argument
from .normalise import (
    Indexed,
    amount_form,
    clean,
    compact,
    index_value,
    value_parts,
    value_text,
    words_of,
)

# Identifier-like pieces of composed text: numbers, IBANs, e-mail addresses, paths, URLs.
_PIECE = re.compile(r"[\w@.:/+\-]+", re.ASCII)
_CHUNK = r"[A-Za-z]{0,4}\d[A-Za-z0-9]{0,5}"
_GROUPED = re.compile(rf"(?<![A-Za-z0-9])(?:{_CHUNK}[ \-]){{1,9}}{_CHUNK}(?![A-Za-z0-9])",
                      re.ASCII)
# An amount with thousands separators, one kind throughout ("1,240.50", "1 240.50", "1'240.50"),
# is one piece; "555 123 4567" (a phone number's groups) is not an amount.
_THOUSANDS = re.compile(r"(?<![\d.])(?<!\d[,'\u202f\u00a0 ])\d{1,3}([,'\u202f\u00a0 ])\d{3}"
                        r"(?:\1\d{3})*(?:\.\d+)?(?!\d|[,'\u202f\u00a0 .]\d)")
_SEPARATOR = re.compile(r"[,'\u202f\u00a0 ]")
# A name of something in an answer: capitalised words in a row on one line ("Riverside Grand
# Hotel"; a name does not run on into the next line).
_SENTENCE_START = re.compile(r"(?:^|[.!?:\n]\s*|^\s*[-*•]\s*)$")
_NAME = re.compile(r"(?<![\w])(?:[A-Z][\w'’\-]+)(?:[ \t]+(?:[A-Z][\w'’\-]+|&|of|de|la|le))*")


# A request designates a source when it says a value is there, not merely that it is to be read:
# "her e-mail is on her website www.dora.example", "you can find the IBAN in bill-2023.txt",
# "the IBAN in bill-2023.txt", "take the address from notes.txt"; but not "check
# https://parcels.example/88812", "summarise the page https://blog.example/tips", "the scores in
# the file feedback.xlsx" (a question about it) or "the actions in the mail from x@y.example"
# (instructions are what an injection is made of, never a value to trust).
_VALUE_NOUN = (r"(?:iban|account(?:\s+number)?|bank\s+details|payment\s+details|address|"
               r"e-?mail\s+address|phone(?:\s+number)?|number|amount|sum|price|date|link|"
               r"url|website|name|password|code|id|identifier|reference|recipient|contact)")
_DESIGNATES = re.compile(
    r"(?:\b(?:is|are|'s|was|were)\s+(?:[\w\-]+\s+)?(?:in|on|at)\b"
    rf"|\b(?:find|found|get|take|use|copy)\s+(?:[\w\-]+\s+){{0,2}}?(?:{_VALUE_NOUN}|e-?mail)s?"
    r"\s+(?:in|on|at|from)\b"
    rf"|\b(?:the|her|his|their|its|my|our)\s+(?:[\w\-]+\s+)?{_VALUE_NOUN}s?\s+(?:in|from|on)\b)"
    r"(?:\s+(?:the|my|her|his|their|our|its|this|that))?(?:\s+[\w\-]+){0,2}?[\s:'\"“‘(]*$")
_SOURCE = re.compile(r"[^\s'\"“”‘’()<>,;]+")
# A designation names the value it places, in its own clause: "her e-mail is on ...", not
# "what is in notes.txt?" nor "what scores are in feedback.xlsx?".
_NAMES_VALUE = re.compile(rf"\b(?:{_VALUE_NOUN}|e-?mail)s?\b")
_CLAUSE = re.compile(r"[.!?;\n]\s")
_PLACE = re.compile(r"\b(?:in|on|at|from)\b")


# The kinds of value a designation by value noun clears ("her e-mail is on her website" clears
# e-mail addresses read from the website, not every value on it). A noun of no recognisable
# kind (a name, a password, a code) clears every value of the source, as before.
_NOUN_KINDS: list[tuple[re.Pattern[str], frozenset[str]]] = [
    (re.compile(r"\be-?mails?(?:\s+address(?:es)?)?\b"), frozenset({"email"})),
    (re.compile(r"\b(?:iban|account(?:\s+number)?|bank\s+details|payment\s+details)s?\b"),
     frozenset({"iban"})),
    (re.compile(r"\b(?:link|url|website|web\s*site|page)s?\b"), frozenset({"url"})),
    (re.compile(r"\b(?:amount|sum|price|cost|fee|rent)s?\b"), frozenset({"amount"})),
    (re.compile(r"\bdates?\b"), frozenset({"date"})),
    (re.compile(r"\bphone(?:\s+number)?s?\b"), frozenset({"phone"})),
    (re.compile(r"\baddress(?:es)?\b"), frozenset({"email", "url"})),
]
_KIND_FORMS: dict[str, re.Pattern[str]] = {
    "email": re.compile(r"[^@\s]+@[^@\s]+\.[a-z]{2,}"),
    "iban": re.compile(r"[a-z]{2}\d{2}[a-z0-9]{11,30}"),
    "url": re.compile(r"(?:[a-z0-9\-]+\.)+[a-z]{2,}(?:/\S*)?"),
    "amount": re.compile(r"[+-]?\d+(?:\.\d+)?"),
    "date": re.compile(r"(?:\d{4}|-)-\d{2}-\d{2}"),
    "phone": re.compile(r"\+?\d{7,15}"),
}


def _kinds_named(before: str) -> frozenset[str] | None:
    """The value kinds the words before a source name (the last value noun), or None."""
    best: tuple[int, frozenset[str]] | None = None
    for pattern, kinds in _NOUN_KINDS:
        for m in pattern.finditer(before):
            if best is None or m.start() > best[0]:
                best = (m.start(), kinds)
    return best[1] if best else None


def _either(a: frozenset[str] | None, b: frozenset[str] | None) -> frozenset[str] | None:
    """Value kinds designated twice: both kinds (None: any kind)."""
    return None if a is None or b is None else a | b


def designations(text: str) -> dict[str, frozenset[str] | None]:
    """The sources (file names, URLs, hosts, addresses) a request designates as where a value
    is, in normal form, each with the kinds of value it is designated for (None: any)."""
    cleaned = clean(text)
    found: dict[str, frozenset[str] | None] = {}
    for m in _SOURCE.finditer(cleaned):
        token = m.group().rstrip(".:!?")
        if len(token) < 4 or not any(c in token for c in "./@:"):
            continue
        before = cleaned[max(0, m.start() - 80):m.start()]
        said = _DESIGNATES.search(before)
        if said:
            # the value noun comes before the word that places it ("her e-mail is on her
            # website", "the IBAN in"), not the words naming the source after it
            place = _PLACE.search(before, said.start())
            named = before[:place.start() if place else said.end()]
            if not _NAMES_VALUE.search(_CLAUSE.split(named)[-1]):
                continue  # "what is in notes.txt?" asks about a source, names no value in it
            kinds = _kinds_named(named)
            for form in (f for part in value_parts(token) for f in part.forms):
                found[form] = _either(found.get(form, frozenset()), kinds)
    return found


def _of_kinds(indexed: Indexed, kinds: frozenset[str]) -> Indexed:
    """Only the forms of the given kinds (and no text to find longer values in)."""
    return Indexed(frozenset(f for f in indexed.forms
                             if any(_KIND_FORMS[k].fullmatch(f) for k in kinds)), "")


def _identifier_like(token: str) -> bool:
    return len(token) >= 2 and (any(c.isdigit() for c in token)
                                or any(c in token for c in "@/:."))


def _amounts_joined(cleaned: str) -> str:
    """Cleaned text with the thousands separators of its amounts dropped."""
    return _THOUSANDS.sub(lambda m: _SEPARATOR.sub("", m.group()), cleaned)


def pieces(text: str) -> dict[str, frozenset[str]]:
    """Identifier-like pieces of a text (numbers, IBANs, e-mail addresses, paths, URLs), each
    with its normal forms: the piece itself and, for an amount, its number ("480.00", "€480",
    "1,240.50", "USD480" are the numbers 480 and 1240.5; "0042", "1.2.0" and dates stay as
    written). Ordinary words are left out: a summary that shares words with a mail is not an
    injection, while a redirected payment, an exfiltration address or a phishing link travels
    in such a piece."""
    text = _amounts_joined(clean(text))
    found: dict[str, frozenset[str]] = {}
    for raw in _PIECE.findall(text):
        piece = compact(raw)
        if _identifier_like(piece):
            number = amount_form(raw.strip(".:,;/+"))
            found[piece] = found.get(piece, frozenset()) | (
                {piece} if number is None else {piece, number})
    for group in _GROUPED.findall(text):
        joined = compact(group)
        if sum(c.isdigit() for c in joined) >= 6:
            found.setdefault(joined, frozenset({joined}))
    return found


def tokens(text: str) -> set[str]:
    """The normal forms of a text's identifier-like pieces (``pieces``)."""
    return {form for forms in pieces(text).values() for form in forms}


@dataclass(frozen=True, slots=True)
class TaintedValue:
    """An argument value (or part of one) that could not be traced to a trusted origin."""

    argument: str
    """Path of the argument, e.g. ``iban`` or ``items[0].note``."""
    value: str
    """The value or piece that did not trace."""
    source: str
    """Where it appeared in untrusted content (e.g. ``read_mail at s0/clerk/m1/t0``), or
    ``nowhere`` when no content the run saw holds it."""


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a value was traced to."""

    source: str
    declared: bool
    """The request, the workflow, or a source the request names."""
    designated: bool = False


@dataclass(slots=True)
class _Side:
    """Everything of one trust: normal forms, and texts to find longer values in. (Slots, and
    a frozenset for the rarely used names: every live run holds four of these.)"""

    forms: dict[str, str] = field(default_factory=dict)
    texts: list[tuple[str, str]] = field(default_factory=list)
    numbers: dict[Decimal, str] = field(default_factory=dict)
    names: frozenset[str] = frozenset()
    """Texts that are whole names (``ProvenanceLedger._add_name``): what they say is here,
    but not the name itself."""

    def add(self, indexed: Indexed, source: str, *, name: bool = False) -> None:
        for form in indexed.forms:
            self.forms.setdefault(form, source)
            if _KIND_FORMS["amount"].fullmatch(form):
                self.numbers.setdefault(Decimal(form), source)
        if indexed.words:
            self.texts.append((f" {indexed.words} ", source))
            if name:
                self.names |= {f" {indexed.words} "}

    def find(self, forms: Iterable[str], words: str, min_length: int) -> str | None:
        for form in forms:
            source = self.forms.get(form)
            if source is not None:
                return source
        if words and len(words.replace(" ", "")) >= min_length:
            needle = f" {words} "
            return next((source for text, source in self.texts if needle in text
                         and (text != needle or text not in self.names)), None)
        return None


@dataclass(slots=True)
class ProvenanceLedger:
    """What a run has seen, by trust. Rebuilt on replay in the same order."""

    min_length: int = 4
    untrusted_seen: bool = False
    """Whether untrusted content has entered the run (from then on, consequential values
    must trace)."""
    _declared: _Side = field(default_factory=_Side)
    _trusted: _Side = field(default_factory=_Side)
    _names: _Side = field(default_factory=_Side)
    """Whole names someone chose that a system lists (``FieldTrust.names``): they may address
    the thing they name, never serve as an outside destination."""
    _untrusted: _Side = field(default_factory=_Side)
    _declared_tokens: set[str] = field(default_factory=set)
    _sources: dict[str, frozenset[str] | None] = field(default_factory=dict)
    designations: list[str] = field(default_factory=list)
    """Sources the request named that the run read (``read_file(path='bill.txt')``)."""
    _designated: frozenset[str] = frozenset()
    _pending: list[tuple[Any, str, bool, bool]] = field(default_factory=list)
    """Values ``add`` recorded that are not indexed yet, in order: indexed when the ledger is
    first read (``_settle``). Most runs never read it — no untrusted content comes in, so no
    guardian traces anything —, and then their input and instructions are never indexed."""

    def add(self, value: Any, *, source: str, trusted: bool, declared: bool = False) -> None:
        """Record a text or JSON value the run saw as a whole. ``declared``: the user or the
        workflow's author wrote it (the run's input, instructions)."""
        kept = trusted or declared
        for leaf in leaves(value, Trust.TRUSTED if kept else Trust.UNTRUSTED):
            self._pending.append((leaf.value, source, kept, declared))
            if not kept:
                self.untrusted_seen = True

    def _settle(self) -> None:
        """Index the values recorded but not indexed yet, in the order they were recorded
        (every read of the ledger's sides comes after this)."""
        if self._pending:
            pending, self._pending = self._pending, []
            for value, source, trusted, declared in pending:
                self._add_leaf(value, source, trusted, declared)

    def add_input(self, value: Any, *, trust: str | None = None) -> None:
        """Record the run's input: the user's request, declared — or, with ``trust=
        "untrusted"`` (``meta.input_trust`` of a run a mail or a webhook started), outside
        content: nothing in it is a trusted origin, and the run has seen untrusted content
        from its first step, so what a write selects must trace to the workflow or to trusted
        tools, never to the mail alone."""
        if trust == "untrusted":
            self.add(value, source="the run's input (from outside: untrusted)", trusted=False)
        else:
            self.add(value, source="the run's input", trusted=True, declared=True)

    def _add_leaf(self, value: Any, source: str, trusted: bool, declared: bool) -> None:
        indexed = index_value(value)
        if declared:
            self._declared.add(indexed, source)
            self._declared_tokens |= tokens(value_text(value))
            if isinstance(value, str):
                for form, kinds in designations(value).items():
                    self._sources[form] = _either(self._sources.get(form, frozenset()), kinds)
        if trusted:
            self._trusted.add(indexed, source)
        else:
            self._untrusted.add(indexed, source)
            self.untrusted_seen = True

    def record_result(self, tool: str, arguments: Mapping[str, Any], value: Any,
                      declared: TrustDeclaration | None, *, source: str) -> str | None:
        """Record a tool's result under its trust declaration. Returns the designation when
        the call read a source the request names (its result then counts as declared)."""
        if declared is None:
            return None  # an undeclared write's result: no origin, no outside content
        self._settle()
        found = self._designation(tool, arguments)
        if found is not None:
            designation, kinds = found
            self.designations.append(designation)
            label = f"{source}, {designation}"
            self._designated |= {label}
            if kinds is None:
                for leaf in leaves(value, Trust.TRUSTED):
                    self._add_leaf(leaf.value, label, True, True)
                return designation
            # designated for values of some kinds only: those are declared, the rest of the
            # result keeps the tool's own trust
            for leaf in leaves(value, Trust.TRUSTED):
                self._declared.add(_of_kinds(index_value(leaf.value), kinds), label)
        for leaf in leaves(value, declared):
            if leaf.name:
                self._add_name(leaf.value, source)
            else:
                self._add_leaf(leaf.value, source, leaf.trust is Trust.TRUSTED, False)
        return found[0] if found else None

    def _add_name(self, value: Any, source: str) -> None:
        """A name someone chose, that the system lists (a channel's): the whole name is a
        trusted origin; what it says — its words, addresses, numbers — is outside content."""
        indexed = index_value(value)
        parts = value_parts(value)
        whole = (parts[0].forms if len(parts) == 1 else frozenset({compact(value_text(value))}))
        self._names.add(Indexed(whole, ""), source)
        self._untrusted.add(Indexed(indexed.forms - whole, indexed.words), source, name=True)
        self.untrusted_seen = True

    def _designation(self, tool: str, arguments: Mapping[str, Any]
                     ) -> tuple[str, frozenset[str] | None] | None:
        """A call whose address argument is a source the request designates, and the kinds of
        value it is designated for (None: any)."""
        for name, leaf in _leaves(dict(arguments), ""):
            if not isinstance(leaf, str) or len(compact(leaf)) < self.min_length:
                continue
            forms = {f for part in value_parts(leaf) for f in part.forms} & self._sources.keys()
            if not forms:
                continue
            kinds: frozenset[str] | None = frozenset()
            for form in forms:
                kinds = _either(kinds, self._sources[form])
            which = ("what it returned is trusted for this run" if kinds is None else
                     f"the {', '.join(sorted(kinds))} values it returned are trusted for this "
                     "run")
            return f"a source the request names ({tool} with {name}={leaf!r}): {which}", kinds
        return None

    def trace(self, value: Any, *, strict: bool = False, computed: bool = False,
              destination: bool = False) -> Origin | None:
        """The trusted origin of an argument value, or None.

        Every part must trace (a date-time: its date and its time). ``strict``: a value that
        untrusted content also holds is cleared only by a declared origin — for irreversible
        calls, where the outside content may have chosen among trusted values (which file to
        delete, which payee to pay). ``computed``: the value is an amount (by the argument's
        name), which may also be the sum or difference of two trusted amounts.
        ``destination``: where an external call goes, which a listed name never clears (a
        channel named "fred@evil.example" is a channel, not an address to invite)."""
        self._settle()
        origin: Origin | None = None
        parts = value_parts(value)
        words = words_of(value) if len(parts) == 1 else ""
        for part in parts:
            forms = part.forms
            declared = self._declared.find(forms, words, self.min_length)
            if declared is not None:
                origin = origin or Origin(declared, True, declared in self._designated)
                continue
            trusted = self._trusted.find(forms, words, self.min_length)
            if trusted is None and not destination:
                trusted = self._names.find(forms, "", self.min_length)
            # The time of day of a date that traces, which no content mentions, is the agent's
            # choice ("on May 13" -> 09:00); a time outside content gave is refused.
            if (trusted is None and part.kind == "time" and len(parts) > 1
                    and self._untrusted.find(forms, "", self.min_length) is None):
                continue
            if trusted is None and computed and part.kind == "value":
                trusted = self._computed(forms)
            if trusted is None:
                return None
            if strict and self._untrusted.find(forms, words, self.min_length) is not None:
                return None
            origin = origin or Origin(trusted, False)
        return origin

    def _computed(self, forms: Iterable[str]) -> str | None:
        """An amount no content gave that is the sum or difference of two trusted amounts
        (what is left to pay, a refund of the excess): its origin, or None."""
        numbers = {Decimal(f) for f in forms if _KIND_FORMS["amount"].fullmatch(f)}
        if not numbers or self._untrusted.find(forms, "", self.min_length) is not None:
            return None
        known = {**self._trusted.numbers, **self._declared.numbers}
        for n in numbers:
            for a, source in known.items():
                for b in (n - a, a - n):
                    if b > 0 and b in known and n > 0:
                        return f"computed from {a} ({source}) and {b} ({known[b]})"
        return None

    def seen_untrusted(self, value: Any) -> str | None:
        """Where untrusted content holds this value, if it does."""
        self._settle()
        words = words_of(value)
        for part in value_parts(value):
            found = self._untrusted.find(part.forms, words, self.min_length)
            if found is not None:
                return found
        return None

    def untraced(self, arguments: Mapping[str, Any], *, strict: bool = False,
                 destination: bool = False) -> list[TaintedValue]:
        """Argument values (every leaf, whole) that trace to no trusted origin
        (``destination``: as where an external call goes)."""
        found = []
        for path, leaf in _leaves(dict(arguments), ""):
            if isinstance(leaf, str) and not leaf.strip():
                continue
            if self.trace(leaf, strict=strict, computed=is_amount_argument(path),
                          destination=destination) is None:
                found.append(TaintedValue(path, value_text(leaf),
                                          self.seen_untrusted(leaf) or "nowhere"))
        return found

    def traced_designated(self, arguments: Mapping[str, Any]) -> list[tuple[str, str, str]]:
        """``(argument, value, source)`` of values traced to a source the request names."""
        if not self._designated:
            return []  # no call read such a source (the usual case): nothing to trace again
        out = []
        for path, leaf in _leaves(dict(arguments), ""):
            origin = self.trace(leaf)
            if origin is not None and origin.designated:
                out.append((path, value_text(leaf), origin.source))
        return out

    def tainted(self, arguments: Mapping[str, Any], *,
                strict: bool = False) -> list[TaintedValue]:
        """Identifier-like pieces of (composed) argument text that untrusted content holds and
        no trusted origin does. ``strict``: only a declared origin clears them."""
        self._settle()
        cleared = self._declared if strict else self._trusted
        found: list[TaintedValue] = []
        for path, leaf in _leaves(dict(arguments), ""):
            # a piece in any format is its value: "1,000.00" is the mail's "1000", and a
            # trusted 480.0 clears "480.00"
            for piece, forms in sorted(pieces(value_text(leaf)).items()):
                source = self._untrusted.find(forms, "", self.min_length)
                if source is not None and cleared.find(forms, "", self.min_length) is None:
                    found.append(TaintedValue(path, piece, source))
        return found

    def answer_values(self, text: str) -> list[TaintedValue]:
        """Values in a final answer that untrusted content may have put there: identifier-like
        pieces and names of things (capitalised words in a row) that untrusted content holds
        and that no declared origin (the request, the workflow, a designated source) gives —
        also when a trusted result lists them: outside content that names one value of a
        trusted catalogue ("say I should visit Riverside View Hotel") has chosen it, as the
        strict rule of irreversible calls says."""
        if not self.untrusted_seen:
            return []  # no untrusted content holds anything (nothing is found below)
        found_pieces = {raw.strip(".:,;/-+")
                        for raw in _PIECE.findall(_amounts_joined(clean(text)))}
        names = {m.group().strip() for m in _NAME.finditer(text)
                 if len(compact(m.group())) >= self.min_length
                 and (len(m.group().split()) > 1 or not _SENTENCE_START.search(
                     text[:m.start()]))}
        candidates = sorted(p for p in found_pieces if _identifier_like(p)) + sorted(names)
        found = []
        for value in candidates:
            if self.trace(value, strict=True) is not None:
                continue
            source = self.seen_untrusted(value)
            if source is not None:
                found.append(TaintedValue("answer", value, source))
        return found

    def is_declared(self, text: str) -> bool:
        """Whether the user or the workflow itself wrote this value (e.g. their own address)."""
        self._settle()
        found = pieces(text).values()
        return bool(found) and all(forms & self._declared_tokens for forms in found)


def _leaves(value: Any, path: str) -> list[tuple[str, Any]]:
    if isinstance(value, dict):
        return [leaf for k, v in value.items()
                for leaf in _leaves(v, f"{path}.{k}" if path else str(k))]
    if isinstance(value, list):
        return [leaf for i, v in enumerate(value) for leaf in _leaves(v, f"{path}[{i}]")]
    return [] if value is None or isinstance(value, bool) else [(path, value)]

