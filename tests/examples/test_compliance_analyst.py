"""The compliance-analyst reference app (examples/compliance-analyst): the rules go into the
knowledge base, the analyst reviews a supplier contract, and each finding's verdict, quotes and
citation hold — the cited passage was journaled in the call's context packet, the rule quote is
in that passage, the clause quote is in the document."""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

APP = Path(__file__).resolve().parents[2] / "examples" / "compliance-analyst"


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("analyst")
    env = {**os.environ, "AGENTPLANE_HOME": str(folder)}
    env.pop("AGENTPLANE_DB", None)
    done = subprocess.run([sys.executable, str(APP / "run.py"), "--db", "a.db"], cwd=folder,
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_each_rule_gets_its_verdict_with_the_rule_text_cited(out: str) -> None:
    verdicts = {rule: verdict for verdict, rule in
                re.findall(r"^\[([A-Z ]+)\] .*? — rule (\w+) \[kb:", out, re.M)}
    assert verdicts == {"P1": "NOT COMPLIANT", "D1": "NOT COMPLIANT", "D2": "NOT ADDRESSED",
                        "L1": "NOT COMPLIANT", "R1": "NOT COMPLIANT", "A1": "COMPLIANT",
                        "A2": "COMPLIANT"}
    assert "«合同须写明我方的廉洁举报渠道。»" in out  # a Chinese rule found from the contract
    assert "every quote is exact" in out


@pytest.fixture
def analyst(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    monkeypatch.syspath_prepend(str(APP))
    for name in ("tools", "analyst"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    module = importlib.import_module("analyst")
    yield module
    for name in ("tools", "analyst"):
        sys.modules.pop(name, None)


def test_a_misquote_or_an_unseen_citation_is_caught(analyst: ModuleType) -> None:
    finding = {"verdict": "NOT COMPLIANT", "clause": "2.2", "rule": "P1", "id": "kb:1",
               "quote": "Invoices are payable within 90 days.",
               "rule_text": "Payment terms must not exceed 60 days."}
    passages = {"kb:1": "Payment terms must not\nexceed 60 days. More."}
    document = "2.2 Invoices are payable\nwithin 90 days."
    assert analyst.problems([finding], {"kb:1"}, passages, document) == []
    assert analyst.problems([finding], set(), passages, document) == [
        "rule P1: kb:1 was not in the journaled context packet"]
    assert analyst.problems([{**finding, "rule_text": "Payment terms must not exceed 30 days."}],
                            {"kb:1"}, passages, document) == [
        "rule P1: the quote is not in passage kb:1"]
    assert analyst.problems([{**finding, "quote": "Invoices are payable within 30 days."}],
                            {"kb:1"}, passages, document) == [
        "rule P1: clause 2.2 is not quoted exactly"]
