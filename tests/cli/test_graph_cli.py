"""``agentplane kb graph`` as a person runs it: check, load, extract, entity, facts, path."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentplane.knowledge.store import KnowledgeBase
from agentplane.storage import open_database

from .harness import REPO, Cli, failed, make_cli

ONTOLOGY = REPO / "examples" / "ontologies" / "procurement.yaml"
RULES = REPO / "examples" / "ontologies" / "procurement-rules.yaml"
MAPPING = """\
type: Supplier
name: name
aliases: [aka]
properties: {tax_id: tax, approved: approved}
relations:
  - {field: customers, relation: supplies, object_type: Customer, split: ";"}
"""
CSV = """\
name,aka,tax,approved,customers
Acme Ltd,Acme,GB1,true,Globex;腾讯
华为技术,华为,9144,false,腾讯
Bad Co,,,perhaps,
"""


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return make_cli(tmp_path / "home")


def _files(folder: Path) -> tuple[Path, Path]:
    mapping, records = folder / "mapping.yaml", folder / "suppliers.csv"
    mapping.write_text(MAPPING, encoding="utf-8")
    records.write_text(CSV, encoding="utf-8")
    return mapping, records


def test_check_prints_the_taxonomy(cli: Cli) -> None:
    out = cli.ok("kb", "graph", "check", ONTOLOGY).stdout
    assert "    Supplier (also Vendor, 供应商)" in out
    assert "billed_to: Invoice → Customer (one per subject)" in out
    data = cli.json("kb", "graph", "check", ONTOLOGY)
    supplier = next(t for t in data["entity_types"] if t["name"] == "Supplier")
    assert supplier["parent"] == "Organisation" and "country" in supplier["properties"]


def test_a_bad_ontology_names_file_and_line(cli: Cli, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("entity_types:\n  A: {parent: B}\n", encoding="utf-8")
    message = failed(cli("kb", "graph", "check", bad), 2)
    assert f"{bad}:2:7: entity_types.A.parent: unknown parent type 'B'" in message


def test_load_then_query(cli: Cli, tmp_path: Path) -> None:
    mapping, records = _files(tmp_path)
    result = cli.ok("kb", "graph", "load", records, "--ontology", ONTOLOGY, "--mapping",
                    mapping, "--tenant", "t1")
    assert "3 relations stored; 1 rejected" in result.stdout
    assert "'approved' of Supplier 'Bad Co' must be true or false" in result.stdout
    strict = cli("kb", "graph", "load", records, "--ontology", ONTOLOGY, "--mapping", mapping,
                 "--tenant", "t1", "--strict")
    assert strict.returncode == 1
    [acme] = cli.json("kb", "graph", "entity", "acme", "--tenant", "t1")
    assert acme["name"] == "Acme Ltd" and acme["properties"] == {"tax_id": "GB1",
                                                                 "approved": True}
    assert acme["facts"] == 2
    facts = cli.ok("kb", "graph", "facts", "腾讯", "--tenant", "t1").stdout.splitlines()
    assert facts == ["Acme Ltd (Supplier) —supplies→ 腾讯 (Customer) [trusted]",
                     "华为技术 (Supplier) —supplies→ 腾讯 (Customer) [trusted]"]
    [path] = cli.json("kb", "graph", "path", "Globex", "华为", "--tenant", "t1")
    assert [(f["subject_name"], f["object_name"]) for f in path] == [
        ("Acme Ltd", "Globex"), ("Acme Ltd", "腾讯"), ("华为技术", "腾讯")]
    none = cli.ok("kb", "graph", "path", "Globex", "华为", "--max-hops", "2", "--tenant", "t1")
    assert "no path from Globex to 华为 within 2 hops" in none.stdout
    assert "no entity named 'Initech'" in failed(
        cli("kb", "graph", "entity", "Initech", "--tenant", "t1"), 3)
    assert "no ontology is saved for tenant 'other'" in failed(
        cli("kb", "graph", "facts", "Acme", "--tenant", "other"), 2)


def test_load_on_postgresql(cli: Cli, tmp_path: Path, postgres_url: str) -> None:
    mapping, records = _files(tmp_path)
    cli.ok("kb", "graph", "load", records, "--ontology", ONTOLOGY, "--mapping", mapping,
           "--db", postgres_url)
    facts = cli.json("kb", "graph", "facts", "Acme", "--db", postgres_url)
    assert sorted(f["object_name"] for f in facts) == ["Globex", "腾讯"]


def test_extract_over_the_knowledge_base(cli: Cli) -> None:
    assert cli.db is not None
    db = open_database(cli.db_url)
    try:
        kb = KnowledgeBase(db)
        kb.add("default", "news.txt", "据报道，华为技术向腾讯供货。华为技术开具发票HW-12，"
                                      "金额30,000元。")
        kb.add("default", "mail.txt", "Acme Ltd supplies Globex. Acme Ltd's bank account is "
                                      "GB29NWBK60161331926819.", trust="untrusted")
    finally:
        db.close()
    report = cli.json("kb", "graph", "extract", "--ontology", ONTOLOGY, "--rules", RULES)
    assert report["rejected"] == [] and report["relations"] == 4
    facts = cli.json("kb", "graph", "facts", "Acme Ltd")
    account = next(f for f in facts if f["relation"] == "bank_account")
    assert account["trust"] == "untrusted" and account["chunk_id"].startswith("kb:")
    only_news = cli.json("kb", "graph", "extract", "--ontology", ONTOLOGY, "--rules", RULES,
                         "--source", "news.txt")
    assert only_news["relations"] == 2  # stated again: the same facts, not new ones
    assert len(cli.json("kb", "graph", "facts", "华为技术")) == 2


def test_load_records_the_knowledge_base_keeps(cli: Cli, tmp_path: Path) -> None:
    mapping, _ = _files(tmp_path)
    assert cli.db is not None
    db = open_database(cli.db_url)
    try:
        KnowledgeBase(db).add_records("default", "suppliers.json", [
            {"name": "Acme Ltd", "customers": "Globex"},
            {"name": "华为技术", "aka": "华为", "customers": "腾讯"}], trust="untrusted")
    finally:
        db.close()
    report = cli.json("kb", "graph", "load", "--source", "suppliers.json", "--ontology",
                      ONTOLOGY, "--mapping", mapping)
    assert report["relations"] == 2 and report["rejected"] == []
    [fact] = cli.json("kb", "graph", "facts", "华为")
    assert fact["trust"] == "untrusted" and fact["chunk_id"].startswith("kb:")
    [huawei] = cli.json("kb", "graph", "entity", "华为")
    assert huawei["chunk_ids"] == [fact["chunk_id"]]
    assert "no document from 'nope.json'" in failed(
        cli("kb", "graph", "load", "--source", "nope.json", "--ontology", ONTOLOGY,
            "--mapping", mapping), 3)
    assert "not both" in failed(cli("kb", "graph", "load", mapping, "--source", "x",
                                    "--ontology", ONTOLOGY, "--mapping", mapping), 2)
