"""The ontology: loading with positioned errors, the taxonomy, and checking candidates."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentplane.knowledge.ontology import (
    Ontology,
    OntologyError,
    coerce,
    load_ontology,
    parse_ontology,
)

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "ontologies" / "procurement.yaml"

SMALL = """\
name: small
entity_types:
  Organisation:
    properties: {country: string}
  Supplier:
    parent: Organisation
    aliases: [供应商, vendor]
    properties:
      tax_id: {type: string, required: true}
  Invoice:
    properties:
      amount: {type: number, required: true}
      due: date
      paid: boolean
relation_types:
  supplies: {domain: Supplier, range: Organisation}
  billed_by: {domain: Invoice, range: Supplier, cardinality: one, aliases: [开票方]}
"""


@pytest.fixture
def small() -> Ontology:
    return parse_ontology(SMALL, "small.yaml")


def test_the_example_ontology_loads_with_its_taxonomy() -> None:
    onto = load_ontology(EXAMPLE)
    tree = onto.taxonomy()
    assert (0, "Organisation") in tree and (1, "Supplier") in tree and (1, "Customer") in tree
    assert tree.index((1, "Supplier")) > tree.index((0, "Organisation"))
    assert onto.is_a("Invoice", "Document") and not onto.is_a("Document", "Invoice")
    assert onto.type_name("供应商") == "Supplier" and onto.type_name("vendor") == "Supplier"
    assert onto.relation_name("供货") == "supplies"
    assert set(onto.subtypes("Organisation")) == {"Organisation", "Supplier", "Customer"}


def test_a_subtype_inherits_its_parents_properties(small: Ontology) -> None:
    assert set(small.properties_of("Supplier")) == {"country", "tax_id"}
    assert small.ancestors("Supplier") == ["Supplier", "Organisation"]


def test_property_shorthand_and_coercion(small: Ontology) -> None:
    assert small.entity_types["Organisation"].properties["country"].type == "string"
    assert coerce("number", "12,000.50") == 12000.5
    assert coerce("number", "7") == 7
    assert coerce("date", "2026-03-01") == "2026-03-01"
    assert coerce("boolean", "TRUE") is True
    for kind, value, expected in (("number", "abc", "a number"), ("number", True, "a number"),
                                  ("date", "March", "ISO-8601"), ("boolean", "maybe", "true"),
                                  ("string", ["x"], "text"), ("number", float("nan"), "number")):
        with pytest.raises(ValueError, match=expected):
            coerce(kind, value)  # type: ignore[arg-type]


def test_entity_checks_give_reasons(small: Ontology) -> None:
    assert small.check_entity("供应商", "华为", {"tax_id": 91440300}) == (
        "Supplier", {"tax_id": "91440300"})
    assert "unknown entity type 'Vendorr'" in str(small.check_entity("Vendorr", "x", {}))
    assert "needs the required property 'tax_id'" in str(
        small.check_entity("Supplier", "Acme", {}))
    assert "property 'amount' of Invoice 'I-1' must be a number; got 'lots'" in str(
        small.check_entity("Invoice", "I-1", {"amount": "lots"}))
    assert "has no property 'colour'" in str(
        small.check_entity("Organisation", "Acme", {"colour": "red"}))
    assert "needs a name" in str(small.check_entity("Organisation", "  ", {}))


def test_relation_checks_name_domain_and_range(small: Ontology) -> None:
    assert small.check_relation("supplies", "Supplier", "Supplier", {}) == ("supplies", {})
    reason = small.check_relation("supplies", "Organisation", "Supplier", {})
    assert reason == ("relation 'supplies' goes from Supplier to Organisation (or their "
                      "subtypes); got Organisation → Supplier")
    assert "unknown relation 'buys'" in str(small.check_relation("buys", "Supplier",
                                                                 "Supplier", {}))
    assert small.check_relation("开票方", "Invoice", "Supplier", {}) == ("billed_by", {})


@pytest.mark.parametrize(("text", "where", "message"), [
    (SMALL.replace("parent: Organisation", "parent: Org"), "small.yaml:6:5",
     "entity_types.Supplier.parent: unknown parent type 'Org'"),
    (SMALL.replace("range: Organisation}", "range: Company}"), "small.yaml:16:",
     "relation_types.supplies.range: unknown entity type 'Company'"),
    (SMALL.replace("type: number", "type: integer"), "small.yaml:12:",
     "entity_types.Invoice.properties.amount.type: Input should be"),
    (SMALL.replace("aliases: [开票方]", "aliases: [供货]").replace(
        "supplies: {", "supplies: {aliases: [供货], "), "small.yaml:17:",
     "alias '供货' already names 'supplies'"),
    (SMALL.replace("name: small", "name: small\nversion: 2"), "small.yaml:2:1",
     "version: unknown field"),
    (SMALL.replace("properties: {country: string}", "properties: {country: string"),
     "small.yaml:", "not valid YAML"),
    ("- just a list\n", "small.yaml:1:1", "expected a mapping"),
    ("name: nothing\nentity_types: {}\n", "small.yaml:2:", "entity_types"),
])
def test_errors_name_file_line_and_field(text: str, where: str, message: str) -> None:
    with pytest.raises(OntologyError) as caught:
        parse_ontology(text, "small.yaml")
    rendered = str(caught.value)
    assert rendered.startswith("ontology small.yaml is invalid")
    problem = next(line for line in rendered.splitlines() if message in line)
    assert problem.strip().startswith(where)


def test_a_cycle_in_the_taxonomy_is_an_error() -> None:
    text = SMALL.replace("  Organisation:\n", "  Organisation:\n    parent: Supplier\n")
    with pytest.raises(OntologyError, match="the taxonomy has a cycle: Organisation → Supplier"
                                            " → Organisation"):
        parse_ontology(text, "small.yaml")


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(OntologyError, match=r"nope\.yaml.*file not found"):
        load_ontology(tmp_path / "nope.yaml")
