"""Faults outside the CLI's control end in one paragraph and the documented exit code, never a
traceback, and never leave things behind: a journal that is not there, one that cannot be
written, a full disk, a folder that is missing or is a file, text that is not UTF-8.

The read-only conditions used here hold for root too (tests run as root in CI, and root ignores
file permissions): a journal opened with SQLite's ``mode=ro`` (``?mode=ro`` in the URL), a
journal path under a regular file, and ``/dev/full`` for a full disk.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from .harness import REFUND, STUCK, Cli, failed, make_cli

NO_JOURNAL = 3

READ_COMMANDS = [
    ["runs", "list"], ["runs", "show", "r1"], ["runs", "cancel", "r1"],
    ["runs", "rollback", "r1"], ["runs", "reconcile", "r1", "--step", "s", "--happened"],
    ["approvals", "list"], ["approvals", "approve", "w-1"], ["approvals", "deny", "w-1"],
    ["audit", "verify"], ["audit", "export", "r1"], ["usage", "report"],
    ["usage", "export-focus", "--out", "focus.csv"], ["registry", "list"],
    ["registry", "find", "refunds"], ["registry", "check"], ["keys", "list"],
    ["keys", "revoke", "k1"],
]
"""Commands that read the journal or change what is in it: none of them may create one."""


@pytest.mark.parametrize("args", READ_COMMANDS, ids=" ".join)
def test_read_commands_never_create_a_journal(tmp_path: Path, args: list[str]) -> None:
    cli = make_cli(tmp_path)
    missing = tmp_path / "missing-dir" / "x.db"
    message = failed(cli(*args, "--db", f"sqlite:///{missing}"), NO_JOURNAL)
    assert f"no journal at {missing}" in message
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_the_default_journal_is_not_created_by_reading(tmp_path: Path) -> None:
    cli = make_cli(tmp_path)
    assert cli.db is not None
    assert f"no journal at {cli.db}" in failed(cli("runs", "list"), NO_JOURNAL)
    home = make_cli(tmp_path / "home", db=False)  # no AGENTPLANE_DB: under AGENTPLANE_HOME
    failed(home("approvals", "list"), NO_JOURNAL)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home"]
    assert list((tmp_path / "home").iterdir()) == []


def test_writing_commands_still_create_the_journal(tmp_path: Path) -> None:
    cli = make_cli(tmp_path)
    target = tmp_path / "new-dir" / "x.db"
    cli.ok("run", REFUND, "--input", '"Refund A1"', "--db", f"sqlite:///{target}")
    assert target.is_file()


@pytest.fixture
def journal(tmp_path: Path) -> Cli:
    cli = make_cli(tmp_path)
    cli.ok("run", REFUND, "--input", '"Refund A1"', "--run-id", "r1")
    cli.ok("run", STUCK, "--run-id", "r2")
    return cli


def events_in(cli: Cli) -> int:
    assert cli.db is not None
    with sqlite3.connect(cli.db) as db:
        count: int = db.execute("SELECT count(*) FROM events").fetchone()[0]
    db.close()
    return count


@pytest.mark.parametrize("args", [
    ["run", str(REFUND), "--input", '"Refund A1"'],
    ["runs", "cancel", "r2"],
    ["approvals", "deny", "{wait}"],
    ["keys", "create", "ops", "--role", "operator"],
    ["registry", "add", str(REFUND)],
    ["resume"],
], ids=" ".join)
def test_a_read_only_journal_refuses_writes_in_one_paragraph(journal: Cli,
                                                             args: list[str]) -> None:
    """Every table in the file is read-only, the journal's and those of the key ring and the
    registry alike (made here first, so that only the write is refused)."""
    journal.ok("keys", "list")
    journal.ok("registry", "list")
    [wait] = journal.json("approvals", "list")
    before = events_in(journal)
    readonly = f"{journal.db_url}?mode=ro"
    argv = [a.replace("{wait}", wait["id"]) for a in args]
    result = journal(*argv, "--db", readonly)
    if args == ["resume"]:  # nothing to write, so nothing refused
        assert result.returncode == 0, result.stderr
    else:
        message = failed(result, 1)
        assert "read-only" in message
    assert events_in(journal) == before
    # Reading works on the same read-only journal.
    assert {r["id"] for r in journal.json("runs", "list", "--db", readonly)} >= {"r1", "r2"}
    journal.ok("audit", "verify", "--db", readonly)


def test_a_journal_path_under_a_file(tmp_path: Path) -> None:
    cli = make_cli(tmp_path)
    (tmp_path / "plain-file").write_text("not a folder")
    message = failed(cli("run", REFUND, "--db", f"sqlite:///{tmp_path}/plain-file/x.db"), 1)
    assert "cannot create the journal at" in message
    assert "plain-file" in message


def test_a_file_that_is_not_a_journal(tmp_path: Path) -> None:
    cli = make_cli(tmp_path)
    (tmp_path / "notes.txt").write_text("hello " * 200)
    for args in (["runs", "list"], ["run", str(REFUND)]):
        message = failed(cli(*args, "--db", f"sqlite:///{tmp_path}/notes.txt"), 1)
        assert "cannot open the journal at" in message
        assert "file is not a database" in message
    assert (tmp_path / "notes.txt").read_text() == "hello " * 200


# -- audit export --out ---------------------------------------------------------------------------


def test_export_into_an_existing_folder_writes_run_json(journal: Cli) -> None:
    folder = journal.home / "records"
    folder.mkdir()
    out = journal.ok("audit", "export", "r1", "--out", folder).stdout
    assert f"to {folder / 'r1.json'}" in " ".join(out.split())
    assert '"id": "r1"' in (folder / "r1.json").read_text()


def test_export_into_a_missing_folder_is_refused(journal: Cli) -> None:
    target = journal.home / "nowhere" / "r1.json"
    message = failed(journal("audit", "export", "r1", "--out", target), 2)
    assert f"the folder {target.parent} does not exist" in message
    assert not target.parent.exists()
    message = failed(journal("usage", "export-focus", "--out", target), 2)
    assert "does not exist" in message


def test_export_under_a_file_is_refused(journal: Cli) -> None:
    (journal.home / "plain-file").write_text("x")
    message = failed(journal("audit", "export", "r1", "--out",
                             journal.home / "plain-file" / "r1.json"), 2)
    assert "is not a folder" in message


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs Linux's /dev/full")
@pytest.mark.parametrize("args", [["audit", "export", "r1"], ["usage", "export-focus"]],
                         ids=" ".join)
def test_export_to_a_full_disk(journal: Cli, args: list[str]) -> None:
    message = failed(journal(*args, "--out", "/dev/full"), 1)
    assert "cannot write /dev/full: No space left on device" in message


def test_a_database_error_is_one_paragraph(journal: Cli) -> None:
    """A journal whose tables were removed from under it: SQLite's own error, explained."""
    assert journal.db is not None
    with sqlite3.connect(journal.db) as db:
        db.execute("DROP TABLE runs")
    db.close()
    message = failed(journal("runs", "list", "--db", f"{journal.db_url}?mode=ro"), 1)
    assert "the journal could not be used (no such table: runs)" in message
    assert "it is not a journal, or it is open read-only" in message
