"""Values a person hands the CLI (JSON options, inline, from a file or from stdin) and files it
writes for them."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, NoReturn

from agentplane.errors import AgentplaneError, ConfigError

JSON_HELP = "as JSON; @FILE reads it from a file, - from standard input"


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON (JSON has no NaN or Infinity)")


def _decode(raw: bytes, where: str) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{where} is not UTF-8 text (byte {exc.start + 1} is "
                          f"0x{raw[exc.start]:02x}); save it as UTF-8") from exc


def _read(text: str, option: str) -> tuple[str, str]:
    """The JSON text an option names, and how to name where it came from."""
    if text == "-":
        return _decode(sys.stdin.buffer.read(), f"{option} - (standard input)"), \
            f"{option} - (standard input)"
    if text.startswith("@"):
        path = Path(text[1:]).expanduser()
        where = f"{option} @{path}"
        if not text[1:]:
            raise ConfigError(f"{option} @: name the file after the @, e.g. {option} @input.json")
        try:
            raw = path.read_bytes()
        except FileNotFoundError as exc:
            raise ConfigError(f"{where}: file not found") from exc
        except IsADirectoryError as exc:
            raise ConfigError(f"{where}: is a folder, not a file") from exc
        except OSError as exc:
            raise ConfigError(f"{where}: cannot read it ({exc.strerror or exc})") from exc
        return _decode(raw, where), where
    return text, option


def parse_json_option(text: str | None, option: str) -> Any:
    """The value of a JSON option: inline JSON, ``@FILE`` or ``-`` (standard input).

    Bad JSON is a :class:`ConfigError` naming the line and column."""
    if text is None:
        return None
    source, where = _read(text, option)
    try:
        return json.loads(source, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        hint = ""
        if where == option:
            hint = (f"; to pass text, quote it as a JSON string: {option} '\"your text\"' "
                    f"(or read JSON from a file: {option} @FILE)")
        raise ConfigError(f"{where} is not valid JSON ({exc.msg} at line {exc.lineno}, "
                          f"column {exc.colno}){hint}") from exc
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from exc


def output_file(out: Path, default_name: str) -> Path:
    """Where ``--out`` writes: the path itself, or ``out/default_name`` when it names a folder.

    A missing folder is an error, not created: a typo should not scatter folders."""
    target = out / default_name if out.is_dir() else out
    if not target.parent.is_dir():
        what = "is not a folder" if target.parent.exists() else "does not exist"
        raise ConfigError(f"--out {out}: the folder {target.parent} {what}; create it first "
                          "or name a file in an existing folder")
    return target


def write_text(path: Path, text: str) -> None:
    """Write a whole file or say in one sentence why it could not be written."""
    try:
        path.write_text(text, encoding="utf-8", errors="backslashreplace")
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from exc


class OutputError(AgentplaneError):
    """A file the CLI was asked to write could not be written (full disk, read-only, ...)."""

    exit_code = 1
