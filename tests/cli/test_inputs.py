"""JSON options (``--input``, ``--result``) inline, from a file (``@FILE``) or from standard
input (``-``); bad JSON says where; text that is not UTF-8 never crashes the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .harness import REFUND, STUCK, Cli, failed, make_cli


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return make_cli(tmp_path)


def test_input_from_a_file(cli: Cli) -> None:
    big = "Refund A1. " + "x" * 300_000  # past what fits in one argument on many systems
    (cli.home / "in.json").write_text(json.dumps(big))
    run = cli.json("run", REFUND, "--input", "@in.json", "--run-id", "f1")
    assert run["events"][0]["data"]["input"] == big


def test_input_from_stdin(cli: Cli) -> None:
    run = cli.json("run", REFUND, "--input", "-", "--run-id", "s1",
                   stdin='{"order": "A1",\n "note": "from a pipe"}\n')
    assert run["events"][0]["data"]["input"] == {"order": "A1", "note": "from a pipe"}


def test_reconcile_result_from_a_file_and_stdin(cli: Cli) -> None:
    """--result reads @FILE and - the same way (the run here has nothing to settle, so the
    value gets as far as the runtime's answer, past the parsing)."""
    cli.ok("run", STUCK, "--run-id", "w1")
    (cli.home / "r.json").write_text('{"ok": true}')
    for value, stdin in (("@r.json", None), ("-", '{"ok": true}')):
        message = failed(cli("runs", "reconcile", "w1", "--step", "s", "--happened",
                             "--result", value, stdin=stdin), 1)
        assert "--result" not in message


@pytest.mark.parametrize(("text", "where"), [
    ('{"a": [1,\n  2,,]}', "line 2, column 5"),
    ("{\n\n  'single': 1}", "line 3, column 3"),
    ("[1, NaN]", "NaN is not JSON"),
])
def test_bad_json_says_where(cli: Cli, text: str, where: str) -> None:
    (cli.home / "bad.json").write_text(text)
    from_file = failed(cli("run", REFUND, "--input", "@bad.json"), 2)
    assert from_file.startswith("error: --input @bad.json")
    assert where in from_file
    from_stdin = failed(cli("run", REFUND, "--input", "-", stdin=text), 2)
    assert "--input - (standard input)" in from_stdin
    assert where in from_stdin
    inline = failed(cli("run", REFUND, "--input", text), 2)
    assert where in inline
    assert cli.db is not None and not cli.db.exists()


@pytest.mark.parametrize(("value", "says"), [
    ("@missing.json", "--input @missing.json: file not found"),
    ("@.", "is a folder, not a file"),
    ("@", "name the file after the @"),
    ("@latin1.json", "is not UTF-8 text (byte 3 is 0xe9)"),
])
def test_unreadable_input_files(cli: Cli, value: str, says: str) -> None:
    (cli.home / "latin1.json").write_bytes(b'"r\xe9sum\xe9"')
    assert says in failed(cli("run", REFUND, "--input", value), 2)


def test_a_json_escaped_lone_surrogate_never_prints_a_traceback(cli: Cli) -> None:
    """``"\\udc80"`` is valid JSON for a string no UTF-8 can hold. The runtime makes it safe
    where it enters the journal; the CLI must parse it and print whatever comes back."""
    for args in (["run", REFUND, "--input", '"\\udc80"'],
                 ["run", REFUND, "--input", '"\\udc80"', "--json"],
                 ["runs", "list"], ["runs", "show", "--json", "nope"]):
        result = cli(*args)
        assert "Traceback" not in result.stderr + result.stdout
        if result.returncode:
            failed(result, result.returncode)


@pytest.mark.parametrize("args", [
    [b"runs", b"show", b"r-\x80"],
    [b"runs", b"list", b"--workflow", b"\xff"],
    [b"run", str(REFUND).encode(), b"--run-id", b"id-\xc3"],
    [b"approvals", b"approve", b"w-\x80"],
], ids=lambda a: " ".join(x.decode("ascii", "replace") for x in a))
def test_arguments_that_are_not_utf8(cli: Cli, args: list[bytes]) -> None:
    """Bytes that are not UTF-8 reach Python as lone surrogates; the CLI names the argument
    instead of crashing when it prints or stores it."""
    message = failed(cli(*args), 2)
    assert "is not UTF-8 text" in message
    assert cli.db is not None and not cli.db.exists()
