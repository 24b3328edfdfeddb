"""The compliance analyst: reviews a document against the organisation's rules and cites the
rule text behind each finding (001, l.1540–1548: agents that analyse regulations and company
documents, cite the specific rule, and give their analysis to the people responsible).

- The rules (``rules/``, English and Chinese) are in the tenant's knowledge base; the analyst
  retrieves them per turn (``knowledge.per_turn``): the document it reads is the query, so the
  rules that speak about its clauses come back, each passage with an id.
- ``read_document`` is ``untrusted``: the supplier wrote the document.
- Each finding quotes the clause, quotes the rule sentence and cites the passage by ``[kb:…]``;
  ``run.py`` checks every quote and citation against the journal and the knowledge base.

``analyst_model`` stands in for a language model so the example runs offline: a deterministic
reply function that reads the passages it is shown and checks the clauses the rules speak
about (payment period, personal data, breach notification, liability cap, renewal notice,
anti-bribery, reporting channel) — as a model asked to "check the document against the rules
you are shown, quote both, cite the rule by [id]" would.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import tools  # this folder's tools.py

from agentplane import Agent, Workflow, tool
from agentplane.testing import ModelCall, Reply, call

read_document = tool(tools.read_document, effect="read", trust="untrusted")

analyst = Agent(
    "analyst",
    model="openai:gpt-4o-mini",
    instructions="You review documents against the organisation's rules. Read the document, "
                 "then for each rule you are shown that applies, give one finding per line: "
                 "[COMPLIANT], [NOT COMPLIANT] or [NOT ADDRESSED], the clause number and its "
                 "text in «», then the rule's id, the passage's [id] and the rule sentence in "
                 "«». Quote exactly; never cite a passage you were not shown.",
    tools=[read_document],
    knowledge={"k": 8, "budget_tokens": 3000, "modes": ["lexical"], "per_turn": True},
)

flow = Workflow("compliance-analyst", steps=[analyst],
                description="Reviews a document against the rules in the knowledge base and "
                            "cites the rule text behind each finding.")

FINDING = re.compile(r"^\[(?P<verdict>[A-Z ]+)\] (?P<clause>[\d.]+|—) «(?P<quote>[^»]*)» — "
                     r"rule (?P<rule>\S+) \[(?P<id>kb:[^\]]+)\] «(?P<rule_text>[^»]+)»$")
"""One finding line of the analyst's answer."""


def flat(text: str) -> str:
    """Text with every run of white space as one space (quotes span line breaks)."""
    return " ".join(text.split())


def passages(call_: ModelCall) -> list[tuple[str, str]]:
    """The knowledge-base passages the call was shown, each once: (id, text)."""
    found: list[tuple[str, str]] = []
    for message in call_.messages:
        if message.role != "system" or not (message.content or "").startswith("Context"):
            continue
        for block in re.split(r"\n\n(?=\[)", message.content or "")[1:]:
            head, _, text = block.partition("\n")
            item = re.match(r"\[(kb:[^\]]+)\]", head)
            if item and all(item[1] != i for i, _ in found):
                found.append((item[1], text.strip()))
    return found


def clauses(document: str) -> list[tuple[str, str]]:
    """The numbered clauses of a document: (number, text)."""
    return [(m[1], flat(m[2])) for m in re.finditer(r"(?ms)^(\d+\.\d+) (.+?)(?=\n\n|\Z)",
                                                     document)]


def _days(text: str) -> int | None:
    found = re.search(r"(\d+) days", text)
    return int(found[1]) if found else None


def _amount(text: str) -> int | None:
    found = re.search(r"([\d,]+) EUR", text)
    return int(found[1].replace(",", "")) if found else None


Clause = tuple[str, str]
Check = Callable[[str, list[Clause]], tuple[str, Clause | None]]


def _clause(found: list[Clause], *words: str) -> Clause | None:
    return next((c for c in found if all(w.lower() in c[1].lower() for w in words)), None)


def _payment(rule: str, found: list[Clause]) -> tuple[str, Clause | None]:
    clause = _clause(found, "payable within")
    if clause is None:
        return "NOT ADDRESSED", None
    limit, days = _days(rule), _days(clause[1])
    return ("COMPLIANT" if days is not None and limit is not None and days <= limit
            else "NOT COMPLIANT"), clause


def _personal_data(rule: str, found: list[Clause]) -> tuple[str, Clause | None]:
    clause = _clause(found, "stored") or _clause(found, "records")
    if clause is None:
        return "NOT ADDRESSED", None
    dpa = _clause(found, "data processing agreement")
    in_eu = "european union" in clause[1].lower() or " eu " in f" {clause[1].lower()} "
    return ("COMPLIANT" if dpa and in_eu else "NOT COMPLIANT"), clause


def _breach(rule: str, found: list[Clause]) -> tuple[str, Clause | None]:
    clause = _clause(found, "breach")
    return ("COMPLIANT" if clause else "NOT ADDRESSED"), clause


def _liability(rule: str, found: list[Clause]) -> tuple[str, Clause | None]:
    cap, fee = _clause(found, "liability", "limited"), _clause(found, "annual fee")
    if cap is None:
        return "NOT ADDRESSED", None
    low = (_amount(cap[1]) or 0) < ((_amount(fee[1]) or 0) if fee else 0)
    return ("NOT COMPLIANT" if low else "COMPLIANT"), cap


def _renewal(rule: str, found: list[Clause]) -> tuple[str, Clause | None]:
    clause = _clause(found, "renews automatically")
    if clause is None:
        return "COMPLIANT", None
    limit, days = _days(rule), _days(clause[1])
    return ("COMPLIANT" if days is not None and limit is not None and days >= limit
            else "NOT COMPLIANT"), clause


def _present(*words: str) -> Check:
    def check(rule: str, found: list[Clause]) -> tuple[str, Clause | None]:
        clause = next((c for w in words if (c := _clause(found, w))), None)
        return ("COMPLIANT" if clause else "NOT ADDRESSED"), clause
    return check


CHECKS: list[tuple[str, tuple[str, ...], Check]] = [
    ("P1", ("payment terms", "days"), _payment),
    ("D1", ("personal data", "processing agreement"), _personal_data),
    ("D2", ("breach", "hours"), _breach),
    ("L1", ("liability cap",), _liability),
    ("R1", ("renews automatically", "notice"), _renewal),
    ("A1", ("反商业贿赂",), _present("反商业贿赂", "anti-bribery")),
    ("A2", ("举报",), _present("举报", "hotline")),
]
"""What the stand-in knows how to check: the rule id, words its sentence has, the check."""


def _sentences(text: str) -> list[str]:
    body = flat(" ".join(li for li in text.splitlines() if not li.startswith("#")))
    return [s.strip() for s in re.split(r"(?<=[.。])\s*", body) if s.strip()]


def analyst_model(call_: ModelCall) -> str | Reply:
    """The offline stand-in: read the document, then one finding per applicable rule."""
    if not call_.tool_results:
        name = re.search(r"[\w.-]+\.md", call_.input)
        return Reply(tool_calls=[call("read_document", name=name[0] if name else "")])
    found = clauses(call_.tool_results[-1].content or "")
    shown = passages(call_)
    lines = [f"Review of the document against {len(shown)} rule passages:"]
    for rule_id, words, check in CHECKS:
        for passage_id, text in shown:
            sentence = next((s for s in _sentences(text)
                             if all(w.lower() in s.lower() for w in words)), None)
            if sentence is None:
                continue
            verdict, clause = check(sentence, found)
            number, quote = clause if clause else ("—", "")
            lines.append(f"[{verdict}] {number} «{quote}» — rule {rule_id} [{passage_id}] "
                         f"«{sentence}»")
            break
    return "\n".join(lines)


def findings(answer: str) -> list[dict[str, Any]]:
    """The finding lines of an answer, parsed."""
    return [m.groupdict() for line in answer.splitlines() if (m := FINDING.match(line.strip()))]


def problems(found: list[dict[str, Any]], shown: set[str], passages: dict[str, str],
             document: str) -> list[str]:
    """What is wrong with the findings: a cited passage not in the journaled context packet, a
    rule quote not in the cited passage's text, a clause not quoted exactly."""
    wrong = []
    for f in found:
        if f["id"] not in shown:
            wrong.append(f"rule {f['rule']}: {f['id']} was not in the journaled context packet")
        if flat(f["rule_text"]) not in flat(passages.get(f["id"], "")):
            wrong.append(f"rule {f['rule']}: the quote is not in passage {f['id']}")
        if f["quote"] and flat(f["quote"]) not in flat(document):
            wrong.append(f"rule {f['rule']}: clause {f['clause']} is not quoted exactly")
    return wrong
