"""The context settings in the Python API: ``Agent(knowledge=, memory=, max_tools=)`` and
``Workflow(knowledge=)`` build the spec a YAML file would, and a run uses them."""

from __future__ import annotations

import re
from pathlib import Path

import pydantic
import pytest

from agentplane import Agent, Workflow
from agentplane.journal import EventType, SQLiteJournal
from agentplane.knowledge.store import KnowledgeBase
from agentplane.runtime import parse_spec
from agentplane.runtime.context_spec import AgentKnowledgeSpec


def test_agent_context_settings_make_the_yaml_spec() -> None:
    desk = Agent("desk", knowledge=True, memory={"recall": ["factual"], "tools": True,
                                                 "subject": "$.customer"},
                 max_tools=3, script=["hello"])
    assert desk.spec.knowledge == AgentKnowledgeSpec()
    assert desk.spec.memory is not None and desk.spec.memory.subject == "$.customer"
    flow = Workflow("ctx-py", steps=[desk], knowledge={"tenant_scope": "run"})
    text = flow.to_yaml()
    assert "knowledge: {}" in text and "max_tools: 3" in text
    spec, _ = parse_spec(text, "twin.yaml")
    assert spec == flow.spec


def test_agent_without_context_settings_is_unchanged() -> None:
    plain = Agent("plain", script=["x"])
    assert (plain.spec.knowledge, plain.spec.memory, plain.spec.max_tools) == (None, None, None)
    assert Agent("off", knowledge=False, script=["x"]).spec.knowledge is None


def test_bad_context_setting_says_what_is_wrong() -> None:
    with pytest.raises(pydantic.ValidationError, match=re.escape("e.g. $.customer_id")):
        Agent("desk", memory={"subject": "customer["}, script=["x"])


async def test_a_python_agent_gets_its_context_packet(tmp_path: Path) -> None:
    db = tmp_path / "journal.db"
    journal = SQLiteJournal(db)
    KnowledgeBase(journal.database).add("default", "faq.md",
                                        "# Opening hours\n\nThe desk opens at 8 on weekdays.")
    await journal.close()
    desk = Agent("desk", knowledge={"modes": ["lexical"]}, script=["8 o'clock"])
    result = await desk.run("when does the desk open?", db=db)
    [packet] = [e for e in result.events if e.type == EventType.CONTEXT_PACKET]
    assert [i["source"] for i in packet.data["packet"]["items"]] == ["faq.md"]
