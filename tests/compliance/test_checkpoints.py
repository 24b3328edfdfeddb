"""Checkpoints kept outside the journal find what the hash chain alone cannot: a run whose
tail was deleted and whose record was rewritten to match, a history rewritten and rehashed,
a run deleted whole — on a SQLite file and on PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import orjson
import pytest

from agentplane.compliance import retention_log
from agentplane.compliance.checkpoints import check_against, read_state, write_checkpoint
from agentplane.journal import EventType, JournalStore, NewEvent, verify

from .conftest import RUN_EVENTS, delete_run, rewrite_tail, truncate


async def test_a_clean_journal_matches_its_checkpoints(store: JournalStore,
                                                       key_pair: tuple[Path, Path],
                                                       tmp_path: Path) -> None:
    target = str(tmp_path / "checkpoints.jsonl")
    written = await write_checkpoint(store, target, key_pair[0])
    assert (written.line, written.runs) == (1, 3)
    check = await check_against(store, target, key_pair[1])
    assert check.ok and check.signed and (check.lines, check.runs) == (1, 3)
    state = read_state(target)
    assert {k: v[0] for k, v in state.heads.items()} == RUN_EVENTS


async def test_truncation_with_a_rewritten_record_is_found(store: JournalStore,
                                                           key_pair: tuple[Path, Path],
                                                           tmp_path: Path) -> None:
    target = str(tmp_path / "checkpoints.jsonl")
    await write_checkpoint(store, target, key_pair[0])
    truncate(store, "run-b", keep=4)  # the 5000 refund and the completion are gone
    assert (await verify(store)).ok  # the chain alone holds: this is what checkpoints are for
    check = await check_against(store, target, key_pair[1])
    assert not check.problems
    assert [(b.run_id, b.seq) for b in check.breaks] == [("run-b", 5)]
    assert "recorded 6 events" in check.breaks[0].reason
    assert "journal holds 4" in check.breaks[0].reason


async def test_a_rewritten_history_is_found(store: JournalStore, key_pair: tuple[Path, Path],
                                            tmp_path: Path) -> None:
    target = str(tmp_path / "checkpoints.jsonl")
    await write_checkpoint(store, target, key_pair[0])
    rewrite_tail(store, "run-b", 5, {"result": {"refunded": 50}})
    assert (await verify(store)).ok
    check = await check_against(store, target, key_pair[1])
    assert [(b.run_id, b.seq) for b in check.breaks] == [("run-b", 6)]
    assert "rewritten" in check.breaks[0].reason


async def test_a_deleted_run_is_found_unless_retention_removed_it(
        store: JournalStore, key_pair: tuple[Path, Path], tmp_path: Path) -> None:
    target = str(tmp_path / "checkpoints.jsonl")
    await write_checkpoint(store, target, key_pair[0])
    delete_run(store, "run-c")
    check = await check_against(store, target)
    assert [(b.run_id, b.seq) for b in check.breaks] == [("run-c", None)]
    assert "gone from the journal" in check.breaks[0].reason
    retention_log.ensure(store.database)
    retention_log.record(store.database, time="2026-01-01T00:00:00Z", actor="user:ops",
                         run_id="run-c", workflow="flow", last_seq=2, head_hash="x" * 64,
                         archive="a.jsonl", archive_sha256="0" * 64)
    assert (await check_against(store, target)).ok


async def test_later_lines_record_only_moved_runs_and_the_latest_head_counts(
        store: JournalStore, key_pair: tuple[Path, Path], tmp_path: Path) -> None:
    target = str(tmp_path / "checkpoints.jsonl")
    await write_checkpoint(store, target, key_pair[0])
    await store.append("run-c", [NewEvent(EventType.RUN_COMPLETED, data={"output": "c"})])
    written = await write_checkpoint(store, target, key_pair[0])
    assert (written.line, written.runs) == (2, 1)
    truncate(store, "run-c", keep=2)  # back to what line 1 recorded, but line 2 knows better
    check = await check_against(store, target, key_pair[1])
    assert [(b.run_id, b.seq) for b in check.breaks] == [("run-c", 3)]


async def test_a_changed_or_removed_checkpoint_line_is_found(
        store: JournalStore, key_pair: tuple[Path, Path], tmp_path: Path) -> None:
    path = tmp_path / "checkpoints.jsonl"
    for _ in range(3):
        await write_checkpoint(store, str(path), key_pair[0])
    lines = path.read_text().splitlines()
    forged = orjson.loads(lines[0])
    forged["runs"]["run-b"][0] = 4  # claim run-b had only 4 events
    path.write_text("\n".join([orjson.dumps(forged).decode(), *lines[1:]]) + "\n")
    check = await check_against(store, str(path), key_pair[1])
    assert any("line 1's signature does not hold" in p for p in check.problems)
    path.write_text("\n".join([lines[0], lines[2]]) + "\n")
    check = await check_against(store, str(path), key_pair[1])
    assert any("line 2 does not follow line 1" in p for p in check.problems)


async def test_another_key_does_not_verify(store: JournalStore, key_pair: tuple[Path, Path],
                                           tmp_path: Path) -> None:
    from agentplane.compliance import keys

    other = tmp_path / "other.pem", tmp_path / "other.pub.pem"
    keys.generate(*other)
    target = str(tmp_path / "checkpoints.jsonl")
    await write_checkpoint(store, target, key_pair[0])
    check = await check_against(store, target, other[1])
    assert check.problems == ["line 1's signature does not hold under the public key"]


class _AppendOnly(BaseHTTPRequestHandler):
    """An append-only checkpoint endpoint: GET gives the lines so far, POST appends one."""

    lines: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        body = "".join(self.lines).encode()
        self.send_response(200)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        length = int(self.headers["content-length"])
        self.lines.append(self.rfile.read(length).decode())
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def endpoint() -> Iterator[str]:
    _AppendOnly.lines = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _AppendOnly)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/checkpoints"
    finally:
        server.shutdown()
        server.server_close()


async def test_checkpoints_over_http(store: JournalStore, key_pair: tuple[Path, Path],
                                     endpoint: str) -> None:
    await write_checkpoint(store, endpoint, key_pair[0])
    await store.append("run-c", [NewEvent(EventType.RUN_COMPLETED, data={"output": "c"})])
    assert (await write_checkpoint(store, endpoint, key_pair[0])).line == 2
    assert len(_AppendOnly.lines) == 2
    assert (await check_against(store, endpoint, key_pair[1])).ok
    truncate(store, "run-b", keep=4)
    check = await check_against(store, endpoint, key_pair[1])
    assert [(b.run_id, b.seq) for b in check.breaks] == [("run-b", 5)]


async def test_an_endpoint_that_cannot_be_reached_is_named_without_its_password(
        store: JournalStore, key_pair: tuple[Path, Path]) -> None:
    from agentplane.compliance.checkpoints import CheckpointError
    from tests.server.live import free_port

    url = f"http://ops:s3cret@127.0.0.1:{free_port()}/checkpoints"
    with pytest.raises(CheckpointError) as caught:
        await write_checkpoint(store, url, key_pair[0])
    assert "s3cret" not in str(caught.value) and "***@127.0.0.1" in str(caught.value)
