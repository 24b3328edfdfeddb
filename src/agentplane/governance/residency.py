"""Data residency: where a model call may send the data of a conversation.

Data carries marks: the run's sensitivity (``run --sensitivity personal``), the classification
and region of the tools whose results are in the conversation (``ToolSpec.classification`` /
``.region``) and the workflow's allowed regions (``compliance.regions``). Model endpoints carry
a placement: ``local`` (the organisation's own machines) and a ``region``.

The rule, in one place for the router (which avoids such endpoints) and the residency guardian
(which refuses a call to a fixed model that breaks it):

- personal or confidential data goes only to local endpoints, or to endpoints in an allowed
  region when the workflow or the data names allowed regions;
- data tagged with regions (a tool's ``region``, the workflow's ``compliance.regions``) goes
  only to endpoints in those regions (a local endpoint without a region counts as inside).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

SENSITIVE = frozenset({"personal", "confidential"})
CLASSIFICATIONS = ("public", "internal", "personal", "confidential")
"""From least to most sensitive."""
GUARDIAN = "residency"


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a model endpoint processes what it is sent."""

    endpoint: str
    local: bool = False
    region: str | None = None

    def describe(self) -> str:
        where = f"region {self.region}" if self.region else "no declared region"
        return f"{self.endpoint} ({'local' if self.local else 'not local'}, {where})"


@dataclass(frozen=True, slots=True)
class DataMarks:
    """What the data of one call is: its most sensitive classification, the regions it may go
    to (None: anywhere), and why (for the reasons journaled)."""

    classification: str | None = None
    regions: frozenset[str] | None = None
    why: tuple[str, ...] = ()

    @property
    def sensitive(self) -> bool:
        return self.classification in SENSITIVE

    @property
    def constrained(self) -> bool:
        return self.sensitive or self.regions is not None


UNMARKED = DataMarks()


@dataclass(frozen=True, slots=True)
class ToolMark:
    """A tool's declared classification and region."""

    classification: str | None
    region: str | None


def _more_sensitive(a: str | None, b: str | None) -> str | None:
    if a is None:
        return b
    if b is None:
        return a
    return a if CLASSIFICATIONS.index(a) >= CLASSIFICATIONS.index(b) else b


def data_marks(*, sensitivity: str | None, regions: Sequence[str],
               tool_marks: Mapping[str, ToolMark], tools_seen: Iterable[str]) -> DataMarks:
    """The marks of a call's data: the run's sensitivity, the workflow's regions, and the
    marks of the tools whose results (``tools_seen``) are in the conversation."""
    classification = sensitivity
    allowed: frozenset[str] | None = frozenset(regions) if regions else None
    why: list[str] = []
    if sensitivity:
        why.append(f"the run is marked {sensitivity}")
    if regions:
        why.append(f"the workflow's data may be processed in {', '.join(sorted(regions))}")
    for name in tools_seen:
        mark = tool_marks.get(name)
        if mark is None:
            continue
        if mark.classification is not None:
            classification = _more_sensitive(classification, mark.classification)
            if mark.classification in SENSITIVE:
                why.append(f"the conversation holds {mark.classification} data from tool "
                           f"{name}")
        if mark.region is not None:
            allowed = frozenset({mark.region}) if allowed is None else allowed & {mark.region}
            why.append(f"tool {name}'s data lives in region {mark.region}")
    if not (classification in SENSITIVE or allowed is not None):
        return DataMarks(classification) if classification else UNMARKED
    return DataMarks(classification, allowed, tuple(dict.fromkeys(why)))


def refusal(marks: DataMarks, placement: Placement) -> str | None:
    """Why the call's data may not go to ``placement`` (None: it may)."""
    if not marks.constrained:
        return None
    because = "; ".join(marks.why)
    if marks.regions is not None:
        inside = placement.region in marks.regions or (placement.local and
                                                       placement.region is None)
        if not inside:
            allowed = ", ".join(sorted(marks.regions)) or "no region at all (only local models)"
            return (f"{placement.describe()} is outside the allowed regions ({allowed}): "
                    f"{because}")
        return None
    if marks.sensitive and not placement.local:
        return (f"{placement.describe()} is not a local model and {marks.classification} data "
                f"stays on local models unless the workflow names allowed regions: {because}")
    return None
