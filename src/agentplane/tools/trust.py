"""Trust declarations of a tool's result: all of it, none of it, or field by field.

``trust: trusted`` / ``trust: untrusted`` declare the whole result. Real results mix fields the
*system* produced (a file's id, a transaction's amount, an event's id) with text an outsider
wrote (a file's content, a transaction's subject), so a tool may also declare trust per field::

    trust: {default: untrusted, trusted: ["$.files[*].id", "$.transactions[*].amount", "id"]}
    trust: {default: trusted, untrusted: ["$..subject", "body"]}

Paths are a JSONPath subset: ``$`` (the whole result), ``.name``, ``[*]`` (every element),
``[N]`` (one element), ``..name`` (``name`` at any depth below), or a bare field name, meaning
that key at any depth. A path selects a node and everything below it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, PlainValidator, field_validator
from pydantic_core import PydanticCustomError

from .base import Trust

PathStep = tuple[str, str | int | None]
"""``("key", name)``, ``("index", n)``, ``("any", None)`` or ``("deep", name)``."""

_STEP = re.compile(r"\.\.([^.\[\]]+)|\.([^.\[\]]+)|\[(\*|\d+)\]|\[['\"]([^'\"]+)['\"]\]")
_BARE = re.compile(r"[^.\[\]$\s][^.\[\]\s]*")


class PathError(ValueError):
    """A trust path is not in the supported JSONPath subset."""


def parse_path(path: str) -> tuple[PathStep, ...]:
    """The steps of one trust path; raises ``PathError`` saying what is wrong."""
    text = path.strip()
    if not text:
        raise PathError("an empty path; use `$` for the whole result")
    if not text.startswith("$"):
        if _BARE.fullmatch(text):
            return (("deep", text),)
        raise PathError(f"path {path!r} is neither a field name nor a JSONPath starting with `$`")
    steps: list[PathStep] = []
    at = 1
    while at < len(text):
        m = _STEP.match(text, at)
        if m is None:
            raise PathError(f"path {path!r}: cannot read {text[at:]!r} (supported: `.name`, "
                            "`..name`, `[*]`, `[N]`)")
        deep, key, index, quoted = m.groups()
        if deep is not None:
            steps.append(("deep", deep))
        elif key is not None or quoted is not None:
            steps.append(("key", key if key is not None else quoted))
        elif index == "*":
            steps.append(("any", None))
        else:
            steps.append(("index", int(index)))
        at = m.end()
    return tuple(steps)


def path_selects(steps: Sequence[PathStep], at: Sequence[str | int]) -> bool:
    """Whether the node at concrete path ``at`` is selected by ``steps`` or lies below a node
    they select."""
    if not steps:
        return True
    if not at:
        return False
    kind, arg = steps[0]
    head = at[0]
    if kind == "key":
        return head == arg and path_selects(steps[1:], at[1:])
    if kind == "index":
        return isinstance(head, int) and head == arg and path_selects(steps[1:], at[1:])
    if kind == "any":
        return path_selects(steps[1:], at[1:])
    return any(at[i] == arg and path_selects(steps[1:], at[i + 1:]) for i in range(len(at)))


class FieldTrust(BaseModel):
    """Trust declared per field of a tool's result."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    default: Trust = Trust.UNTRUSTED
    """The trust of every part of the result no path below names."""
    trusted: tuple[str, ...] = Field(default=())
    """Paths whose values count as a trusted origin (with ``default: untrusted``)."""
    untrusted: tuple[str, ...] = Field(default=())
    """Paths whose values are outside content (with ``default: trusted``)."""
    names: tuple[str, ...] = Field(default=())
    """Paths whose values are names someone chose (a channel's, a file's): the system lists
    them, so the whole name is a trusted origin (it may be addressed), but what the name *says*
    is outside content (its words, addresses and numbers trace to nothing trusted)."""

    @field_validator("trusted", "untrusted", "names")
    @classmethod
    def _paths_parse(cls, paths: tuple[str, ...]) -> tuple[str, ...]:
        for path in paths:
            parse_path(path)  # PathError is a ValueError: pydantic reports it with its place
        return paths

    def trust_at(self, at: Sequence[str | int]) -> Trust:
        """The trust of the value at concrete path ``at`` of a result."""
        listed, other = ((self.trusted, Trust.TRUSTED) if self.default is Trust.UNTRUSTED
                         else (self.untrusted, Trust.UNTRUSTED))
        if any(path_selects(_steps(p), at) for p in listed):
            return other
        return self.default

    def is_name(self, at: Sequence[str | int]) -> bool:
        """Whether the value at concrete path ``at`` is a name someone chose."""
        return any(path_selects(_steps(p), at) for p in self.names)


_steps = functools.cache(parse_path)
"""``parse_path`` once per path: a declaration's paths are checked at every leaf of a result."""


TrustDeclaration = Trust | FieldTrust
"""What a tool may declare as ``trust``: the whole result's, or per field."""


@dataclass(frozen=True, slots=True)
class Leaf:
    """One scalar of a tool's result, where it is, and how far it is trusted."""

    at: tuple[str | int, ...]
    value: Any
    trust: Trust
    name: bool = False
    """A name someone chose (``FieldTrust.names``): trusted as a whole value only."""


def leaves(value: Any, declared: TrustDeclaration,
           at: tuple[str | int, ...] = ()) -> list[Leaf]:
    """Every scalar of ``value`` with its trust under ``declared``."""
    if isinstance(value, dict):
        return [leaf for k, v in value.items() for leaf in leaves(v, declared, (*at, str(k)))]
    if isinstance(value, list | tuple):
        return [leaf for i, v in enumerate(value) for leaf in leaves(v, declared, (*at, i))]
    if value is None or isinstance(value, bool):
        return []
    if isinstance(declared, FieldTrust):
        return [Leaf(at, value, declared.trust_at(at), declared.is_name(at))]
    return [Leaf(at, value, declared)]


def trust_label(declared: TrustDeclaration | None) -> str:
    """``trusted``, ``untrusted`` or ``undeclared`` (for lists and badges); per-field trust is
    labelled by its default."""
    if declared is None:
        return "undeclared"
    return declared.default.value if isinstance(declared, FieldTrust) else declared.value


_EXPECTED = ("trust must be 'trusted' or 'untrusted', or a mapping such as "
             "{default: untrusted, trusted: [\"$.items[*].id\"]}")


def parse_trust(value: Any) -> TrustDeclaration:
    """A trust declaration from a file: ``trusted``, ``untrusted`` or a mapping of paths."""
    if isinstance(value, Trust | FieldTrust):
        return value
    if isinstance(value, str) and value in {t.value for t in Trust}:
        return Trust(value)
    if isinstance(value, dict):
        return FieldTrust.model_validate(value)
    raise PydanticCustomError("trust", _EXPECTED)


def _dump_trust(value: TrustDeclaration) -> Any:
    if not isinstance(value, FieldTrust):
        return value.value
    dumped = value.model_dump(mode="json")
    if not dumped["names"]:
        del dumped["names"]  # a declaration without names hashes as it did before they existed
    return dumped


TrustField = Annotated[Trust | FieldTrust, PlainValidator(parse_trust),
                       PlainSerializer(_dump_trust)]
"""A ``trust:`` field of a spec: one error that says what is expected, not one per shape."""
