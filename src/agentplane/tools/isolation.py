"""Where a Python tool's code runs: in the runtime's process, or in a process of its own.

Tool code is user code. Whatever it raises — ``SystemExit``, ``KeyboardInterrupt``,
``GeneratorExit``, any ``BaseException`` — is caught and becomes the call's error, in either
mode. Two things no ``except`` can catch, a tool calling ``os._exit`` or crashing the
interpreter (a segfault in a C extension), take down the process the code runs in; so does a
tool that never returns hold its thread. Hence two modes, declared per tool or per workflow:

- ``inline`` (the default): a sync function runs on a thread of its own (an idle one kept from
  an earlier call, or a new one), an async one on the event loop. Cost: a hand-over to that
  thread, tens of microseconds. A hung sync call is abandoned at its timeout (the thread runs
  on, daemonised, until the function returns; no other call waits for it).
- ``process``: each call runs in a fresh child forked from a ``forkserver`` that has the tool
  machinery preloaded; the arguments go over a pipe as JSON and the result comes back as JSON.
  ``os._exit``, a segfault or a hang end that child only: the call fails (or, for a
  non-repeatable write, waits for a person), and a timeout kills it. Cost: a fork and an import
  of the tool's module per call, a few milliseconds to tens of milliseconds.

``inline`` is the default because most tools are trusted code on the hot path, where a durable
step should cost little more than its commit; ``process`` is for code that may hang, crash or
exit (third-party libraries, C extensions, generated code).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing
import multiprocessing.connection
import os
import queue
import signal
import threading
from collections.abc import Callable
from dataclasses import asdict, replace
from enum import StrEnum
from multiprocessing import forkserver, spawn
from pathlib import Path
from typing import Any

from .base import ToolContext, ToolError


class Isolation(StrEnum):
    """Where a Python tool's code runs."""

    INLINE = "inline"
    """In the runtime's process (a thread for sync functions)."""
    PROCESS = "process"
    """In a child process per call."""


class ToolCrashedError(ToolError):
    """The tool's code ended abnormally: it raised a ``BaseException`` that is not an error
    (``SystemExit``, ``KeyboardInterrupt``, ...), or its process exited or was killed. Whether
    its side effect happened is unknown."""


def describe_base_exception(exc: BaseException) -> str:
    """A one-line description of what a tool raised."""
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


async def run_in_thread(fn: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
    """Call a sync function on a thread of its own; any ``BaseException`` it raises comes back
    as a ``ToolCrashedError`` (an ``Exception`` stays itself).

    A daemon thread of its own (``_ToolThreads``), not the shared executor: a call that never
    returns holds only its own thread, and does not keep the process from exiting."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Any] = loop.create_future()

    def settle(ok: bool, value: Any) -> None:
        if future.done():
            return  # abandoned (timed out or cancelled)
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)

    def target() -> None:
        try:
            result = fn(**kwargs)
        except Exception as exc:
            outcome: tuple[bool, Any] = (False, exc)
        except BaseException as exc:  # user code: SystemExit and friends too
            outcome = (False, ToolCrashedError(f"the tool raised {describe_base_exception(exc)}"))
        else:
            outcome = (True, result)
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            loop.call_soon_threadsafe(settle, *outcome)

    _THREADS.submit(target)
    return await future


class _ToolThreads:
    """Daemon threads for sync tool calls, each running one call at a time.

    A call is handed to a thread that is idle, or to a new one when none is: no call ever
    waits behind another, and one that never returns holds only its own thread. A thread that
    finishes a call waits for the next (up to ``keep_idle`` of them), so a busy process does
    not pay a thread start per call (hundreds of microseconds, milliseconds on a loaded
    machine: 40 % of a tool step's time before). A tool's thread-local state may therefore
    outlive a call."""

    def __init__(self, keep_idle: int = 32) -> None:
        self.keep_idle = keep_idle
        self._lock = threading.Lock()
        self._idle = 0
        """Threads waiting for a call, or about to: each takes one queued call."""
        self._calls: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()

    def submit(self, call: Callable[[], None]) -> None:
        with self._lock:
            start = self._idle == 0
            if not start:
                self._idle -= 1
        self._calls.put(call)
        if start:
            threading.Thread(target=self._serve, name="agentplane-tool", daemon=True).start()

    def _serve(self) -> None:
        while True:
            self._calls.get()()
            with self._lock:
                if self._idle >= self.keep_idle:
                    return
                self._idle += 1


_THREADS = _ToolThreads()


# -- process isolation ------------------------------------------------------------------------

_PRELOAD = ["agentplane.tools._warm"]
MAIN_ENV = "AGENTPLANE_FORKSERVER_MAIN"
"""Tells the forkserver which main module to import once (read by ``_warm``)."""
_context: multiprocessing.context.ForkServerContext | None = None


def _forkserver() -> multiprocessing.context.ForkServerContext:
    """The forkserver, started once with the tool machinery warm.

    Every child of a forkserver imports the parent's main module (a CLI script, pytest) before
    running anything, which costs hundreds of milliseconds unless the server imported it first.
    Python 3.11's forkserver is meant to but does not (it looks for a key the preparation data
    does not have, and ignores the parent's ``sys.path``), so ``_warm`` does it, told the path
    and ``sys.path`` through the environment."""
    global _context
    if _context is None:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(_PRELOAD)
        data = spawn.get_preparation_data("agentplane-tool")
        if data.get("init_main_from_path"):
            os.environ[MAIN_ENV] = json.dumps({"main": data["init_main_from_path"],
                                               "sys_path": data.get("sys_path", [])})
        try:
            forkserver.ensure_running()
        finally:
            os.environ.pop(MAIN_ENV, None)
        _context = context
    return _context


def _child(conn: multiprocessing.connection.Connection, ref: str, folder: str, name: str,
           arguments_json: str, context_json: str) -> None:
    """The child's side: import the tool, call it once, send back JSON (never pickle)."""
    # A tool's own KeyboardInterrupt is caught below; a Ctrl-C meant for the parent is not ours.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from .python import call_inline, import_function

    try:
        fn = import_function(ref, Path(folder))
        context = ToolContext(**json.loads(context_json))
        value = asyncio.run(call_inline(fn, name, json.loads(arguments_json), context))
        reply: dict[str, Any] = {"ok": True, "value": value}
    except ToolError as exc:
        reply = {"ok": False, "error": str(exc), "kind": type(exc).__name__}
    except BaseException as exc:  # report everything, exit cleanly
        reply = {"ok": False, "error": describe_base_exception(exc), "kind": "crash"}
    # ensure_ascii keeps lone surrogates as escapes: the journal's boundary replaces them.
    conn.send_bytes(json.dumps(reply, ensure_ascii=True, allow_nan=False).encode())
    conn.close()


def _exit_text(code: int | None) -> str:
    if code is None:
        return "did not exit"
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"was killed by signal {signal.Signals(-code).name}"
        return f"was killed by signal {-code}"
    return f"exited with code {code}"


async def run_in_process(ref: str, folder: Path, name: str, arguments: dict[str, Any],
                         context: ToolContext) -> Any:
    """Call tool ``ref`` (``module:function`` in ``folder``) in a child process.

    Cancelling the returned coroutine (a timeout, a cancelled run) kills the child."""
    ctx = _forkserver()
    receiver, sender = ctx.Pipe(duplex=False)
    process = ctx.Process(
        target=_child, name=f"agentplane-tool-{name}", daemon=True,
        args=(sender, ref, str(folder), name, json.dumps(arguments, ensure_ascii=True),
              json.dumps(asdict(replace(context, sample=None, ask=None)))))
    loop = asyncio.get_running_loop()
    try:
        await asyncio.to_thread(process.start)
        sender.close()
        readable: asyncio.Future[None] = loop.create_future()

        def on_readable() -> None:
            if not readable.done():
                readable.set_result(None)

        loop.add_reader(receiver.fileno(), on_readable)
        try:
            await readable
        finally:
            loop.remove_reader(receiver.fileno())
        try:
            raw = receiver.recv_bytes()
        except (EOFError, OSError):
            await asyncio.to_thread(process.join, 5)
            raise ToolCrashedError(f"the tool's process {_exit_text(process.exitcode)} "
                                   "before it answered") from None
        reply = json.loads(raw)
    finally:
        if process.is_alive():
            process.kill()
        with contextlib.suppress(ValueError):  # never started
            await asyncio.to_thread(process.join, 5)
        with contextlib.suppress(ValueError):
            process.close()
        receiver.close()
        sender.close()
    if reply["ok"]:
        return reply["value"]
    if reply.get("kind") == "crash":
        raise ToolCrashedError(f"the tool raised {reply['error']}")
    raise ToolError(str(reply["error"]))
