"""Autonomy levels: how much a workflow, agent or tool may do without a person.

- ``in_the_loop``: every ``write`` or ``irreversible`` call waits for a person's approval;
- ``on_the_loop``: ``write`` calls run and people are notified (they may halt the run or reverse
  the call); ``irreversible`` calls still wait for approval;
- ``out_of_the_loop``: guardians alone decide; a person is called only when a guardian asks for
  one or the agent is stuck.

A level may be set on the workflow, an agent and a tool; the most restrictive one applies.
"""

from __future__ import annotations

from enum import StrEnum

from agentplane.tools import Effect


class Autonomy(StrEnum):
    IN_THE_LOOP = "in_the_loop"
    ON_THE_LOOP = "on_the_loop"
    OUT_OF_THE_LOOP = "out_of_the_loop"


_RESTRICTIVENESS = {Autonomy.IN_THE_LOOP: 2, Autonomy.ON_THE_LOOP: 1, Autonomy.OUT_OF_THE_LOOP: 0}


def most_restrictive(*levels: Autonomy | None) -> Autonomy:
    """The level that applies when several are set (unset ones are ignored)."""
    given = [level for level in levels if level is not None]
    return max(given, key=_RESTRICTIVENESS.__getitem__) if given else Autonomy.ON_THE_LOOP


def needs_approval(level: Autonomy, effect: Effect) -> bool:
    """Whether a call with this side effect waits for a person at this level."""
    if effect is Effect.READ:
        return False
    if level is Autonomy.IN_THE_LOOP:
        return True
    return level is Autonomy.ON_THE_LOOP and effect is Effect.IRREVERSIBLE


def notifies(level: Autonomy, effect: Effect) -> bool:
    """Whether a call runs at once but people are told (on the loop, ``write`` calls)."""
    return level is Autonomy.ON_THE_LOOP and effect is Effect.WRITE
