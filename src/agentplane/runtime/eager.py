"""Start a call's coroutine at once, and wait for its task only if it has to wait.

A tool call runs as a task of its own, so the runtime can give up on it at its timeout or when
the run is cancelled. Many calls never wait (an async function that computes its answer, a
memory lookup): for those, waiting for the task with a timeout, and the event-loop rounds
that takes, are all overhead. ``start`` makes the call's task and runs its first step at once,
as that task (``asyncio.current_task()`` is the call's own task, as libraries that keep
per-task state need) and in the task's context — what ``asyncio.eager_task_factory`` does
from Python 3.12 on, for this one call. A call that finished in it gives its result (or
raises) at once; one that waits goes on in its task, which the caller awaits as before.
"""

from __future__ import annotations

import asyncio
import contextvars
from asyncio.tasks import _enter_task, _leave_task
from collections.abc import Awaitable, Coroutine, Generator
from types import CoroutineType
from typing import Any

_NOTHING = object()


class _Started(Coroutine[Any, Any, Any]):
    """What the call's task drives: a coroutine whose first step ran already. The task's
    first ``send`` hands on what that step yielded (or ends the task when the call finished
    in it); everything after goes to the coroutine — ``throw`` too, at any time, so a
    cancelled task cancels the call where it waits."""

    __slots__ = ("_coro", "_ended", "_first")

    def __init__(self, coro: Coroutine[Any, Any, Any]) -> None:
        self._coro = coro
        self._first: Any = _NOTHING
        self._ended = True  # until the first step says otherwise

    def step(self) -> tuple[bool, Any]:
        """The coroutine's first step: ``(True, result)`` when it finished, else
        ``(False, None)``; what it raises is raised (its task then ends with nothing)."""
        try:
            self._first = self._coro.send(None)
        except StopIteration as stop:
            return True, stop.value
        self._ended = False
        return False, None

    def __await__(self) -> Generator[Any, Any, Any]:
        raise TypeError("a started call is driven by its task, not awaited")

    def send(self, value: Any) -> Any:
        first, self._first = self._first, _NOTHING
        if first is not _NOTHING:
            return first
        if self._ended:  # the call finished (or failed) in the first step
            raise StopIteration(None)
        return self._coro.send(value)

    def throw(self, *exc: Any) -> Any:
        self._first = _NOTHING
        return self._coro.throw(*exc)

    def close(self) -> None:
        self._coro.close()


def start(call: Awaitable[Any]) -> tuple[Any, asyncio.Future[Any] | None]:
    """``(result, None)`` when ``call`` (a coroutine) finished in its first step; else
    ``(None, task)``, the task going on with it. What the first step raises is raised here.
    An awaitable that is not a coroutine (a future, ...) is made a task as ever."""
    if not isinstance(call, CoroutineType):
        return None, asyncio.ensure_future(call)
    loop = asyncio.get_running_loop()
    started = _Started(call)
    context = contextvars.copy_context()
    task = loop.create_task(started, context=context)
    caller = asyncio.current_task(loop)
    if caller is not None:
        _leave_task(loop, caller)
    _enter_task(loop, task)
    try:
        finished, value = context.run(started.step)
    finally:
        _leave_task(loop, task)
        if caller is not None:
            _enter_task(loop, caller)
    return (value, None) if finished else (None, task)
