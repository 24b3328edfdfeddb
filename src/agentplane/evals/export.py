"""Evaluations for CI: JSON (everything, with the comparison when there is one) and JUnit XML
(one ``testsuite`` per evaluation, one ``testcase`` per case, a ``failure`` naming the checks
that failed) — the format CI systems show as test results.

JUnit is written with the standard library's ``xml.etree`` (no JUnit package is among the
project's dependencies; the format is a handful of elements)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import Any

from .compare import Comparison
from .evaluate import Evaluation


def to_json(evaluations: list[Evaluation], comparison: Comparison | None = None) -> str:
    """The evaluations (baseline first) and their comparison, as JSON text."""
    data: dict[str, Any] = {"evaluations": [e.to_json() for e in evaluations]}
    if comparison is not None:
        data["comparison"] = comparison.to_json()
    return json.dumps(data, indent=2, ensure_ascii=False, default=str)


def to_junit(evaluations: list[Evaluation]) -> str:
    """JUnit XML: a suite per evaluation, a test case per case (time in seconds)."""
    suites = ET.Element("testsuites", name="agentplane eval")
    for e in evaluations:
        summary = e.summary()
        suite = ET.SubElement(suites, "testsuite", {
            "name": f"{e.dataset} on {e.workflow}" + (f" ({e.model})" if e.model else ""),
            "tests": str(summary["cases"]), "failures": str(summary["failed"]),
            "errors": "0", "time": f"{sum(c.latency_ms for c in e.cases) / 1000:.3f}",
            "timestamp": e.created_at, "id": e.id})
        props = ET.SubElement(suite, "properties")
        for name, value in (("workflow_hash", e.workflow_hash),
                            ("cost_usd", f"{summary['cost_usd']:.9f}"),
                            ("pass_rate", f"{summary['pass_rate']:.4f}")):
            ET.SubElement(props, "property", name=name, value=value)
        for c in e.cases:
            case = ET.SubElement(suite, "testcase", {
                "name": c.case_id, "classname": f"{e.dataset}.{e.workflow}",
                "time": f"{c.latency_ms / 1000:.3f}"})
            failed = [k for k in c.checks if not k.passed]
            if failed:
                failure = ET.SubElement(case, "failure", {
                    "message": "; ".join(f"{k.kind}: {k.detail}" for k in failed)[:1000],
                    "type": ",".join(k.kind for k in failed)})
                failure.text = "\n".join(f"{k.kind}: {k.detail}" for k in failed)
            ET.SubElement(case, "system-out").text = (
                f"run {c.run_id} ({c.status}), cost {c.cost_usd:.9f} USD, {c.turns} model "
                "calls")
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"
