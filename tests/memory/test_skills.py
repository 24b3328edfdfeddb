"""Procedural memory: skills promoted after N successful runs or by a person, versioned when
the sequence changes, retired; argument shapes, never values."""

from __future__ import annotations

import json

import pytest

from agentplane.errors import NotFoundError
from agentplane.journal import Event
from agentplane.memory import (
    InvalidMemoryError,
    MemoryStore,
    Skills,
    SkillStep,
    step,
    steps_from_events,
)

T = "acme"
REFUND = [step("lookup_order", {"order_id": "A-17"}),
          step("issue_refund", {"order_id": "A-17", "amount": 12.5, "notify": True})]


def test_promoted_after_n_successful_runs(skills: Skills) -> None:
    first = skills.record(T, run="r1", steps=REFUND, name="refund")
    assert (first.status, first.version, first.successes) == ("pending", 1, 1)
    assert skills.record(T, run="r1", steps=REFUND, name="refund").successes == 1  # once per run
    assert skills.active(T) == []
    assert skills.record(T, run="r2", steps=REFUND, name="refund").status == "pending"
    third = skills.record(T, run="r3", steps=REFUND, name="refund")
    assert (third.status, third.successes, third.id) == ("active", 3, first.id)
    assert [s.id for s in skills.active(T)] == [first.id]
    assert skills.memories.audit(T)[0]["action"] == "promote"
    assert skills.memories.audit(T)[0]["actor"] == "system"
    # Steps keep the shape of the arguments, never their values.
    assert [s.to_json() for s in third.steps] == [
        {"tool": "lookup_order", "arguments": {"order_id": "string"}},
        {"tool": "issue_refund", "arguments": {"amount": "number", "notify": "boolean",
                                               "order_id": "string"}}]
    stored = skills.memories.get(T, first.id)
    assert stored is not None and "A-17" not in json.dumps(stored.value) + stored.text
    assert "lookup_order(order_id: string) → issue_refund(" in stored.text
    # An active skill is recalled as procedural memory.
    assert [m.id for m, _ in skills.memories.recall(T, "refund an order",
                                                    kinds=["procedural"])] == [first.id]


def test_promoted_by_a_person(skills: Skills) -> None:
    pending = skills.record(T, run="r1", workflow="escalate-to-finance", name="escalate")
    promoted = skills.promote(T, pending.id, by="user:lead", reason="reviewed")
    assert (promoted.status, promoted.successes, promoted.workflow) == ("active", 1,
                                                                        "escalate-to-finance")
    entry = skills.memories.audit(T)[0]
    assert (entry["action"], entry["actor"], entry["reason"], entry["subject"]) == (
        "promote", "user:lead", "reviewed", "escalate")
    with pytest.raises(NotFoundError):
        skills.promote(T, "mem:nope", by="user:lead")


def test_a_changed_sequence_is_a_new_version(skills: Skills) -> None:
    v1 = skills.record(T, run="r1", steps=REFUND, name="refund")
    skills.promote(T, v1.id, by="user:lead")
    changed = [*REFUND, step("send_receipt", {"email": "a@b.c"})]
    v2 = skills.record(T, run="r2", steps=changed, name="refund")
    assert (v2.version, v2.status, v2.supersedes, v2.successes) == (2, "pending", v1.id, 1)
    assert [s.id for s in skills.active(T)] == [v1.id]  # until v2 is promoted
    for run in ("r3", "r4"):
        skills.record(T, run=run, steps=changed, name="refund")
    assert [s.id for s in skills.active(T)] == [v2.id]
    old = skills.get(T, v1.id)
    assert old is not None and old.status == "superseded"
    assert [(s.version, s.status) for s in skills.list(T, name="refund")] == [
        (2, "active"), (1, "superseded")]
    # A person may go back to the older version.
    skills.promote(T, v1.id, by="user:lead", reason="v2 sends receipts twice")
    assert [s.id for s in skills.active(T)] == [v1.id]
    recalled = skills.memories.recall(T, "refund", kinds=["procedural"])
    assert [m.id for m, _ in recalled] == [v1.id]
    # Retired: not offered, not recalled, and runs no longer count.
    retired = skills.retire(T, v1.id, by="user:lead", reason="process changed")
    assert retired.status == "retired"
    assert skills.active(T) == []
    assert skills.memories.recall(T, "refund", kinds=["procedural"]) == []
    assert not {v1.id, v2.id} & {i for i, _ in skills.memories.index.search(T, "refund")}
    assert skills.record(T, run="r9", steps=REFUND, name="refund").successes == 1
    assert skills.memories.audit(T)[0]["action"] == "retire"


def test_steps_from_a_runs_events_and_bad_skills(skills: Skills) -> None:
    def ev(seq: int, type: str, key: str, data: dict[str, object]) -> Event:
        return Event("r", seq, "t", type, "agent:a", key, data, None, "", "")

    events = [ev(1, "tool.started", "c1", {"tool": "find", "arguments": {"q": "x"}}),
              ev(2, "tool.completed", "c1", {"tool": "find", "agent": "a"}),
              ev(3, "tool.started", "c2", {"tool": "pay", "arguments": {"n": 1}}),
              ev(4, "tool.failed", "c2", {"tool": "pay", "agent": "a"}),
              ev(5, "tool.completed", "c3", {"tool": "note", "agent": "b"})]
    assert [s.to_json() for s in steps_from_events(events)] == [
        {"tool": "find", "arguments": {"q": "string"}}, {"tool": "note", "arguments": {}}]
    assert [s.tool for s in steps_from_events(events, agent="a")] == ["find"]
    unnamed = skills.record(T, run="r1", steps=steps_from_events(events))
    assert unnamed.name == "find → note"
    with pytest.raises(InvalidMemoryError, match="either a tool sequence or a sub-workflow"):
        skills.record(T, run="r1")
    with pytest.raises(InvalidMemoryError, match="JSON type names"):
        skills.record(T, run="r1", steps=[SkillStep("x", {"a": "A-17"})])
    with pytest.raises(InvalidMemoryError, match="at least 1"):
        Skills(skills.memories, promote_after=0)


def test_a_quarantined_skill_cannot_be_promoted(skills: Skills, memories: MemoryStore) -> None:
    s = skills.record(T, run="r1", steps=REFUND, name="refund")
    memories.quarantine(T, s.id, by="user:rev", reason="check")
    with pytest.raises(InvalidMemoryError, match="release it first"):
        skills.promote(T, s.id, by="user:lead")


def test_a_deleted_skill_can_be_learnt_again(skills: Skills, memories: MemoryStore) -> None:
    first = skills.record(T, run="r1", steps=REFUND, name="refund")
    memories.delete(T, first.id, by="user:rev", reason="bad")
    again = skills.record(T, run="r2", steps=REFUND, name="refund")
    assert again.id != first.id
    assert (again.status, again.successes, again.version) == ("pending", 1, 1)
    memories.delete(T, again.id, by="user:rev", reason="bad again")
    third = skills.record(T, run="r3", steps=REFUND, name="refund")
    assert third.id not in (first.id, again.id)
    assert [s.id for s in skills.list(T)] == [third.id]
