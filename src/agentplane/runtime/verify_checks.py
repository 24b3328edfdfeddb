"""The checks of a ``verify:`` section, as pure functions of an answer: JSON Schema, rules,
grounding (``grounding``), and the judge model's prompt and verdict.

Each failed check is a ``Finding``; the policy that acts on them (repair, reassign, escalate)
and the journal live in ``verify``.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jsonschema import validators
from simpleeval import EvalWithCompoundTypes, InvalidExpression

from .grounding import check_grounding
from .verify_spec import VerifySpec

_FENCED = re.compile(r"```(?:json)?\s*\n(.*?)\n\s*```", re.DOTALL)
_RULE_FUNCTIONS: dict[str, Any] = {
    "len": len, "min": min, "max": max, "abs": abs, "round": round, "sum": sum, "any": any,
    "all": all, "int": int, "float": float, "str": str, "bool": bool, "sorted": sorted,
}
"""What a rule may call (simpleeval's sandbox: no imports, no attribute starting ``_``)."""


@dataclass(frozen=True, slots=True)
class Finding:
    """One reason an answer did not pass."""

    check: str
    """``schema``, ``grounding``, ``rule`` or ``judge``."""
    message: str
    kind: str = ""
    """What went wrong, for grounding: ``uncited``, ``unknown-source``, ``misquoted``."""

    def to_dict(self) -> dict[str, str]:
        out = {"check": self.check, "message": self.message}
        if self.kind:
            out["kind"] = self.kind
        return out


_NOT_JSON = object()


def answer_json(answer: str) -> Any:
    """The JSON value an answer holds (the whole answer, or its one fenced ```json block);
    ``_NOT_JSON`` when it holds none."""
    text = answer.strip()
    fenced = _FENCED.search(text)
    for candidate in (text, fenced.group(1) if fenced else None):
        if candidate is None:
            continue
        try:
            return json.loads(candidate)
        except ValueError:
            continue
    return _NOT_JSON


def _path(parts: Any) -> str:
    out = "$"
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else f".{p}"
    return out


def schema_findings(schema: Mapping[str, Any], answer: str) -> list[Finding]:
    """The answer's JSON against ``schema``: one finding per violation, at its JSON path."""
    data = answer_json(answer)
    if data is _NOT_JSON:
        return [Finding("schema", "the answer is not JSON; answer with one JSON value only")]
    validator = validators.validator_for(schema)(schema)
    errors = sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
    return [Finding("schema", f"at {_path(e.absolute_path)}: {e.message}") for e in errors]


def check_schema(schema: Mapping[str, Any]) -> None:
    """Raise ``jsonschema.SchemaError`` when ``schema`` is not a valid JSON Schema."""
    validators.validator_for(schema).check_schema(dict(schema))


def rule_names(answer: str, task: str) -> dict[str, Any]:
    """What a rule sees: ``answer`` (text), ``data`` (its JSON, or None), ``task``."""
    data = answer_json(answer)
    return {"answer": answer, "data": None if data is _NOT_JSON else data, "task": task,
            "True": True, "False": False, "None": None}


def rule_findings(rules: list[str], answer: str, task: str) -> list[Finding]:
    """Each rule evaluated in simpleeval's sandbox (never ``eval``): falsy or failing to
    evaluate is a finding."""
    names = rule_names(answer, task)
    findings: list[Finding] = []
    for rule in rules:
        evaluator = EvalWithCompoundTypes(names=names, functions=_RULE_FUNCTIONS)
        try:
            ok = evaluator.eval(rule)
        except (InvalidExpression, ArithmeticError, TypeError, ValueError, KeyError,
                IndexError, AttributeError) as exc:
            findings.append(Finding("rule", f"rule {rule!r} could not be evaluated: "
                                            f"{type(exc).__name__}: {exc}"))
            continue
        if not ok:
            findings.append(Finding("rule", f"rule {rule!r} does not hold"))
    return findings


def check_rule(rule: str) -> None:
    """Raise ``SyntaxError`` for a rule that is not one expression (checked at load time)."""
    ast.parse(rule.strip(), mode="eval")


def grounding_findings(answer: str, sources: Mapping[str, str]) -> list[Finding]:
    return [Finding("grounding", p.message, p.kind) for p in check_grounding(answer, sources)]


def answer_findings(spec: VerifySpec, answer: str, task: str,
                    sources: Mapping[str, str]) -> list[Finding]:
    """Every mechanical check the spec declares (the judge model apart)."""
    findings: list[Finding] = []
    if spec.schema_ is not None:
        findings += schema_findings(spec.schema_, answer)
    if spec.grounding:
        findings += grounding_findings(answer, sources)
    if spec.rules:
        findings += rule_findings(spec.rules, answer, task)
    return findings


JUDGE_INSTRUCTIONS = (
    "You check another agent's answer against a rubric. Reply with one JSON object only: "
    '{"pass": true or false, "reason": "one sentence"}.'
)


def judge_prompt(rubric: str, task: str, answer: str) -> str:
    return f"Rubric: {rubric}\n\nTask given to the agent:\n{task}\n\nThe agent's answer:\n{answer}"


def judge_verdict(reply: str) -> tuple[bool, str]:
    """``(passed, reason)`` from the judge's reply; a reply with no verdict fails, saying so."""
    data = answer_json(reply)
    if isinstance(data, dict):
        verdict = data.get("pass", data.get("passed", data.get("verdict")))
        reason = str(data.get("reason", "")).strip()
        if isinstance(verdict, bool):
            return verdict, reason
        if isinstance(verdict, str) and verdict.lower() in ("pass", "fail"):
            return verdict.lower() == "pass", reason
    return False, f"the judge gave no verdict (it replied {reply[:200]!r})"
