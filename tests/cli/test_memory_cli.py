"""``agentplane memory``: a person reviews, quarantines, deletes and forgets what agents
remember, promotes and retires skills, and reads the audit — a real process on a real journal."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentplane.memory import Memory, MemoryStore, Skills, step
from agentplane.storage import open_database

from .harness import USER, Cli, failed, make_cli
from .isolated import modules_of, packages


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    """A journal holding a fact, a run summary about customer 7, one about customer 8, and a
    pending skill (tenant ``default``) plus one memory of tenant ``globex``."""
    cli = make_cli(tmp_path)
    db = open_database(cli.db_url)
    try:
        store = MemoryStore(db)
        store.remember_fact("default", "customer:7", "iban", "DE44 5000", source="crm",
                            trust="trusted", created_by="user:ops")
        store.write(Memory(id="", tenant="default", kind="experiential", subject="customer:7",
                           text="Refunded customer 7 for a broken kettle", trust="untrusted"))
        store.write(Memory(id="", tenant="default", kind="experiential", subject="customer:8",
                           text="Customer 8 asked for an invoice copy"))
        Skills(store).record("default", run="r1", name="refund",
                             steps=[step("lookup_order", {"order_id": "A-1"})])
        store.write(Memory(id="", tenant="globex", kind="experiential", text="globex only"))
    finally:
        db.close()
    return cli


def _ids(cli: Cli, *args: str) -> list[str]:
    return [m["id"] for m in cli.json("memory", "list", *args)]


def test_list_and_show(cli: Cli) -> None:
    everything = cli.json("memory", "list")
    assert [m["kind"] for m in everything] == ["procedural", "experiential", "experiential",
                                               "factual"]
    assert len(_ids(cli, "--kind", "factual")) == 1
    assert len(_ids(cli, "--subject", "customer:7")) == 2
    assert len(_ids(cli, "--status", "pending")) == 1
    assert [m["text"] for m in cli.json("memory", "list", "--tenant", "globex")] == [
        "globex only"]
    table = cli.ok("memory", "list").stdout
    assert "Refunded customer 7 for a broken kettle" in table
    assert "untrusted" in table
    fact = cli.json("memory", "list", "--kind", "factual")[0]
    shown = cli.json("memory", "show", fact["id"])
    assert (shown["subject"], shown["relation"], shown["value"]) == ("customer:7", "iban",
                                                                     "DE44 5000")
    assert "relation: iban" in cli.ok("memory", "show", fact["id"]).stdout
    assert "no memory 'mem:nope'" in failed(cli("memory", "show", "mem:nope"), 3)
    assert "kind 'semantic' is not one of" in failed(
        cli("memory", "list", "--kind", "semantic"), 2)
    # Another tenant's memory is not found.
    failed(cli("memory", "show", fact["id"], "--tenant", "globex"), 3)


def test_quarantine_release_delete_and_the_audit(cli: Cli) -> None:
    story = _ids(cli, "--subject", "customer:7", "--kind", "experiential")[0]
    out = cli.ok("memory", "quarantine", story, "--reason", "looks injected").stdout
    assert f"memory {story} quarantined" in out
    assert _ids(cli, "--status", "quarantined") == [story]
    assert "--reason is empty" in failed(
        cli("memory", "quarantine", story, "--reason", "  "), 2)
    assert cli.json("memory", "release", story)["status"] == "active"
    assert cli.json("memory", "delete", story, "--reason", "wrong",
                    "--as", "rev")["status"] == "deleted"
    assert story not in _ids(cli)
    audit = cli.json("memory", "audit")
    assert [(a["action"], a["actor"]) for a in audit] == [
        ("delete", "user:rev"), ("release", f"user:{USER}"), ("quarantine", f"user:{USER}")]
    assert audit[2]["reason"] == "looks injected"
    assert "kettle" not in cli.ok("memory", "audit").stdout + str(audit)
    failed(cli("memory", "delete", story, "--reason", "again"), 3)


def test_forget_a_subject(cli: Cli) -> None:
    out = cli.ok("memory", "forget", "--subject", "customer:7", "--reason", "erasure request")
    assert "forgot 2 memories about customer:7" in out.stdout
    assert _ids(cli, "--subject", "customer:7") == []
    assert len(_ids(cli)) == 2
    entry = cli.json("memory", "audit")[0]
    assert (entry["action"], entry["subject"], entry["count"]) == ("forget", "customer:7", 2)
    assert "DE44" not in str(entry)
    missing = cli("memory", "forget", "--reason", "x")
    assert missing.returncode == 2
    assert "Missing option '--subject'" in missing.stderr


def test_skills_promote_and_retire(cli: Cli) -> None:
    [skill] = cli.json("memory", "skills")
    assert (skill["name"], skill["status"], skill["successes"]) == ("refund", "pending", 1)
    assert "lookup_order(order_id: string)" in cli.ok("memory", "skills").stdout
    promoted = cli.json("memory", "skills", "--promote", skill["id"], "--reason", "reviewed")
    assert promoted[0]["status"] == "active"
    retired = cli.json("memory", "skills", "--retire", skill["id"], "--reason", "obsolete")
    assert retired[0]["status"] == "retired"
    assert [a["action"] for a in cli.json("memory", "audit")] == ["retire", "promote"]
    failed(cli("memory", "skills", "--promote", "mem:nope"), 3)


def test_memory_commands_start_light(cli: Cli, tmp_path: Path) -> None:
    modules = modules_of(cli, "memory", "list", "--json")
    assert "agentplane.memory.store" in modules
    assert not {m for m in modules if m.startswith(("agentplane.runtime", "agentplane.server",
                                                    "agentplane.models", "agentplane.tools"))}
    assert not packages(modules) & {"jieba", "rich"}
    help_modules = modules_of(cli, "memory", "--help")
    assert not {m for m in help_modules if m.startswith(("agentplane.memory",
                                                         "agentplane.storage"))}
    # A command pointed at a database that does not exist creates none.
    assert "no journal at" in failed(cli("memory", "list", "--db", str(tmp_path / "no.db")), 3)
    assert not (tmp_path / "no.db").exists()
