"""Scoring: each declared expectation of a case against what its run did, one check each.

What a run did is read from its journal (``Observed``): the output, the tool calls started, the
model calls (turns) and the cost — the same record the console and invoices read.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from agentplane.journal import Event, EventType

from .spec import Expectations, JudgeSpec, ToolCallExpectation


@dataclass(frozen=True, slots=True)
class Check:
    """One expectation scored."""

    kind: str
    """``completed``, ``contains``, ``equals``, ``json_schema``, ``tool_calls``,
    ``max_cost_usd``, ``max_turns`` or ``judge``."""
    passed: bool
    detail: str
    """What was expected and what was found."""
    cost_usd: float = 0.0
    """What the check itself cost, in USD: a judge model's call (priced from the catalog)."""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Observed:
    """What a case's run did, from its journal."""

    status: str
    output: Any
    error: str | None
    cost_usd: float
    turns: int
    """Model calls completed."""
    tool_calls: tuple[tuple[str, dict[str, Any]], ...]
    """(tool, arguments) of every call started, in journal order."""
    escalations: int
    """Times an agent asked a person for help (turn limit, loops)."""
    guard_blocks: int
    """Tool calls the guardians (or the runtime) refused."""

    @classmethod
    def from_events(cls, status: str, output: Any, error: str | None, cost_usd: float,
                    events: Sequence[Event]) -> Observed:
        calls = tuple((str(e.data.get("tool")), dict(e.data.get("arguments") or {}))
                      for e in events if e.type == EventType.TOOL_STARTED
                      and int(e.data.get("attempt", 1)) == 1)
        return cls(status, output, error, cost_usd,
                   sum(1 for e in events if e.type == EventType.MODEL_COMPLETED), calls,
                   sum(1 for e in events if e.type == EventType.APPROVAL_REQUESTED
                       and e.data.get("kind") == "escalation"),
                   sum(1 for e in events if e.type == EventType.GUARD_DECIDED
                       and e.data.get("result") == "deny"))


Judge = Callable[[JudgeSpec, Any, Any], Awaitable[tuple[bool, str, float]]]
"""Grades ``(judge, case input, output)``: ``(passed, why, cost in USD)``."""


def text_of(output: Any) -> str:
    return output if isinstance(output, str) else json.dumps(output, ensure_ascii=False)


def _json_value(output: Any) -> Any:
    if not isinstance(output, str):
        return output
    try:
        return json.loads(output)
    except ValueError:
        return output


def _subset(expected: Any, actual: Any) -> bool:
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            k in actual and _subset(v, actual[k]) for k, v in expected.items())
    return bool(expected == actual)


def _tool_call_check(expected: list[ToolCallExpectation],
                     calls: Sequence[tuple[str, dict[str, Any]]]) -> Check:
    missing = [e for e in expected
               if not any(name == e.name and _subset(e.arguments, args) for name, args in calls)]
    made = ", ".join(f"{n}({json.dumps(a, sort_keys=True)})" for n, a in calls) or "none"
    if missing:
        want = ", ".join(f"{e.name}({json.dumps(e.arguments, sort_keys=True)})"
                         for e in missing)
        return Check("tool_calls", False, f"no call {want}; calls made: {made}")
    return Check("tool_calls", True, f"calls made: {made}")


def _schema_check(schema: dict[str, Any], output: Any) -> Check:
    import jsonschema

    value = _json_value(output)
    errors = sorted(jsonschema.validators.validator_for(schema)(schema).iter_errors(value),
                    key=lambda e: list(e.absolute_path))
    if errors:
        where = "/".join(str(p) for p in errors[0].absolute_path) or "(top level)"
        return Check("json_schema", False, f"{where}: {errors[0].message}")
    return Check("json_schema", True, "the output matches the schema")


async def score(expect: Expectations, observed: Observed, case_input: Any,
                judge: Judge | None = None, default_judge: JudgeSpec | None = None
                ) -> list[Check]:
    """Every declared expectation of a case, scored against its run (a run that did not
    complete fails ``completed``, and the output checks with it)."""
    done = observed.status == "completed"
    checks = [Check("completed", done, "the run completed" if done else
                    f"the run ended {observed.status}"
                    + (f": {observed.error}" if observed.error else ""))]
    output = observed.output
    for wanted in expect.contains:
        found = done and wanted in text_of(output)
        checks.append(Check("contains", found, f"{'found' if found else 'no'} {wanted!r} in "
                                               "the output"))
    if expect.equals is not None:
        same = done and (_json_value(output) == expect.equals or (
            isinstance(output, str) and output.strip() == str(expect.equals).strip()))
        checks.append(Check("equals", same, "the output is as expected" if same else
                            f"expected {text_of(expect.equals)!r}, got {text_of(output)!r}"))
    if expect.json_schema is not None:
        checks.append(_schema_check(expect.json_schema, output) if done else
                      Check("json_schema", False, "no output to check"))
    if expect.tool_calls:
        checks.append(_tool_call_check(expect.tool_calls, observed.tool_calls))
    if expect.max_cost_usd is not None:
        cheap = observed.cost_usd <= expect.max_cost_usd
        checks.append(Check("max_cost_usd", cheap, f"cost {observed.cost_usd:.6f} USD, at "
                                                   f"most {expect.max_cost_usd:g}"))
    if expect.max_turns is not None:
        short = observed.turns <= expect.max_turns
        checks.append(Check("max_turns", short, f"{observed.turns} model calls, at most "
                                                f"{expect.max_turns}"))
    if expect.judge is not None:
        checks.append(await _judged(expect.judge, default_judge, judge, case_input, output,
                                    done))
    return checks


async def _judged(spec: JudgeSpec, default: JudgeSpec | None, judge: Judge | None,
                  case_input: Any, output: Any, done: bool) -> Check:
    model = spec.model or (default.model if default else None)
    if not done:
        return Check("judge", False, "no output to judge")
    if judge is None or model is None:
        return Check("judge", False, "no judge model: set judge.model on the case or the "
                                     "dataset")
    passed, why, cost = await judge(JudgeSpec(rubric=spec.rubric, model=model), case_input,
                                    output)
    return Check("judge", passed, why, cost)


def verdict(text: str) -> tuple[bool, str]:
    """A judge model's answer: JSON ``{"pass": ..., "reason": ...}``, or text that starts with
    PASS or FAIL. Anything else fails, saying what came back."""
    stripped = text.strip()
    try:
        data = json.loads(stripped)
    except ValueError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("pass"), bool):
        return bool(data["pass"]), str(data.get("reason") or "")
    head = stripped[:4].upper()
    if head in ("PASS", "FAIL"):
        return head == "PASS", stripped[4:].strip(" :-\n") or head
    return False, f"the judge did not answer PASS or FAIL: {stripped[:200]!r}"
