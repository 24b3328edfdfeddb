"""Shared bits of the benchmarks: a scratch folder, timing, and the result table."""

from __future__ import annotations

import json
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


@dataclass
class Figure:
    """One measured figure, with the baseline measured in the same run."""

    bench: str
    name: str
    value: float
    unit: str
    baseline: float | None = None
    """The same quantity for the baseline (raw SQLite, LangGraph, the latency floor)."""
    goal: str = ""

    @property
    def ratio(self) -> float | None:
        return None if not self.baseline else self.value / self.baseline

    def row(self) -> str:
        ratio = f"{self.ratio:8.2f}×" if self.ratio is not None else " " * 9
        base = f"{self.baseline:12.3f}" if self.baseline is not None else " " * 12
        return (f"{self.bench:<12} {self.name:<48} {self.value:11.3f} {base} {ratio}  "
                f"{self.unit:<9} {self.goal}")


HEADER = (f"{'bench':<12} {'figure':<48} {'value':>11} {'baseline':>12} {'ratio':>9}  "
          f"{'unit':<9} goal")


EVENT_INSERT = ("INSERT INTO events(run_id, seq, time, type, actor, step_key, data, usage,"
                " prev_hash, hash, schema) VALUES (?,?,?,?,?,?,?,?,?,?,?)")
"""A journal event row as the floors write it (the columns of the journal's ``events``)."""


def transaction_sizes(statements: Sequence[str]) -> list[int]:
    """How many events each write transaction held, from SQLite's statement trace (a
    connection's ``set_trace_callback``): the transactions a floor writes the same rows in."""
    sizes: list[int] = []
    for sql in statements:
        if sql.startswith("BEGIN"):
            sizes.append(0)
        elif sql.startswith("INSERT INTO events") and sizes:
            sizes[-1] += 1
    return [n for n in sizes if n]


@contextmanager
def scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="agentplane-bench-") as folder:
        yield Path(folder)


class Stopwatch:
    def __init__(self) -> None:
        self.seconds = 0.0

    def __enter__(self) -> Stopwatch:
        self._t = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self._t


def db_bytes(path: Path) -> int:
    """Size of a SQLite database with its WAL folded in (checkpointed)."""
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    total = path.stat().st_size
    wal = path.with_name(path.name + "-wal")
    return total + (wal.stat().st_size if wal.exists() else 0)


def print_figures(figures: list[Figure]) -> None:
    print(HEADER)
    for f in figures:
        print(f.row())


def save(figures: list[Figure], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([{**asdict(f), "ratio": f.ratio} for f in figures], indent=2))


def timed_ms(call: Callable[[T], object], inputs: Sequence[T], *, warm: int) -> list[float]:
    """Milliseconds of ``call`` on each input, after ``warm`` untimed calls on the first
    inputs (caches, jieba's dictionary, the database's pages)."""
    for arg in inputs[:warm]:
        call(arg)
    out = []
    for arg in inputs:
        started = time.perf_counter()
        call(arg)
        out.append((time.perf_counter() - started) * 1000)
    return out
