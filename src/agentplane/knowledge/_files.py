"""The YAML files of the knowledge graph (ontology, extraction rules, record mappings): read,
validated, and every problem reported with its file, line and field."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pydantic
import yaml

from agentplane._yaml import (
    FileError,
    FileProblem,
    load_with_positions,
    positioned,
    validation_problems,
    yaml_problem,
)

Spec = TypeVar("Spec", bound=pydantic.BaseModel)
REFERENCE = "docs/knowledge-graph.md"


def parse_file(text: str, source: str, model: type[Spec], error: type[FileError], *,
               shape: str, check: Callable[[Spec], list[FileProblem]] | None = None,
               skip: frozenset[str] = frozenset()) -> Spec:
    """``text`` validated as ``model``, then ``check`` ed; ``error`` lists every problem.

    ``shape``: what the top level should hold, said when it is not a mapping."""
    try:
        data, marks = load_with_positions(text)
    except yaml.YAMLError as exc:
        raise error(source, [yaml_problem(exc)]) from exc
    if not isinstance(data, dict):
        raise error(source, [FileProblem((), f"expected a mapping with {shape}", (1, 1))])
    try:
        spec = model.model_validate(data)
    except pydantic.ValidationError as exc:
        problems = validation_problems(exc, reference=REFERENCE, skip=skip)
        raise error(source, positioned(problems, marks)) from exc
    problems = check(spec) if check is not None else []
    if problems:
        raise error(source, positioned(problems, marks))
    return spec


def read_file(path: Path | str, error: type[FileError]) -> tuple[str, str]:
    """The text of a file and how to name it; ``error`` when it cannot be read."""
    file = Path(path)
    try:
        return file.read_text(encoding="utf-8"), str(file)
    except FileNotFoundError as exc:
        raise error(str(file), [FileProblem((), "file not found")]) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise error(str(file), [FileProblem((), f"cannot read the file: {exc}")]) from exc
