"""Tables that fit the terminal without cutting what a person must copy.

Ids, statuses and figures are never cut. When a table is wider than the terminal, columns of
little value are dropped first (highest ``drop`` first), free text wraps, and when even the
columns that must stay whole do not fit side by side, every row is shown as a block of
``NAME  value`` lines instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

GAP = 2
"""Cells between two columns (one space either side; none at the table's edges)."""
WRAP_MIN = 16
"""The narrowest a wrapping column may become, in cells (wider when a word is longer)."""


@dataclass(frozen=True, slots=True)
class Column:
    """A column of a fitted table."""

    header: str
    drop: int = 0
    """0: always shown; otherwise dropped when the table does not fit, highest first."""
    wrap: bool = False
    """Wraps over lines instead of widening the table."""
    whole_words: bool = True
    """When wrapping, never below the longest word (a URL, an id); False for prose and JSON,
    whose long words may fold."""
    justify: Literal["left", "right"] = "left"


def _width(cell: Text) -> int:
    return max((len(line) for line in cell.plain.splitlines()), default=0)


def _longest_word(cell: Text) -> int:
    return max((len(word) for word in cell.plain.split()), default=0)


def fitted(columns: Sequence[Column], rows: Sequence[Sequence[Text | str]],
           width: int) -> RenderableType:
    """A table of ``rows`` that fits ``width`` cells (strings are plain text, never markup)."""
    cells = [[c if isinstance(c, Text) else Text(c) for c in row] for row in rows]
    natural = [max([len(col.header), *(_width(row[i]) for row in cells)])
               for i, col in enumerate(columns)]
    # A wrapping column may narrow down to its longest word (a URL, an id) but not below,
    # so words are never folded.
    least = [natural[i] if not col.wrap else min(natural[i], max(
        [WRAP_MIN, *(_longest_word(row[i]) for row in cells if col.whole_words)]))
        for i, col in enumerate(columns)]
    shown = list(range(len(columns)))

    def needed() -> int:
        return sum(least[i] for i in shown) + GAP * (len(shown) - 1)

    for i in sorted((i for i, c in enumerate(columns) if c.drop), key=lambda i: -columns[i].drop):
        if needed() <= width:
            break
        shown.remove(i)
    if needed() > width:
        return _blocks(columns, cells)
    table = Table(box=None, header_style="bold", padding=(0, 1), pad_edge=False)
    for i in shown:
        col = columns[i]
        if col.wrap:
            table.add_column(col.header, overflow="fold", min_width=least[i])
        else:
            table.add_column(col.header, no_wrap=True, overflow="fold", min_width=natural[i],
                             justify=col.justify)
    for row in cells:
        table.add_row(*(row[i] for i in shown))
    return table


def _blocks(columns: Sequence[Column], cells: list[list[Text]]) -> RenderableType:
    """Each row as ``NAME  value`` lines, rows apart by a blank line."""
    label = max(len(c.header) for c in columns)
    parts: list[RenderableType] = []
    for n, row in enumerate(cells):
        if n:
            parts.append(Text(""))
        block = Table.grid(padding=(0, 2))
        block.add_column(no_wrap=True, min_width=label, style="bold")
        block.add_column(overflow="fold")
        for col, cell in zip(columns, row, strict=True):
            block.add_row(col.header, cell)
        parts.append(block)
    return Group(*parts)
