"""Answers over A2A: a follow-up message to a task that waits for a person (``input-required``)
decides the approval it waits for, when the caller's key may approve on the task's tenant.

The message says ``approve`` (or ``approved``, ``yes``) or ``deny`` (``denied``, ``no``,
``reject``), optionally followed by a reason (``deny: the amount is wrong``); or it carries a
data part ``{"decision": "approve" | "deny", "reason": "...", "approval": "<wait id>"}``. With
several approvals open, the message names one (``approval``). The decision is journaled with
the caller's identity exactly like one from the console (``actions.decide_approval``), and an
``a2a.answered`` event records which message gave it: the same message (id) sent to the same
task again decides nothing more. Message ids are unique per task, not across tasks.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from a2a.helpers import get_data_parts, get_text_parts
from a2a.types import InvalidParamsError, Message, UnsupportedOperationError

from agentplane.errors import AgentplaneError
from agentplane.governance.keys import ApiKey
from agentplane.journal import Event, JournalStore, NewEvent, RunRecord, WaitRecord
from agentplane.runtime import APPROVAL_KINDS, Runtime

from .actions import decide_approval

A2A_ANSWERED = "a2a.answered"
"""Journal event: a follow-up message over A2A decided an approval (``message_id``,
``wait_id``, ``caller``)."""
_YES = frozenset({"approve", "approved", "yes", "ok", "grant", "granted", "accept"})
_NO = frozenset({"deny", "denied", "no", "reject", "rejected", "refuse"})
_FIRST_WORD = re.compile(r"^\s*([A-Za-z]+)\b[\s:,.!-]*(.*)$", re.DOTALL)
HOW = ("answer 'approve' or 'deny: REASON' (or a data part {\"decision\": \"approve\" | "
       "\"deny\", \"reason\": ..., \"approval\": ID})")


@dataclass(frozen=True, slots=True)
class Answer:
    """What a follow-up message decides."""

    approve: bool
    reason: str
    approval: str | None = None
    """The approval (wait id) it decides; None: the only one open."""


def parse_answer(message: Message) -> Answer:
    """The decision a message carries; ``InvalidParamsError`` (saying how) if none."""
    for data in get_data_parts(message.parts):
        if isinstance(data, dict) and data.get("decision") in ("approve", "deny"):
            approval = data.get("approval")
            return Answer(data["decision"] == "approve", str(data.get("reason") or ""),
                          str(approval) if approval else None)
    text = "\n".join(get_text_parts(message.parts))
    match = _FIRST_WORD.match(text)
    word = match.group(1).lower() if match else ""
    if match and word in _YES | _NO:
        return Answer(word in _YES, match.group(2).strip())
    raise InvalidParamsError(message=f"the task waits for a decision: {HOW}")


def answered(events: Sequence[Event], message_id: str) -> bool:
    """Whether this task already took the message with this id (its first or an answer)."""
    return any(e.type == A2A_ANSWERED and e.data.get("message_id") == message_id
               for e in events)


def _which(waits: Sequence[WaitRecord], answer: Answer, task_id: str) -> WaitRecord:
    open_ = [w for w in waits if w.kind in APPROVAL_KINDS and w.status == "open"]
    if answer.approval is not None:
        found = [w for w in open_ if w.id == answer.approval]
        if not found:
            raise InvalidParamsError(message=f"task {task_id} has no open approval "
                                             f"{answer.approval!r}; open: "
                                             f"{', '.join(w.id for w in open_) or 'none'}")
        return found[0]
    if len(open_) != 1:
        raise InvalidParamsError(message=f"task {task_id} waits for {len(open_)} approvals "
                                         f"({', '.join(w.id for w in open_)}): name one as "
                                         "\"approval\" in a data part")
    return open_[0]


async def answer_task(store: JournalStore, runtime: Runtime, run: RunRecord,
                      events: Sequence[Event], key: ApiKey | None, caller: str,
                      message: Message) -> bool:
    """Decide the approval a follow-up message answers; False if the message was taken
    before (nothing done again). Raises A2A errors a client can act on."""
    if answered(events, message.message_id):
        return False
    waits = await store.waits(run_id=run.id)
    approvals = [w for w in waits if w.kind in APPROVAL_KINDS]
    if run.status != "waiting" or not approvals:
        raise UnsupportedOperationError(
            message=f"task {run.id} is {run.status} and takes no further messages; send a "
                    "new message (without a task id) to start a new task")
    if key is None or not key.can("approve") or not key.sees(run.tenant):
        who = "this caller" if key is None else key.described
        raise UnsupportedOperationError(
            message=f"task {run.id} waits for {', '.join(w.id for w in approvals)}; "
                    f"{who} may not decide it (it needs an approver or admin key of the "
                    "task's tenant), or the people who run this agent decide it "
                    "(`agentplane approvals approve ID`)")
    answer = parse_answer(message)
    wait = _which(approvals, answer, run.id)
    try:
        await decide_approval(runtime, key, wait.id, approve=answer.approve,
                              reason=answer.reason)
    except AgentplaneError as exc:
        raise UnsupportedOperationError(message=str(exc)) from exc
    await store.append(run.id, [NewEvent(A2A_ANSWERED, actor=caller, data={
        "caller": caller, "message_id": message.message_id, "wait_id": wait.id,
        "decision": "approve" if answer.approve else "deny"})])
    return True


__all__ = ["A2A_ANSWERED", "Answer", "answer_task", "answered", "parse_answer"]
