"""``agentplane db upgrade|status`` as a person runs them, on SQLite and on PostgreSQL."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from agentplane.storage import open_database

from .harness import failed, make_cli

COMPONENTS = ["journal", "usage", "keys", "registry", "telemetry", "lexical", "knowledge",
              "knowledge_graph", "knowledge_vectors", "memory", "evals", "triggers",
              "compliance"]
CODE = {"journal": 2, "usage": 2, "keys": 1, "registry": 1, "telemetry": 1, "lexical": 2,
        "knowledge": 1, "knowledge_graph": 3, "knowledge_vectors": 1, "memory": 1, "evals": 2,
        "triggers": 1, "compliance": 1}
"""Each component's schema version in this release."""


def applied(component: str) -> str:
    """What ``db upgrade`` says of a component it brought from nothing to this release."""
    return f"{component}: applied {', '.join(str(v) for v in range(1, CODE[component] + 1))}"
PREVIOUS_RELEASE_DDL = (Path(__file__).parents[1] / "storage" / "previous_release.sql"
                        ).read_text()


def test_upgrade_then_status_on_a_journal_from_the_previous_release(tmp_path: Path) -> None:
    cli = make_cli(tmp_path)
    assert cli.db is not None
    old = sqlite3.connect(cli.db)
    old.executescript(PREVIOUS_RELEASE_DDL)
    old.close()
    before = cli.json("db", "status")
    assert before["database"] == cli.db_url
    assert [(c["component"], c["database"], c["code"], c["state"])
            for c in before["components"]] == [(n, 0, CODE[n], "older") for n in COMPONENTS]
    shown = cli.ok("db", "status").stdout
    assert "journal: 0 (this Agentplane: 2) — older: run `agentplane db upgrade`" in shown
    reader = failed(cli("runs", "list", "--db", f"{cli.db_url}?mode=ro"), 1)
    assert "journal schema version 0, older than this Agentplane needs (2); run " \
           f"`agentplane db upgrade --db {cli.db_url}` first" in reader
    upgraded = cli.ok("db", "upgrade").stdout.splitlines()
    assert upgraded == [applied(name) for name in COMPONENTS]
    assert cli.ok("db", "upgrade").stdout.strip() == f"{cli.db_url}: up to date"
    after = cli.json("db", "status")
    assert {c["state"] for c in after["components"]} == {"current"}
    assert cli.ok("runs", "list", "--db", f"{cli.db_url}?mode=ro").returncode == 0


def test_a_newer_database_is_one_clear_line_everywhere(tmp_path: Path) -> None:
    cli = make_cli(tmp_path)
    cli.ok("keys", "create", "ci", "--role", "viewer")
    db = open_database(cli.db_url)
    db.execute("UPDATE schema_versions SET version = 3 WHERE component = 'keys'")
    db.close()
    status = cli.json("db", "status")
    assert {c["component"]: c["state"] for c in status["components"]}["keys"] == "newer"
    for args in (("db", "upgrade"), ("keys", "list")):
        message = failed(cli(*args), 1)
        assert message == (f"error: the database {cli.db_url} has keys schema version 3, "
                           "newer than this Agentplane knows (up to 1); upgrade Agentplane "
                           "to use it")
    assert cli.json("db", "status")["components"][2]["database"] == 3  # nothing was changed


def test_a_missing_database_is_not_created(tmp_path: Path) -> None:
    cli = make_cli(tmp_path)
    for args in (("db", "status"), ("db", "upgrade")):
        assert "no journal at" in failed(cli(*args), 3)
    assert cli.db is not None and not cli.db.exists()


def test_upgrade_and_status_on_postgresql(tmp_path: Path, postgres_url: str) -> None:
    cli = make_cli(tmp_path, db=False)
    fresh = cli.json("db", "status", "--db", postgres_url)
    names = [c["component"] for c in fresh["components"]]
    assert names == COMPONENTS[1:]  # the PostgreSQL journal store keeps its own tables
    assert {c["database"] for c in fresh["components"]} == {0}
    assert cli.ok("db", "upgrade", "--db", postgres_url).stdout.splitlines() == [
        applied(name) for name in names]
    assert {c["state"] for c in cli.json("db", "status", "--db", postgres_url)["components"]
            } == {"current"}
    db = open_database(postgres_url)
    assert db.query_one("SELECT COUNT(*) FROM api_keys") == (0,)
    db.close()
