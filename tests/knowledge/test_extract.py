"""Extraction: rules over Chinese and English text, a model's answers (good and malformed),
record mappings; every fact keeps its chunk and that chunk's trust."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from agentplane.knowledge.extract import (
    ModelExtractor,
    RulesError,
    extraction_schema,
    load_rules,
    parse_answer,
    parse_rules,
)
from agentplane.knowledge.graph import KnowledgeGraph
from agentplane.knowledge.ontology import Ontology, load_ontology
from agentplane.knowledge.records import MappingError, parse_mapping
from agentplane.knowledge.types import Chunk, TrustLevel
from agentplane.storage import Database

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "ontologies"
T = "acme-corp"


@pytest.fixture
def ontology() -> Ontology:
    return load_ontology(EXAMPLES / "procurement.yaml")


@pytest.fixture
def graph(database: Database, ontology: Ontology) -> KnowledgeGraph:
    return KnowledgeGraph(database, ontology)


def _chunk(id: str, text: str, trust: TrustLevel = "trusted") -> Chunk:
    return Chunk(id=id, tenant=T, document_id="doc", source="test", text=text, position=0,
                 trust=trust)


def test_rules_extract_from_chinese_and_english(graph: KnowledgeGraph,
                                                ontology: Ontology) -> None:
    rules = load_rules(EXAMPLES / "procurement-rules.yaml", ontology)
    chunks = [
        _chunk("kb:zh", "据报道，华为技术向腾讯供货。华为技术开具发票HW-12，金额30,000元。"),
        _chunk("kb:en", "Acme Ltd supplies Globex. Invoice INV-7 from Acme Ltd for 1,200.50 GBP."),
        _chunk("kb:mail", "Acme Ltd's bank account is GB29NWBK60161331926819.", "untrusted"),
    ]
    report = graph.extract(T, chunks, rules)
    assert report.rejected == ()
    invoice = graph.find(T, "HW-12")[0]
    assert invoice.type == "Invoice" and invoice.properties == {"amount": 30000,
                                                                "currency": "CNY"}
    assert invoice.chunk_ids == ("kb:zh",)
    zh = {r.relation: r for r in graph.facts(T, "华为技术")}
    assert set(zh) == {"supplies", "issued"} and zh["supplies"].chunk_id == "kb:zh"
    assert graph.find(T, "INV-7")[0].properties == {"amount": 1200.5, "currency": "GBP"}
    account = next(r for r in graph.facts(T, "Acme Ltd") if r.relation == "bank_account")
    assert account.chunk_id == "kb:mail" and account.trust == "untrusted"
    assert [[r.relation for r in p] for p in graph.paths(T, "Globex", "INV-7")] == [
        ["supplies", "issued"]]


def test_rule_candidates_that_do_not_fit_are_rejected(graph: KnowledgeGraph) -> None:
    rules = parse_rules(r"""
rules:
  - pattern: '(?P<who>\w+) billed (?P<inv>INV-\d+)'
    entities:
      - {type: Invoice, name: "{inv}"}
    relations:
      - {subject: "{who}", relation: issued, object: "{inv}"}
""")
    report = graph.extract(T, [_chunk("kb:1", "Nobody billed INV-3")], rules)
    reasons = [r.reason for r in report.rejected]
    assert reasons == ["Invoice 'INV-3' needs the required property 'amount'",
                       "subject: no entity 'Nobody' in the graph; add it first"]
    assert report.entities == () and report.relations == ()


@pytest.mark.parametrize(("text", "where", "message"), [
    ("rules:\n  - pattern: '(?P<a>x'\n", "r.yaml:2:", "not a valid regular expression"),
    ("rules:\n  - pattern: '(?P<a>x)'\n    entities:\n      - {type: Supplier, name: '{b}'}\n",
     "r.yaml:4:", "the pattern has no group named 'b' (groups: a)"),
    ("rules:\n  - pattern: '(?P<a>x)'\n    entities:\n      - {type: Vendorr, name: '{a}'}\n",
     "r.yaml:4:", "unknown entity type 'Vendorr'"),
    ("rules:\n  - pattern: '(?P<a>x)'\n    relations:\n"
     "      - {subject: '{a}', relation: sells, object: '{a}'}\n",
     "r.yaml:4:", "unknown relation 'sells'"),
    ("rules: []\n", "r.yaml:1:", "rules: List should have at least 1 item"),
    ("rules:\n  - pattern: x\n    colour: red\n", "r.yaml:3:", "unknown field"),
])
def test_rules_errors_name_the_line(ontology: Ontology, text: str, where: str,
                                    message: str) -> None:
    with pytest.raises(RulesError) as caught:
        parse_rules(text, "r.yaml", ontology)
    line = next(x for x in str(caught.value).splitlines() if message in x)
    assert line.strip().startswith(where)


class _Model:
    """A stand-in for a model endpoint: records what it was asked, answers as told."""

    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.asked: list[tuple[str, dict[str, Any]]] = []

    async def __call__(self, prompt: str, schema: dict[str, Any]) -> Any:
        self.asked.append((prompt, schema))
        return self.answer


def test_a_model_extracts_through_the_schema(graph: KnowledgeGraph) -> None:
    model = _Model({
        "entities": [{"type": "供应商", "name": "华为技术", "aliases": ["华为"]},
                     {"type": "Customer", "name": "腾讯", "properties": {"segment": "tech"}},
                     {"type": "Spaceship", "name": "Enterprise"}],
        "relations": [{"subject": "华为", "relation": "supplies", "object": "腾讯",
                       "properties": {"since": "2024-02-01"}},
                      {"subject": "腾讯", "relation": "supplies", "object": "华为技术"}],
    })
    report = asyncio.run(graph.aextract(T, [_chunk("kb:m", "华为向腾讯供货。", "untrusted")],
                                        ModelExtractor(model)))
    prompt, schema = model.asked[0]
    assert "华为向腾讯供货。" in prompt and "Supplier (a kind of Organisation)" in prompt
    entity_types = schema["properties"]["entities"]["items"]["properties"]["type"]["enum"]
    assert "Supplier" in entity_types
    assert "supplies" in schema["properties"]["relations"]["items"]["properties"][
        "relation"]["enum"]
    assert {e.name for e in report.entities} == {"华为技术", "腾讯"}
    [fact] = report.relations
    assert fact.properties == {"since": "2024-02-01"} and fact.trust == "untrusted"
    reasons = [r.reason for r in report.rejected]
    assert reasons[0].startswith("unknown entity type 'Spaceship'")
    assert reasons[1].startswith("relation 'supplies' goes from Supplier to Organisation")


@pytest.mark.parametrize(("answer", "reason"), [
    ("I could not find anything, sorry.", "the model's answer is not JSON"),
    ('{"entities": "none"}', "does not fit the schema: entities: Input should be a valid list"),
    ([1, 2], "does not fit the schema"),
    ({"entities": [{"type": "Supplier"}]}, "entities.0.name: Field required"),
    (None, "does not fit the schema"),
])
def test_a_malformed_answer_is_a_rejection_not_a_crash(graph: KnowledgeGraph, answer: Any,
                                                       reason: str) -> None:
    report = graph.extract(T, [_chunk("kb:x", "text")], ModelExtractor(_Model(answer)))
    [rejected] = report.rejected
    assert reason in rejected.reason and rejected.candidate["chunk"] == "kb:x"
    assert report.entities == ()


def test_answers_given_as_json_text_are_read() -> None:
    text = json.dumps({"entities": [{"type": "Person", "name": "Ann"}], "relations": []})
    assert [e.name for e in parse_answer(text).entities] == ["Ann"]


def test_the_schema_lists_every_declared_type(ontology: Ontology) -> None:
    schema = extraction_schema(ontology)
    types = schema["properties"]["entities"]["items"]["properties"]["type"]["enum"]
    assert types == list(ontology.entity_types)


def test_a_mapping_is_checked_against_the_ontology(ontology: Ontology) -> None:
    text = ("type: Supplir\nname: name\nrelations:\n"
            "  - {field: c, relation: supplies, object_type: Custmer}\n")
    with pytest.raises(MappingError) as caught:
        parse_mapping(text, "m.yaml", ontology)
    rendered = str(caught.value)
    assert "m.yaml:1:" in rendered and "unknown entity type 'Supplir'" in rendered
    assert "m.yaml:4:" in rendered and "unknown entity type 'Custmer'" in rendered
    with pytest.raises(MappingError, match="give either type"):
        parse_mapping("name: name\n", "m.yaml")


def test_records_with_a_type_field(graph: KnowledgeGraph, ontology: Ontology) -> None:
    mapping = parse_mapping("type_field: kind\nname: name\n", "m.yaml", ontology)
    report = graph.add_records(T, [{"kind": "客户", "name": "腾讯"},
                                   {"kind": "Person", "name": "Ann"},
                                   {"kind": "", "name": "Nobody"}], mapping)
    assert [(e.type, e.name) for e in report.entities] == [("Customer", "腾讯"),
                                                           ("Person", "Ann")]
    assert "no 'kind'" in report.rejected[0].reason


def test_a_reversed_record_relation(graph: KnowledgeGraph, ontology: Ontology) -> None:
    mapping = parse_mapping(
        "type: Supplier\nname: name\nrelations:\n"
        "  - {field: manager, relation: works_for, object_type: Person, reverse: true}\n",
        "m.yaml", ontology)
    report = graph.add_records(T, [{"name": "Acme Ltd", "manager": "Ann Lee"}], mapping)
    [fact] = report.relations
    assert graph.get(T, fact.subject).name == "Ann Lee"  # type: ignore[union-attr]
    assert graph.get(T, fact.object).name == "Acme Ltd"  # type: ignore[union-attr]
