"""YAML with positions: every mapping key and list item knows its line and column."""

from __future__ import annotations

from typing import Any

import yaml

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
