"""Tools of the data-preparation agent: profile a CSV file, apply one cleaning step to it as a
new version (reversible), undo a step, and compare the current version with the original.

Files live in the folder ``$DATA_PREP_DIR`` (default: ``data-prep-work`` in the current folder).
Every applied step keeps the version before it (``customers.csv.v1`` …) and is recorded in
``versions.json`` with the SHA-256 of the file before and after, so:

- a step repeated with the same idempotency key (a retry after a crash) is recognised, not
  applied twice;
- ``revert_step`` (the compensation Agentplane calls on rollback) restores the version before a
  step only while the file is still exactly what that step wrote — undoing a step under later
  ones is refused with the reason, so rollback goes newest first.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import shutil
from collections import Counter
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from agentplane.tools import ToolContext, ToolError

STEPS = ("trim_whitespace", "normalise_dates", "normalise_country", "drop_duplicates",
         "drop_rows_missing")
COUNTRIES = {"germany": "DE", "deutschland": "DE", "china": "CN", "italy": "IT",
             "czechia": "CZ", "czech republic": "CZ", "france": "FR", "united states": "US",
             "usa": "US", "japan": "JP", "portugal": "PT", "netherlands": "NL",
             "the netherlands": "NL", "spain": "ES", "united kingdom": "GB"}
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
DOTTED = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})$")  # day.month.year (European)
SLASHED = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")  # month/day/year (US)


def _folder() -> Path:
    return Path(os.environ.get("DATA_PREP_DIR", "data-prep-work"))


def _file(name: str) -> Path:
    if "/" in name or "\\" in name or name.startswith("."):
        raise ToolError(f"file name {name!r}: give a plain name of a file in the work folder")
    path = _folder() / name
    if not path.is_file():
        raise ToolError(f"no file {name!r} in the work folder {_folder()}")
    return path


def _read(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    if not rows:
        raise ToolError(f"{path.name} is empty: no header row")
    return rows[0], rows[1:]


def _write(path: Path, header: list[str], rows: list[list[str]]) -> None:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([header, *rows])
    path.write_text(out.getvalue(), encoding="utf-8")


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _date_format(value: str) -> str | None:
    if ISO_DATE.match(value):
        return "YYYY-MM-DD"
    if DOTTED.match(value):
        return "DD.MM.YYYY"
    if SLASHED.match(value):
        return "MM/DD/YYYY"
    return None


def profile_csv(name: str) -> dict[str, Any]:
    """Profile a CSV file of the work folder: per column, filled and empty cells, distinct
    values, date formats and stray whitespace; duplicate rows; and the issues found, each with
    the cleaning step that would fix it.

    Args:
        name: The file's name in the work folder, e.g. customers.csv.
    """
    header, rows = _read(_file(name))
    columns: dict[str, Any] = {}
    issues: list[dict[str, Any]] = []
    padded_columns: list[str] = []
    for i, column in enumerate(header):
        values = [row[i] if i < len(row) else "" for row in rows]
        filled = [v for v in values if v.strip()]
        padded = sum(1 for v in values if v != v.strip())
        formats = Counter(f for v in filled if (f := _date_format(v.strip())))
        info: dict[str, Any] = {"filled": len(filled), "empty": len(values) - len(filled),
                                "distinct": len(set(filled))}
        if formats:
            info["date_formats"] = dict(formats)
        columns[column] = info
        if padded:
            info["stray_spaces"] = padded
            padded_columns.append(column)
        if len(formats) > 1:
            issues.append({"column": column, "problem": "dates in formats "
                           + ", ".join(sorted(formats)), "step": "normalise_dates"})
        if "country" in column.lower():
            names = sorted({v.strip() for v in filled if len(v.strip()) != 2})
            if names:
                issues.append({"column": column, "problem": "country names instead of ISO "
                               f"codes: {', '.join(names)}", "step": "normalise_country"})
        if len(values) - len(filled) and column.lower() in {"email", "e-mail", "mail"}:
            issues.append({"column": column, "problem": f"{len(values) - len(filled)} rows "
                           "without a value", "step": "drop_rows_missing"})
    if padded_columns:  # one step trims every column
        issues.append({"column": None, "problem": "stray spaces in "
                       + ", ".join(padded_columns), "step": "trim_whitespace"})
    seen = Counter(tuple(v.strip() for v in row) for row in rows)
    duplicates = sum(n - 1 for n in seen.values() if n > 1)
    if duplicates:
        issues.append({"column": None, "problem": f"{duplicates} duplicate rows",
                       "step": "drop_duplicates"})
    order = {s: n for n, s in enumerate(STEPS)}
    issues.sort(key=lambda x: order[x["step"]])
    return {"file": name, "rows": len(rows), "columns": columns, "issues": issues}


def _iso(value: str) -> str:
    v = value.strip()
    if found := DOTTED.match(v):
        return date(int(found[3]), int(found[2]), int(found[1])).isoformat()
    if found := SLASHED.match(v):
        return date(int(found[3]), int(found[1]), int(found[2])).isoformat()
    return value


def _transform(step: str, header: list[str], column: str | None
               ) -> Callable[[list[list[str]]], list[list[str]]]:
    if step not in STEPS:
        raise ToolError(f"unknown step {step!r}; steps: {', '.join(STEPS)}")
    needs_column = step in {"normalise_dates", "normalise_country", "drop_rows_missing"}
    if needs_column and column not in header:
        raise ToolError(f"step {step} needs a column of the file; columns: {', '.join(header)}")
    i = header.index(column) if needs_column and column else -1

    def cells(rows: list[list[str]], fix: Callable[[str], str]) -> list[list[str]]:
        return [[fix(v) if i < 0 or j == i else v for j, v in enumerate(row)] for row in rows]

    if step == "trim_whitespace":
        return lambda rows: cells(rows, str.strip)
    if step == "normalise_dates":
        return lambda rows: cells(rows, _iso)
    if step == "normalise_country":
        return lambda rows: cells(rows, lambda v: COUNTRIES.get(v.strip().lower(), v.strip()))
    if step == "drop_rows_missing":
        return lambda rows: [row for row in rows if i < len(row) and row[i].strip()]

    def unique(rows: list[list[str]]) -> list[list[str]]:
        kept: dict[tuple[str, ...], list[str]] = {}
        for row in rows:
            kept.setdefault(tuple(v.strip() for v in row), row)
        return list(kept.values())
    return unique


def _versions(name: str) -> list[dict[str, Any]]:
    log = _folder() / "versions.json"
    found: dict[str, list[dict[str, Any]]] = json.loads(log.read_text()) if log.exists() else {}
    return found.get(name, [])


def _save_versions(name: str, versions: list[dict[str, Any]]) -> None:
    log = _folder() / "versions.json"
    found = json.loads(log.read_text()) if log.exists() else {}
    found[name] = versions
    log.write_text(json.dumps(found, indent=1))


def apply_step(name: str, step: str, column: str | None = None, *,
               context: ToolContext) -> dict[str, Any]:
    """Apply one cleaning step to a CSV file of the work folder, as a new version (the version
    before it is kept, so the step can be undone).

    Args:
        name: The file's name in the work folder.
        step: trim_whitespace, normalise_dates, normalise_country, drop_duplicates or
            drop_rows_missing.
        column: The column the step works on (dates, country, rows missing a value).
    """
    path = _file(name)
    versions = _versions(name)
    done = next((v for v in versions if v["key"] == context.idempotency_key), None)
    if done is not None:  # the same call again (a retry after a crash): already applied
        return {k: done[k] for k in ("version", "step", "column", "rows_before", "rows_after",
                                     "cells_changed")}
    header, rows = _read(path)
    cleaned = _transform(step, header, column)(rows)
    version = len(versions) + 1
    backup = path.with_name(f"{name}.v{version}")
    before = _sha(path)
    shutil.copyfile(path, backup)
    _write(path, header, cleaned)
    changed = sum(a != b for old, new in zip(rows, cleaned, strict=False)
                  for a, b in zip(old, new, strict=False)) if len(rows) == len(cleaned) else 0
    record = {"version": version, "step": step, "column": column, "key":
              context.idempotency_key, "backup": backup.name, "sha_before": before,
              "sha_after": _sha(path), "rows_before": len(rows), "rows_after": len(cleaned),
              "cells_changed": changed}
    _save_versions(name, [*versions, record])
    return {k: record[k] for k in ("version", "step", "column", "rows_before", "rows_after",
                                   "cells_changed")}


def revert_step(name: str, version: int) -> dict[str, Any]:
    """Undo an applied step: restore the version before it (only while the file is still what
    that step wrote).

    Args:
        name: The file's name in the work folder.
        version: The version the step made (apply_step's result).
    """
    path = _file(name)
    versions = _versions(name)
    record = next((v for v in versions if v["version"] == version), None)
    if record is None:
        raise ToolError(f"{name} has no version {version}")
    if record.get("reverted"):
        return {"version": version, "status": "already reverted"}
    if _sha(path) != record["sha_after"]:
        later = [v["step"] for v in versions if v["version"] > version and not v.get("reverted")]
        raise ToolError(f"{name} changed after version {version} ({', '.join(later) or 'by hand'}"
                        "): undo the later steps first")
    backup = path.with_name(record["backup"])
    if _sha(backup) != record["sha_before"]:
        raise ToolError(f"the copy {backup.name} of {name} before version {version} was changed; "
                        "not restoring it")
    shutil.copyfile(backup, path)
    record["reverted"] = True
    _save_versions(name, versions)
    return {"version": version, "status": "reverted", "step": record["step"]}


def compare_versions(name: str) -> dict[str, Any]:
    """Compare the current version of a file with its original: rows removed, and cells
    changed per column (rows are matched by their first column, the record's id).

    Args:
        name: The file's name in the work folder.
    """
    path = _file(name)
    all_versions = _versions(name)
    original = path.with_name(f"{name}.v1") if all_versions else path
    header, old = _read(original)
    _, new = _read(path)
    now = {row[0].strip(): row for row in reversed(new) if row}
    per_column: Counter[str] = Counter()
    for before in old:
        after = now.get(before[0].strip()) if before else None
        for column, a, b in zip(header, before, after or before, strict=False):
            per_column[column] += a != b
    return {"file": name, "rows_before": len(old), "rows_after": len(new),
            "rows_removed": len(old) - len(new), "cells_changed": dict(+per_column),
            "steps": [v["step"] + (f"({v['column']})" if v["column"] else "")
                      for v in all_versions if not v.get("reverted")]}
