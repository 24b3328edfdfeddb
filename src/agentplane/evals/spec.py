"""What a dataset file (``agentplane eval``) and a scenarios file (``agentplane simulate``)
declare. Errors name the file, line and field, like a workflow's.

```yaml
# dataset
name: refund-desk
judge: {model: "openai:gpt-4o-mini"}        # the default judge model of judge rubrics
cases:
  - id: refund-a1
    input: Refund 20 on order A1
    expect:
      contains: ["Refunded 20.00"]          # text (or a list) the output must contain
      equals: "..."                         # the whole output (text, or any JSON value)
      json_schema: {type: object}           # the output (JSON, or text holding JSON)
      tool_calls: [{name: issue_refund, arguments: {order_id: A1}}]  # names + args subset
      max_cost_usd: 0.01
      max_turns: 4                          # model calls of the run
      judge: {rubric: "Says how much was refunded"}
```

```yaml
# scenarios
name: refund-desk-stress
trials: 5
input: Refund 20 on order A1
expect: {contains: ["Refunded"]}            # what a successful trial gives (default: done)
scenarios:
  - name: lookup-drops-total
    perturb: [{kind: drop_fields, tools: [lookup_order], fields: [total]}]
```
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import pydantic
import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from agentplane._yaml import (
    FileError,
    FileProblem,
    load_with_positions,
    positioned,
    validation_problems,
    yaml_problem,
)
from agentplane.runtime.perturb import Kind, Perturbation


class DatasetError(FileError):
    """A dataset file is invalid; ``problems`` lists every problem with its line."""

    what = "dataset"


class ScenariosError(FileError):
    """A scenarios file is invalid; ``problems`` lists every problem with its line."""

    what = "scenarios file"


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class JudgeSpec(_Spec):
    """A judge model grading an output against a rubric; it answers ``PASS`` or ``FAIL`` and
    why (or JSON ``{"pass": true, "reason": "..."}``)."""

    rubric: str = ""
    model: str | None = None
    """``provider:model`` like an agent's; default: the dataset's ``judge.model``."""
    script: list[str] = Field(default_factory=list)
    """For a ``scripted`` judge (offline, like an agent's script): its answer."""


class ToolCallExpectation(_Spec):
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    """Arguments the call must have (others may be there too)."""


class Expectations(_Spec):
    """What a case's run must give; every one declared is scored on its own."""

    contains: list[str] = Field(default_factory=list)
    equals: Any = None
    json_schema: dict[str, Any] | None = None
    tool_calls: list[ToolCallExpectation] = Field(default_factory=list)
    max_cost_usd: float | None = Field(default=None, ge=0)
    max_turns: int | None = Field(default=None, ge=1)
    judge: JudgeSpec | None = None

    @field_validator("contains", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("json_schema")
    @classmethod
    def _valid_schema(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None:
            import jsonschema

            try:
                jsonschema.validators.validator_for(value).check_schema(value)
            except jsonschema.SchemaError as exc:
                raise ValueError(f"not a valid JSON schema: {exc.message}") from exc
        return value


class Case(_Spec):
    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.:-]+$")
    input: Any = None
    expect: Expectations = Field(default_factory=Expectations)


class Dataset(_Spec):
    name: str = Field(min_length=1)
    judge: JudgeSpec | None = None
    cases: list[Case] = Field(min_length=1)

    @field_validator("cases")
    @classmethod
    def _unique_ids(cls, cases: list[Case]) -> list[Case]:
        seen: set[str] = set()
        for case in cases:
            if case.id in seen:
                raise ValueError(f"case id {case.id!r} is used twice")
            seen.add(case.id)
        return cases


class PerturbationSpec(_Spec):
    kind: Kind
    probability: float = Field(default=1.0, ge=0, le=1)
    tools: list[str] = Field(default_factory=list)
    agents: list[str] = Field(default_factory=list)
    fields: list[str] = Field(default_factory=list)
    values: dict[str, Any] = Field(default_factory=dict)
    latency_ms: float = Field(default=0.0, ge=0)
    text: str = ""

    def perturbation(self) -> Perturbation:
        return Perturbation(self.kind, self.probability, tuple(self.tools), tuple(self.agents),
                            tuple(self.fields), dict(self.values), self.latency_ms, self.text)


class Scenario(_Spec):
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.:-]+$")
    input: Any = None
    """The run's input (default: the file's ``input``)."""
    perturb: list[PerturbationSpec] = Field(default_factory=list)
    expect: Expectations | None = None
    """What a successful trial gives (default: the file's ``expect``; a completed run)."""


class ScenariosFile(_Spec):
    name: str = Field(min_length=1)
    trials: int = Field(default=5, ge=1, le=10_000)
    input: Any = None
    expect: Expectations = Field(default_factory=Expectations)
    scenarios: list[Scenario] = Field(min_length=1)


M = TypeVar("M", bound=BaseModel)


def _load(path: Path, model: type[M], error: type[FileError]) -> M:
    source = str(path)
    try:
        data, marks = load_with_positions(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise error(source, [FileProblem((), "file not found")]) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise error(source, [FileProblem((), f"cannot read the file: {exc}")]) from exc
    except yaml.YAMLError as exc:
        raise error(source, [yaml_problem(exc)]) from exc
    if not isinstance(data, dict):
        raise error(source, [FileProblem((), "expected a mapping", (1, 1))])
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as exc:
        problems = validation_problems(exc, reference="docs/evaluations.md")
        raise error(source, positioned(problems, marks)) from exc


def load_dataset(path: str | Path) -> Dataset:
    """Read a dataset file; errors name the file, line and field."""
    return _load(Path(path), Dataset, DatasetError)


def load_scenarios(path: str | Path) -> ScenariosFile:
    """Read a scenarios file; errors name the file, line and field."""
    return _load(Path(path), ScenariosFile, ScenariosError)
