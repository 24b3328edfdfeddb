"""A non-idempotent write that kills its own process while a file named by $CRASH_FLAG exists:
a crash in the middle of a call, so the run needs a person to reconcile it."""

from __future__ import annotations

import os
import signal
from pathlib import Path


def write_note(text: str) -> str:
    """Write a note somewhere outside Agentplane."""
    flag = os.environ.get("CRASH_FLAG")
    if flag and Path(flag).exists():
        os.kill(os.getpid(), signal.SIGKILL)
    return f"wrote {text}"
