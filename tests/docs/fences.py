"""The code blocks of the docs and how each is tested.

A page's blocks run in order in one temporary folder of their own:

- a block with a `title="NAME"` (```` ```python title="tools.py" ````, ```` ```yaml
  title="workflow.yaml" ````) is a file the page shows: it is written there under that name;
- every other ```` ```python ```` block runs there as a script (`python BLOCK.py`, the folder on
  its path, so it can import the files written before it) and must exit 0;
- a shell block (`sh`, `bash`, `console`) runs there under bash only when the line before it
  says `<!-- docs-test: run -->` (most shell blocks are about a server or a machine);
- a block after `<!-- docs-test: skip: REASON -->` is not run, and the test says why.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

SHELL = {"sh", "bash", "shell", "console"}
_OPEN = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})\s*(?P<lang>[\w+-]*)(?P<info>.*)$")
_TITLE = re.compile(r"""title\s*=\s*["']([^"']+)["']""")
_MARK = re.compile(r"^\s*<!--\s*docs-test:\s*(?P<what>run|skip)\s*"
                   r"(?::\s*(?P<reason>.*?))?\s*-->\s*$")


class FenceError(ValueError):
    """A page's code block that cannot be read (unclosed fence, a skip without a reason)."""


@dataclass(frozen=True)
class Block:
    """One fenced code block: where it is, its language, and what the test does with it."""

    page: Path
    line: int  # 1-based line of the opening fence
    lang: str
    code: str
    title: str | None
    mark: str | None  # "run", "skip" or None
    reason: str | None

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"

    @property
    def action(self) -> str:
        """`file`, `python`, `shell`, `skip` or `show` (a block only shown, never run)."""
        if self.mark == "skip":
            return "skip"
        if self.title is not None:
            return "file"
        if self.lang == "python":
            return "python"
        if self.lang in SHELL and self.mark == "run":
            return "shell"
        return "show"


def _dedent(lines: list[str], indent: str) -> str:
    return "".join(line[len(indent):] if line.startswith(indent) else line.lstrip()
                   for line in lines)


def blocks(page: Path, text: str) -> list[Block]:
    """Every fenced block of a Markdown page, in order."""
    lines = text.splitlines(keepends=True)
    found: list[Block] = []
    i = 0
    while i < len(lines):
        opening = _OPEN.match(lines[i].rstrip("\n"))
        if not opening:
            i += 1
            continue
        indent, fence = opening["indent"], opening["fence"]
        end = i + 1
        while end < len(lines) and not (lines[end].strip().startswith(fence[0] * len(fence))
                                        and lines[end].strip().strip(fence[0]) == ""):
            end += 1
        if end == len(lines):
            raise FenceError(f"{page}:{i + 1}: the code block is never closed")
        previous = next((lines[j] for j in range(i - 1, -1, -1) if lines[j].strip()), "")
        mark = _MARK.match(previous)
        if mark and mark["what"] == "skip" and not mark["reason"]:
            raise FenceError(f"{page}:{i + 1}: `docs-test: skip` needs a reason after a colon")
        title = _TITLE.search(opening["info"])
        found.append(Block(page=page, line=i + 1, lang=opening["lang"].lower(),
                           code=_dedent(lines[i + 1:end], indent),
                           title=title.group(1) if title else None,
                           mark=mark["what"] if mark else None,
                           reason=mark["reason"] if mark else None))
        i = end + 1
    return found
