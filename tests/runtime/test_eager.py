"""A call's coroutine started at once, as its own task: its result at once when it answers
without waiting, its task to wait for when it waits (``runtime.eager``)."""

from __future__ import annotations

import asyncio
import contextvars

import anyio
import pytest

from agentplane.runtime.eager import start

seen: contextvars.ContextVar[str] = contextvars.ContextVar("seen", default="caller")


async def answers_at_once() -> asyncio.Task[object] | None:
    seen.set("call")
    return asyncio.current_task()


async def waits_then_answers() -> tuple[str, bool]:
    seen.set("call")
    first = asyncio.current_task()
    await asyncio.sleep(0.01)
    return seen.get(), asyncio.current_task() is first  # its own context and task, still


async def fails_at_once() -> None:
    raise ValueError("bad input")


async def waits_long(log: list[str]) -> None:
    try:
        await asyncio.sleep(30)
    finally:
        log.append("cleaned up")


async def test_an_answer_without_waiting_comes_at_once_from_the_calls_own_task() -> None:
    value, task = start(answers_at_once())
    assert task is None
    assert value is not None and value is not asyncio.current_task()  # its own task
    assert seen.get() == "caller"  # the call's context is a copy, as a task's is
    await asyncio.sleep(0)
    assert value.done() and value.result() is None  # and that task ends on its own, quietly


async def test_a_call_that_waits_goes_on_as_a_task_in_its_own_context() -> None:
    value, task = start(waits_then_answers())
    assert value is None and task is not None
    done, _ = await asyncio.wait({task}, timeout=5)
    assert done == {task} and task.result() == ("call", True)
    assert seen.get() == "caller"


async def test_what_the_first_step_raises_is_raised_at_once() -> None:
    with pytest.raises(ValueError, match="bad input"):
        start(fails_at_once())


@pytest.mark.parametrize("step_first", [False, True])
async def test_cancelling_the_task_cancels_the_call_where_it_waits(step_first: bool) -> None:
    """Also before the task took its first step: the call is already waiting inside, and its
    clean-up (killing a tool's process) must run."""
    log: list[str] = []
    _, task = start(waits_long(log))
    assert task is not None
    if step_first:
        await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert log == ["cleaned up"]


async def test_an_awaitable_that_is_no_coroutine_is_a_task() -> None:
    future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    value, task = start(future)
    assert value is None and task is not None
    future.set_result(7)
    assert await task == 7


async def keeps_a_cancel_scope() -> str:
    with anyio.CancelScope():  # entered in the first step, left in the task: one task
        await asyncio.sleep(0.01)
    return "left"


async def test_per_task_state_sees_one_task_across_the_calls_awaits() -> None:
    _, task = start(keeps_a_cancel_scope())
    assert task is not None
    assert await task == "left"
