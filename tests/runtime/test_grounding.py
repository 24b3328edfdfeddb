"""Grounding: claims with figures or quoted values must cite a source the agent saw, and say
what that source says."""

from __future__ import annotations

import re
from pathlib import Path

from agentplane.journal import EventType, JournalStore
from agentplane.knowledge.store import KnowledgeBase
from agentplane.models.function import FunctionModel, ModelCall
from agentplane.runtime import Runtime, workflow_from_dict
from agentplane.runtime.grounding import check_grounding, citations, figures

SOURCES = {"tool:call_0_0": '{"order_id": "A1", "total": 1240000.0, "status": "paid in full"}',
           "kb:3f2a": "Refunds are allowed within 30 days of delivery."}


def kinds(answer: str) -> list[str]:
    return [p.kind for p in check_grounding(answer, SOURCES)]


def test_cited_figures_and_quotes_pass() -> None:
    assert kinds("A1 totals 1,240,000 EUR [tool:call_0_0]. Its status is \"paid in full\" "
                 "[tool:call_0_0]. Refunds are allowed for 30 days [doc:3f2a].") == []
    # A citation right after the sentence belongs to it; sentences without figures need none.
    assert kinds("The total is 1240000.00 EUR. [tool:call_0_0]\nThank you for asking.") == []


def test_an_uncited_figure_is_flagged() -> None:
    [problem] = check_grounding("All is fine. The total is 1.2 million EUR.", SOURCES)
    assert problem.kind == "uncited"
    assert problem.message == "1.2 cites no source: 'The total is 1.2 million EUR.'"


def test_a_misquoted_figure_or_value_is_flagged() -> None:
    problems = check_grounding('The total is 1,420,000 EUR and it is "paid" in part '
                               "[tool:call_0_0].", SOURCES)
    assert [p.kind for p in problems] == ["misquoted"]
    assert problems[0].message.startswith("1,420,000 is not in [tool:call_0_0]")
    assert kinds('Its status is "paid in part" [tool:call_0_0].') == ["misquoted"]
    # A figure is checked against the source it cites, not any source of the run.
    assert kinds("Refunds are allowed within 30 days [tool:call_0_0].") == ["misquoted"]


def test_a_source_the_agent_never_saw_is_flagged() -> None:
    assert kinds("The total is 1,240,000 [tool:call_9_9].") == ["unknown-source"]
    assert kinds("The total is 1,240,000 [tool:call_9_9] [tool:call_0_0].") == [
        "unknown-source"]


def test_citations_and_figures_are_read_apart() -> None:
    text = "p99 is 840 ms [tool:call_1_0], Q3 up 12.5% [kb:ab-1] [memory:x1]"
    assert citations(text) == ["tool:call_1_0", "kb:ab-1", "mem:x1"]
    assert figures(text) == ["840", "12.5"]  # not the 99 of p99, nor the ids' digits


HANDBOOK = ("# Refunds\n\nRefunds over 500 EUR need the finance lead's approval. "
            "Refunds are paid within 14 days to the original card.")


async def test_a_run_grounds_answers_in_its_retrieved_passages(store: JournalStore) -> None:
    KnowledgeBase(store.database).add("default", "handbook.md", HANDBOOK)

    def reply(c: ModelCall) -> str:
        context = next(m.content or "" for m in c.messages
                       if m.role == "system" and (m.content or "").startswith("Context"))
        [cited] = re.findall(r"\[(kb:\w+)\]", context)
        days = "21" if c.index == 0 else "14"
        return f"Refunds are paid within {days} days [{cited}]."

    wf = workflow_from_dict({"name": "kb-flow", "agents": [
        {"name": "desk", "model": "openai:m", "knowledge": {"modes": ["lexical"]}}],
        "steps": [{"agent": "desk", "verify": {"grounding": True}}]}, Path(__file__).parent)
    model = FunctionModel(reply)
    rt = Runtime(store, providers={"*": model})
    run = await rt.run(wf, "how fast are refunds paid?")
    await rt.aclose()
    assert run.status == "completed"
    events = await store.events(run.id)
    first, second = [e for e in events if e.type == EventType.VERIFY_CHECKED]
    [finding] = first.data["findings"]
    assert finding["kind"] == "misquoted" and finding["message"].startswith("21 is not in [kb:")
    assert second.data["passed"] and second.data["sources"][0].startswith("kb:")
    assert events[-1].data["output"].startswith("Refunds are paid within 14 days [kb:")
