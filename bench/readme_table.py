"""Write the README's performance table from one full benchmark run (bench/out/results.json).

The table sits between two marker lines in README.md and is replaced whole, so every figure in
it comes from the same run of ``make bench`` (which calls this after ``run_all.py``), each with
the baseline measured in that run.

Run: .venv/bin/python bench/readme_table.py [--results bench/out/results.json] [--readme README.md]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

START = "<!-- performance:start (written by bench/readme_table.py from one `make bench` run) -->"
END = "<!-- performance:end -->"

HOT_PATH = ("step_cost", "growth", "concurrency", "scale_runs", "live_memory", "metering",
            "usage", "audit", "startup")
"""The benches of the hot path, in the order the table lists them (others are left out)."""


class TableError(Exception):
    """The results or the README are not what the table needs; the message says which."""


def _number(value: float) -> str:
    if value >= 1000:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}" if value >= 0.01 else f"{value:.2g}"


def rows(figures: list[dict[str, Any]]) -> list[str]:
    """One markdown row per figure of the hot-path benches, in ``HOT_PATH`` order."""
    chosen = [f for bench in HOT_PATH for f in figures if f.get("bench") == bench]
    out = []
    for f in chosen:
        name = str(f["name"]).strip().replace("|", "\\|")
        value = f"{_number(float(f['value']))} {f['unit']}"
        base = "" if f.get("baseline") is None else _number(float(f["baseline"]))
        ratio = "" if f.get("ratio") is None else f"{float(f['ratio']):.2f}×"
        goal = str(f.get("goal") or "").replace("|", "\\|")
        out.append(f"| `{f['bench']}` | {name} | {value} | {base} | {ratio} | {goal} |")
    return out


def table(figures: list[dict[str, Any]], *, when: datetime, machine: str) -> str:
    lines = rows(figures)
    if not lines:
        raise TableError("the results hold no figure of the hot-path benches "
                         f"({', '.join(HOT_PATH)}); run `make bench` first")
    return "\n".join([
        START,
        f"Measured {when:%Y-%m-%d %H:%M} UTC on {machine} by one `make bench` run; each "
        "baseline was measured in the same run, so compare ratios across machines.",
        "",
        "| bench | figure | measured | baseline | ratio | goal |",
        "| --- | --- | --- | --- | --- | --- |",
        *lines,
        END,
    ])


def rewrite(readme: str, new_table: str) -> str:
    """``readme`` with the text between the markers (markers included) replaced."""
    start, end = readme.find(START), readme.find(END)
    if start < 0 or end < 0 or end < start:
        raise TableError(f"README has no performance table markers: it needs a line\n{START}\n"
                         f"followed later by a line\n{END}")
    return readme[:start] + new_table + readme[end + len(END):]


def load(path: Path) -> list[dict[str, Any]]:
    try:
        figures = json.loads(path.read_text())
    except FileNotFoundError:
        raise TableError(f"no results at {path}: run `make bench` first") from None
    except json.JSONDecodeError as exc:
        raise TableError(f"{path} is not JSON ({exc})") from None
    if not isinstance(figures, list) or not all(isinstance(f, dict) for f in figures):
        raise TableError(f"{path} is not a list of figures as bench/run_all.py saves them")
    return figures


def main(argv: list[str] | None = None) -> int:
    here = Path(__file__).parent
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=here / "out" / "results.json")
    parser.add_argument("--readme", type=Path, default=here.parent / "README.md")
    args = parser.parse_args(argv)
    try:
        results = load(args.results)
        when = datetime.fromtimestamp(args.results.stat().st_mtime, UTC)
        machine = (f"{os.cpu_count()} cores, {platform.system()} {platform.machine()}, "
                   f"Python {platform.python_version()}")
        args.readme.write_text(rewrite(args.readme.read_text(),
                                       table(results, when=when, machine=machine)))
    except TableError as exc:
        print(f"readme_table: {exc}", file=sys.stderr)
        return 1
    print(f"wrote the performance table of {args.readme} from {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
