"""Grounding: every claim of an answer cites what the run has seen, and says what it says.

A *claim* is a sentence (or line) of the answer that states a figure or quotes a value. Each
claim must carry a citation of the source it comes from, in square brackets:

* ``[tool:CALL_ID]`` — the result of a tool call the agent made (its tool results are shown to
  it labelled with this citation when grounding is on);
* ``[kb:ID]``, ``[mem:ID]`` — a retrieved passage or memory of the agent's context packet (the
  packet already shows each item as ``[id]``); ``[doc:ID]`` and ``[memory:ID]`` are read as
  ``kb:ID`` and ``mem:ID``.

A citation may stand in the claim's sentence or right after it. The check is mechanical, not a
model's opinion: a claim without a citation is *uncited*; a cited id the agent never saw is an
*unknown source*; a figure that is not among the numbers of the cited sources (compared as
numbers: ``1,200`` is ``1200.0``), or a quoted value not in their text, is *misquoted*.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from agentplane.journal import EventType
from agentplane.knowledge.shaping import packet_from_json
from agentplane.models.base import Message

from .context import RunContext
from .verify_spec import VerifySpec

CITATION = re.compile(r"\[(tool|kb|mem|doc|memory):([A-Za-z0-9_.:\-]+)\]")
_ALIASES = {"doc": "kb", "memory": "mem"}
_FIGURE = re.compile(r"(?<![\w.,])(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)(?![\d])")
_QUOTED = re.compile(r"\"([^\"\n]{2,200})\"|“([^”\n]{2,200})”")
_SENTENCES = re.compile(r"(?<=[.!?])\s+|\n+")

GROUNDING_INSTRUCTIONS = (
    "\n\nGround every claim. Each sentence that states a figure or quotes a value must cite "
    "where it comes from, in square brackets: a tool result as [tool:CALL_ID] (each tool result "
    "you receive starts with its citation), a context item as its [id] (e.g. [kb:…]). Copy "
    "figures and quoted values exactly as the source gives them. Your answer is checked, and "
    "an uncited or misquoted figure is sent back to you."
)


def tool_citation(call_id: str) -> str:
    """How a tool result is cited: ``[tool:CALL_ID]``."""
    return f"[tool:{call_id}]"


def verify_guidance(checks: VerifySpec | None) -> str:
    """What the agent is told about the checks its answer must pass (appended to its
    instructions)."""
    if checks is None:
        return ""
    text = GROUNDING_INSTRUCTIONS if checks.grounding else ""
    if checks.schema_ is not None:
        text += ("\n\nAnswer with one JSON value only (no prose around it) that matches this "
                 f"JSON Schema: {json.dumps(checks.schema_, ensure_ascii=False)}")
    return text


@dataclass(frozen=True, slots=True)
class Problem:
    """One claim that is not grounded."""

    kind: str
    """``uncited``, ``unknown-source`` or ``misquoted``."""
    claim: str
    """The sentence, without its citations."""
    message: str


def _normal_id(kind: str, ident: str) -> str:
    return f"{_ALIASES.get(kind, kind)}:{ident}"


def citations(text: str) -> list[str]:
    """The source ids a text cites, in normal form (``tool:…``, ``kb:…``, ``mem:…``)."""
    return [_normal_id(m.group(1), m.group(2)) for m in CITATION.finditer(text)]


def figures(text: str) -> list[str]:
    """The figures a text states, as written (``1,200.50``, ``12``)."""
    return [m.group(1) for m in _FIGURE.finditer(CITATION.sub(" ", text))]


def _number(figure: str) -> Decimal | None:
    try:
        return Decimal(figure.replace(",", ""))
    except InvalidOperation:
        return None


def _squash(text: str) -> str:
    return " ".join(text.split()).casefold()


def _claims(answer: str) -> list[tuple[str, list[str]]]:
    """``(sentence, cited ids)`` of each sentence; a piece made only of citations belongs to
    the sentence before it (``Sales were 1,200. [tool:c1]``)."""
    out: list[tuple[str, list[str]]] = []
    for piece in _SENTENCES.split(answer):
        if not piece.strip():
            continue
        cited = citations(piece)
        if out and cited and not CITATION.sub("", piece).strip(" .;,()-"):
            out[-1][1].extend(cited)
            continue
        out.append((piece, cited))
    return out


def check_grounding(answer: str, sources: Mapping[str, str]) -> list[Problem]:
    """The ungrounded claims of ``answer``, given the texts of the sources the agent saw
    (by normal id)."""
    problems: list[Problem] = []
    numbers = {sid: {n for f in figures(text) if (n := _number(f)) is not None}
               for sid, text in sources.items()}
    for sentence, cited in _claims(answer):
        claim = CITATION.sub("", sentence).strip()
        stated = figures(sentence)
        quoted = [a or b for a, b in _QUOTED.findall(CITATION.sub("", sentence))]
        if not stated and not quoted:
            continue
        if not cited:
            what = ", ".join([*stated, *(f'"{q}"' for q in quoted)])
            problems.append(Problem("uncited", claim,
                                    f"{what} cites no source: {claim!r}"))
            continue
        unknown = [c for c in cited if c not in sources]
        for c in unknown:
            problems.append(Problem("unknown-source", claim,
                                    f"[{c}] is not a tool result or passage this agent saw: "
                                    f"{claim!r}"))
        known = [c for c in cited if c in sources]
        if not known:
            continue
        found = set().union(*(numbers[c] for c in known))
        texts = [_squash(sources[c]) for c in known]
        for figure in stated:
            if _number(figure) not in found:
                problems.append(Problem(
                    "misquoted", claim,
                    f"{figure} is not in {', '.join(f'[{c}]' for c in known)}: {claim!r}"))
        for value in quoted:
            if not any(_squash(value) in t for t in texts):
                problems.append(Problem(
                    "misquoted", claim,
                    f'"{value}" is not in {", ".join(f"[{c}]" for c in known)}: {claim!r}'))
    return problems


def _untag(content: str) -> str:
    """A tool message's text without the citation label it was shown with."""
    return CITATION.sub("", content, count=1).lstrip() if content.startswith("[tool:") \
        else content


def sources_seen(ctx: RunContext, key: str, messages: Iterable[Message]) -> dict[str, str]:
    """What an agent invocation (at ``key``) saw: its tool results by ``tool:CALL_ID``, and
    the items of its context packets (the task's and each turn's, read from the journal) by
    their ids."""
    found: dict[str, str] = {}
    turns = 0
    for m in messages:
        if m.role == "tool" and m.tool_call_id:
            found[f"tool:{m.tool_call_id}"] = _untag(m.content or "")
        elif m.role == "assistant":
            turns += 1
    steps = [f"{key}/context", *(f"{key}/m{n}/context" for n in range(1, turns + 1))]
    for step in steps:
        record = ctx.recorded(step, EventType.CONTEXT_PACKET)
        if record is None:
            continue
        for item in packet_from_json(record.data["packet"]).items:
            ident = item.id if ":" in item.id else f"kb:{item.id}"
            found[ident] = item.text
    return found
