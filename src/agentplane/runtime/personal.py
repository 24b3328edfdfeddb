"""Personal data of a run: which values are personal, and sealing them before they reach the
journal (see ``agentplane.journal.personal`` for the envelope, the keys and erasure).

A run has personal data when its workflow declares ``personal:`` or a tool declares
``personal:`` paths of its results. The values come from three places, as the issue of
erasable personal data asks: the input (the subject's id and the declared input paths), tool
declarations (the declared paths of each result), and the guardians' detectors (e-mail
addresses, phone numbers, IBANs, card and resident-id numbers found in tool results, with
``personal.detect``). Every string of an event that contains one of those values is journaled
as an envelope under the subject's key — the model's answer that repeats an address, a tool call
whose argument is a customer's name, the approval a person is asked for. Structural fields the
journal itself reads (ids, tool and agent names, statuses) are never sealed.

On resume the values are learnt again from the revealed input and the tool results read back;
a value of an erased subject reads ``"[erased]"`` and is no longer known.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from agentplane.governance.detectors import find_personal_data
from agentplane.journal import Event, EventType, NewEvent
from agentplane.journal.personal import ERASED, is_envelope, seal
from agentplane.tools.trust import parse_path, path_selects

from .spec import ToolSpec, WorkflowSpec

MIN_LENGTH = 3
"""Shorter values are not searched for in other text (two letters match everywhere)."""
STRUCTURAL = frozenset({
    "wait_id", "tool", "agent", "kind", "effect", "idempotency_key", "step_key", "model",
    "provider", "provider_model", "status", "type", "policy", "decision", "worker", "of",
    "guardian", "budget", "mode", "role"})
"""Keys whose values the journal and the runtime read as structure: never sealed."""


def _leaves(value: Any, at: tuple[str | int, ...] = ()) -> Iterable[tuple[tuple[str | int, ...],
                                                                          Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, (*at, str(key)))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _leaves(item, (*at, i))
    else:
        yield at, value


def values_at(value: Any, paths: Iterable[str]) -> list[str]:
    """The scalar values (as text) at or below ``paths`` of ``value``."""
    steps = [parse_path(p) for p in paths]
    return [str(leaf) for at, leaf in _leaves(value)
            if leaf is not None and not isinstance(leaf, bool)
            and any(path_selects(s, at) for s in steps)]


@dataclass
class PersonalData:
    """What is personal in one run, and whose it is."""

    subject: str
    detect: bool = True
    values: set[str] = field(default_factory=set)

    @classmethod
    def for_run(cls, spec: WorkflowSpec, run_id: str, input: Any) -> PersonalData | None:
        """The run's personal data as its input shows it; None when nothing in the workflow
        is declared personal."""
        declared = spec.personal
        if declared is None and not any(t.personal for t in spec.tools):
            return None
        subject = None
        if declared is not None and declared.subject:
            found = values_at(input, [declared.subject])
            subject = found[0] if found and found[0] != ERASED else None
        known = cls(subject or f"run:{run_id}",
                    detect=declared.detect if declared is not None else True)
        if subject:
            known.learn([subject])
        if declared is not None:
            known.learn(values_at(input, declared.input))
        return known

    def learn(self, values: Iterable[str]) -> None:
        self.values.update(v for v in values if len(v) >= MIN_LENGTH and v != ERASED)

    def learn_result(self, tool: ToolSpec | None, result: Any) -> None:
        """The personal values of a tool's result: declared paths, and what detectors find."""
        if tool is not None and tool.personal:
            self.learn(values_at(result, tool.personal))
        if self.detect:
            for _, leaf in _leaves(result):
                if isinstance(leaf, str):
                    self.learn(leaf[m.start:m.end] for m in find_personal_data(leaf))

    def learn_event(self, spec: WorkflowSpec, event: Event | NewEvent) -> None:
        """Learn from an event the run reads back (a tool's result)."""
        if event.type == EventType.TOOL_COMPLETED:
            self.learn_result(spec.tool(str(event.data.get("tool"))), event.data.get("result"))

    def personal(self, text: str) -> bool:
        return any(v in text for v in self.values)

    def seal_value(self, value: Any) -> Any:
        """``value`` with every string that holds a personal value sealed."""
        return self._seal(value, None, [])

    def _seal(self, value: Any, key: str | None, sealed: list[bool]) -> Any:
        if key in STRUCTURAL or not self.values:
            return value
        if isinstance(value, str):
            if not self.personal(value):
                return value
            sealed.append(True)
            return seal(value, self.subject)
        if isinstance(value, dict):
            if is_envelope(value):
                return value
            return {k: self._seal(v, k, sealed) for k, v in value.items()}
        if isinstance(value, list):
            return [self._seal(v, None, sealed) for v in value]
        return value

    def seal_event(self, new: NewEvent) -> NewEvent:
        """The event as the journal keeps it (the same object when it holds nothing
        personal)."""
        sealed: list[bool] = []
        data = self._seal(new.data, None, sealed)
        if not sealed:
            return new
        return NewEvent(new.type, new.actor, new.step_key, data, new.usage)
