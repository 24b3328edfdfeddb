"""Start a call's coroutine at once, and make it a task only if it has to wait.

A tool call runs as a task of its own, so the runtime can give up on it at its timeout or when
the run is cancelled. Many calls never wait (an async function that computes its answer, a
memory lookup): for those a task, a wait with a timeout and the event-loop rounds between them
are all overhead. ``start`` runs the coroutine's first step now, in a copy of the current
context as a task would; a coroutine that finishes in it gives its result (or raises) without
any task, and one that waits continues as a task in that same context — what
``asyncio.eager_task_factory`` does from Python 3.12 on, for this one call.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Coroutine, Generator
from types import CoroutineType
from typing import Any


class _Started(Coroutine[Any, Any, Any]):
    """A coroutine whose first step already ran and yielded ``first``, for a task to drive:
    the first ``send`` hands ``first`` on, everything after goes to the coroutine — ``throw``
    too, at any time, so a cancelled task cancels the call where it waits."""

    __slots__ = ("_coro", "_first")

    def __init__(self, coro: Coroutine[Any, Any, Any], first: Any) -> None:
        self._coro = coro
        self._first: tuple[Any] | None = (first,)

    def __await__(self) -> Generator[Any, Any, Any]:
        raise TypeError("a started call is driven by its task, not awaited")

    def send(self, value: Any) -> Any:
        if self._first is not None:
            first, self._first = self._first[0], None
            return first
        return self._coro.send(value)

    def throw(self, *exc: Any) -> Any:
        self._first = None
        return self._coro.throw(*exc)

    def close(self) -> None:
        self._coro.close()


def start(call: Awaitable[Any]) -> tuple[Any, asyncio.Future[Any] | None]:
    """``(result, None)`` when ``call`` (a coroutine) finished in its first step; else
    ``(None, task)``, the task going on with it. What the first step raises is raised here.
    An awaitable that is not a coroutine (a future, ...) is made a task as ever."""
    if not isinstance(call, CoroutineType):
        return None, asyncio.ensure_future(call)
    context = contextvars.copy_context()
    try:
        first = context.run(call.send, None)
    except StopIteration as stop:
        return stop.value, None
    task = asyncio.get_running_loop().create_task(_Started(call, first), context=context)
    return None, task
