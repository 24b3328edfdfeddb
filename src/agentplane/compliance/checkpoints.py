"""Signed checkpoints of every run's chain head, kept outside the journal.

A checkpoint file is append-only JSON Lines. Each line records, for the runs whose head moved
since the line before (every run on the first line), the run's event count and head hash;
it names the previous line's SHA-256 (``prev``: the file is a chain of its own) and carries an
Ed25519 signature over the rest (``sig``, base64url, key named by ``kid``)::

    {"v":1,"n":2,"time":"...","prev":"<sha256 of line 1>","kid":"...",
     "runs":{"run-1":[14,"9f2c..."]},"sig":"..."}

Someone who can rewrite the database can truncate a run and rewrite its run record so that the
chain holds again; they cannot rewrite what a checkpoint file elsewhere (or an HTTP endpoint
that only appends) already holds, nor sign a new one. :func:`check_against` compares the
journal with the latest recorded head of every run. Runs deleted by retention are in the
journal's retention record and are not called missing.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import orjson

from agentplane.errors import AgentplaneError, ConfigError
from agentplane.journal import JournalStore
from agentplane.journal.chain import ChainBreak
from agentplane.journal.events import GENESIS_HASH, canonical_json, sha256_hex, utc_now
from agentplane.journal.store import CorruptEventError

from . import keys, retention_log
from ._files import append_line

VERSION = 1


class CheckpointError(AgentplaneError):
    """A checkpoint target cannot be read or written."""


@dataclass(slots=True)
class CheckpointState:
    """What a checkpoint source holds: the latest head of each run and the chain's end."""

    lines: int = 0
    last_hash: str = GENESIS_HASH
    heads: dict[str, tuple[int, str, int, str]] = field(default_factory=dict)
    """Run id → (event count, head hash, line number, line time) of its latest record."""
    problems: list[str] = field(default_factory=list)
    """Where the file's own chain or a signature does not hold."""


@dataclass(frozen=True, slots=True)
class Written:
    line: int
    runs: int
    """How many runs this line records (those whose head moved)."""


def _is_url(target: str) -> bool:
    return target.startswith(("http://", "https://"))


def shown(target: str) -> str:
    """A checkpoint target as it may be printed or logged: a URL without its user and
    password (``https://user:secret@host/x`` → ``https://***@host/x``)."""
    if not _is_url(target):
        return target
    parts = urlsplit(target)
    if "@" not in parts.netloc:
        return target
    return urlunsplit(parts._replace(netloc="***@" + parts.netloc.rsplit("@", 1)[1]))


def _read_text(source: str) -> str:
    if _is_url(source):
        import httpx

        try:
            response = httpx.get(source, timeout=30)
        except httpx.HTTPError as exc:
            raise CheckpointError(f"cannot read checkpoints from {shown(source)}: {exc}") from None
        if response.status_code == 404:
            return ""
        if response.status_code >= 400:
            raise CheckpointError(f"cannot read checkpoints from {shown(source)}: HTTP "
                                  f"{response.status_code}")
        return response.text
    try:
        return Path(source).read_text(encoding="utf-8")
    except FileNotFoundError:
        return ""
    except (OSError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"cannot read checkpoint file {source}: {exc}") from None


def _append(target: str, line: str) -> None:
    if _is_url(target):
        import httpx

        try:
            response = httpx.post(target, content=line + "\n", timeout=30,
                                  headers={"content-type": "application/x-ndjson"})
        except httpx.HTTPError as exc:
            raise CheckpointError(f"cannot send a checkpoint to {shown(target)}: {exc}") from None
        if response.status_code >= 400:
            raise CheckpointError(f"{shown(target)} refused the checkpoint: HTTP "
                                  f"{response.status_code}")
        return
    append_line(target, line)


def _check_line(state: CheckpointState, number: int, text: str,
                public_key: Any | None) -> dict[str, Any] | None:
    try:
        record = orjson.loads(text)
    except orjson.JSONDecodeError:
        state.problems.append(f"line {number} is not JSON")
        return None
    if not isinstance(record, dict) or not isinstance(record.get("runs"), dict):
        state.problems.append(f"line {number} is not a checkpoint")
        return None
    if record.get("n") != number or record.get("prev") != state.last_hash:
        state.problems.append(f"line {number} does not follow line {number - 1} (a line was "
                              "removed, reordered or changed)")
    if public_key is not None:
        body = canonical_json({k: v for k, v in record.items() if k != "sig"})
        try:
            public_key.verify(keys.unb64url(str(record.get("sig", ""))), body.encode("utf-8"))
        except Exception:  # cryptography's InvalidSignature, or a malformed signature
            state.problems.append(f"line {number}'s signature does not hold under the "
                                  "public key")
    return record


def read_state(source: str, public_key: Path | None = None) -> CheckpointState:
    """Read a checkpoint file or URL: its chain, signatures (with ``public_key``) and the
    latest recorded head of every run."""
    key = keys.load_public(public_key) if public_key is not None else None
    state = CheckpointState()
    for number, text in enumerate(_read_text(source).splitlines(), start=1):
        if not text.strip():
            continue
        record = _check_line(state, number, text, key)
        state.lines, state.last_hash = number, sha256_hex(text)
        if record is None:
            continue
        for run_id, value in record["runs"].items():
            if (isinstance(value, list) and len(value) == 2 and isinstance(value[0], int)
                    and isinstance(value[1], str)):
                state.heads[run_id] = (value[0], value[1], number, str(record.get("time")))
            else:
                state.problems.append(f"line {number}: the record of run {run_id} is not "
                                      "[events, head hash]")
    return state


async def write_checkpoint(store: JournalStore, target: str, private_key: Path) -> Written:
    """Append one signed line recording every run whose head moved since the last line."""
    key = keys.load_private(private_key)
    # reading and appending may wait on a remote endpoint: not on the server's event loop
    state = await asyncio.to_thread(read_state, target)
    if state.problems:
        raise CheckpointError(f"{shown(target)} does not hold as a checkpoint chain "
                              f"({state.problems[0]}): refusing to append to it")
    runs: dict[str, list[Any]] = {}
    for run_id, last_seq, head_hash in store.database.query(
            "SELECT id, last_seq, head_hash FROM runs ORDER BY id"):
        before = state.heads.get(str(run_id))
        if before is None or before[:2] != (int(last_seq), str(head_hash)):
            runs[str(run_id)] = [int(last_seq), str(head_hash)]
    record: dict[str, Any] = {"v": VERSION, "n": state.lines + 1, "time": utc_now(),
                              "prev": state.last_hash, "kid": keys.key_id(key.public_key()),
                              "runs": runs}
    record["sig"] = keys.b64url(key.sign(canonical_json(record).encode("utf-8")))
    await asyncio.to_thread(_append, target, canonical_json(record))
    return Written(state.lines + 1, len(runs))


@dataclass(slots=True)
class CheckpointCheck:
    """The journal compared with a checkpoint source."""

    lines: int
    runs: int
    """Runs the checkpoints record."""
    signed: bool
    """Whether signatures were checked (a public key was given)."""
    problems: list[str]
    """Problems of the checkpoint source itself."""
    breaks: list[ChainBreak]

    @property
    def ok(self) -> bool:
        return not self.problems and not self.breaks


async def _compare(store: JournalStore, run_id: str, count: int, head: str, where: str,
                   retired: dict[str, int]) -> ChainBreak | None:
    run = await store.get_run(run_id)
    try:
        events = await store.events(run_id, after_seq=count - 1, resolve_blobs=False)
    except CorruptEventError as exc:
        return ChainBreak(run_id, exc.seq, exc.reason)
    at = next((e for e in events if e.seq == count), None)
    last = store.database.query_one("SELECT MAX(seq) FROM events WHERE run_id = ?", [run_id])
    held = int(last[0]) if last is not None and last[0] is not None else 0
    if run is None and not held:
        if retired.get(run_id, -1) >= count:
            return None
        return ChainBreak(run_id, None, f"the run is gone from the journal; {where} recorded "
                                        f"{count} events ending in {head[:12]}")
    if at is None:
        rewritten = (" (and its run record rewritten to match)"
                     if run is not None and run.last_seq == held else "")
        return ChainBreak(run_id, held + 1,
                          f"{where} recorded {count} events ending in {head[:12]}, the "
                          f"journal holds {held}: events were removed from the run's "
                          f"tail{rewritten}")
    if at.hash != head:
        return ChainBreak(run_id, count, f"event {count}'s hash is {at.hash[:12]}, {where} "
                                         f"recorded {head[:12]}: the run's history was "
                                         "rewritten after the checkpoint")
    return None


async def check_against(store: JournalStore, source: str,
                        public_key: Path | None = None) -> CheckpointCheck:
    """Compare every run a checkpoint source records with the journal as it is now."""
    state = await asyncio.to_thread(read_state, source, public_key)
    rows = retention_log.retired(store.database)
    problems = list(state.problems) + retention_log.problems(rows)
    retired = {r.run_id: r.last_seq for r in rows}
    breaks = []
    for run_id in sorted(state.heads):
        count, head, line, time = state.heads[run_id]
        brk = await _compare(store, run_id, count, head, f"checkpoint {line} ({time})",
                             retired)
        if brk is not None:
            breaks.append(brk)
    return CheckpointCheck(state.lines, len(state.heads), public_key is not None, problems,
                           breaks)


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_every(text: str) -> float:
    """``30s``, ``5m``, ``1h``, ``1d`` (or plain seconds) → seconds."""
    value = text.strip().lower()
    unit = _UNITS.get(value[-1:]) if value else None
    number = value[:-1] if unit is not None else value
    try:
        seconds = float(number) * (unit or 1)
    except ValueError:
        raise ConfigError(f"{text!r} is not a period: write 30s, 5m, 1h or 1d") from None
    if seconds < 1:
        raise ConfigError(f"{text!r}: checkpoints at most once a second")
    return seconds


async def checkpoint_every(store: JournalStore, target: str, private_key: Path,
                           seconds: float) -> None:
    """Write a checkpoint now and then every ``seconds`` until cancelled (``agentplane serve
    --checkpoint-every``). A failed write is logged and tried again next time."""
    import logging

    log = logging.getLogger("agentplane.compliance")
    while True:
        try:
            written = await write_checkpoint(store, target, private_key)
            log.info("checkpoint written", extra={"line": written.line, "runs": written.runs})
        except (AgentplaneError, OSError) as exc:
            log.warning("checkpoint not written: %s", exc)
        await asyncio.sleep(seconds)
