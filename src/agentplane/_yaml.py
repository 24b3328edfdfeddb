"""Files people write (YAML): every key and item knows its line and column, and every problem
is reported at its place."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import pydantic
import yaml

from agentplane.errors import AgentplaneError

Path = tuple[str | int, ...]
Position = tuple[int, int]
"""(line, column), both from 1."""


def _pos(node: yaml.Node) -> Position:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _walk(node: yaml.Node, path: Path, marks: dict[Path, Position]) -> None:
    marks.setdefault(path, _pos(node))
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            marks[(*path, key)] = _pos(key_node)
            _walk(value_node, (*path, key), marks)
            marks[(*path, key)] = _pos(key_node)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, (*path, index), marks)


def load_with_positions(text: str) -> tuple[Any, dict[Path, Position]]:
    """Parse YAML text; return the data and a map from data path to position.

    Raises ``yaml.YAMLError`` (with its own position) on a syntax error.
    """
    node = yaml.compose(text, Loader=yaml.SafeLoader)
    marks: dict[Path, Position] = {}
    if node is not None:
        _walk(node, (), marks)
    return yaml.safe_load(text), marks


def position_of(marks: dict[Path, Position], path: Path) -> Position | None:
    """The position of ``path``, or of its nearest ancestor that has one."""
    for end in range(len(path), -1, -1):
        found = marks.get(path[:end])
        if found is not None:
            return found
    return None


def format_path(path: Path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


@dataclass(frozen=True, slots=True)
class FileProblem:
    """One thing wrong in a file a person wrote, at a data path and (if known) a position."""

    path: Path
    message: str
    position: Position | None = None

    def render(self, source: str) -> str:
        where = f"{source}:{self.position[0]}:{self.position[1]}" if self.position else source
        return f"{where}: {format_path(self.path)}: {self.message}"


class FileError(AgentplaneError):
    """A file is invalid; ``problems`` lists every problem found, each with file and line."""

    exit_code = 2
    what: ClassVar[str] = "file"
    """How the message names the file: ``workflow``, ``scenario``, ``prices file``..."""

    def __init__(self, source: str, problems: list[FileProblem]) -> None:
        self.source = source
        self.problems = problems
        plural = "s" if len(problems) != 1 else ""
        head = f"{self.what} {source} is invalid ({len(problems)} problem{plural}):"
        super().__init__("\n".join([head, *("  " + p.render(source) for p in problems)]))


MessageHook = Callable[[Path, Any], "str | None"]


def validation_problems(exc: pydantic.ValidationError, *, reference: str,
                        skip: frozenset[str] = frozenset(),
                        message_for: MessageHook | None = None) -> list[FileProblem]:
    """pydantic's errors as problems a person can act on (positions are added later).

    ``skip``: parts of pydantic's error locations that are not data keys (union tags).
    ``message_for``: a file kind's own wording for an error, or None for the common one.
    """
    problems = []
    for err in exc.errors():
        path = tuple(p for p in err["loc"] if p not in skip and p != "[key]")
        own = message_for(path, err) if message_for is not None else None
        if own is not None:
            message = own
        elif err["type"] == "extra_forbidden":
            message = f"unknown field (check the spelling; see {reference})"
        elif err["type"] == "missing":
            message = "required field is missing"
        elif err["type"] == "invalid_key":
            message = ("a key here was read as true/false (YAML reads on, off, yes, no that "
                       "way): put it in quotes or check the field's name")
        elif "input" in err:
            message = f"{err['msg']} (got {err['input']!r})"
        else:
            message = err["msg"]
        problems.append(FileProblem(path, message))
    return problems


def positioned(problems: list[FileProblem], marks: dict[Path, Position]) -> list[FileProblem]:
    """The problems with their positions in the file."""
    return [FileProblem(p.path, p.message, p.position or position_of(marks, p.path))
            for p in problems]


def yaml_problem(exc: yaml.YAMLError) -> FileProblem:
    """A YAML syntax error as a problem at its position (and where the construct began)."""
    mark = getattr(exc, "problem_mark", None)
    pos = (mark.line + 1, mark.column + 1) if mark is not None else None
    problem = getattr(exc, "problem", None) or str(exc)
    context, began = getattr(exc, "context", None), getattr(exc, "context_mark", None)
    if context and began is not None:  # e.g. where an unterminated quote started
        problem += f" ({context} that began at line {began.line + 1}, column {began.column + 1})"
    return FileProblem((), f"not valid YAML: {problem}", pos)
