"""Imported once by the forkserver of process-isolated tools (see ``isolation``), never by the
runtime: it imports the parent's main module and pays the first-use costs of pydantic
(building a validator: ~0.1 s) and asyncio in the server, so every child forked from it starts
warm and a call costs milliseconds."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from multiprocessing import spawn

from .base import ToolContext
from .python import call_inline


async def _sample(text: str, count: int = 1) -> dict[str, object]:
    return {"text": text, "count": count}


_main = json.loads(os.environ.get("AGENTPLANE_FORKSERVER_MAIN") or "{}")
if _main:
    sys.path[:] = _main["sys_path"]
    with contextlib.suppress(Exception):  # then each child imports it itself: slower, not wrong
        spawn.import_main_path(_main["main"])
asyncio.run(call_inline(_sample, "_sample", {"text": "warm"},
                        ToolContext("warm", "warm", "warm", "warm", "_sample", 1)))
