"""Tools of the crash-test workflow. Each writes what it does to a ledger file, so the test can
count invocations and side effects across processes that were killed at random instants."""

from __future__ import annotations

import os
import time
from pathlib import Path

from agentplane.tools import ToolContext


def ledger(run_id: str) -> Path:
    """The ledger file: one per run in ``$CRASH_LEDGER_DIR`` (many runs share the workers of
    a fleet), else ``$CRASH_LEDGER``."""
    folder = os.environ.get("CRASH_LEDGER_DIR")
    return Path(folder) / f"{run_id}.txt" if folder else Path(os.environ["CRASH_LEDGER"])


def _log(context: ToolContext, line: str) -> None:
    with ledger(context.run_id).open("a") as f:
        f.write(line + "\n")


def _effects(context: ToolContext) -> set[str]:
    path = ledger(context.run_id)
    return {line.split(" ", 1)[1] for line in path.read_text().splitlines()
            if line.startswith("effect ")} if path.exists() else set()


def lookup(account: str, context: ToolContext) -> dict[str, object]:
    """Read an account (no side effect)."""
    _log(context, f"invoke lookup {context.step_key}")
    time.sleep(0.004)
    return {"account": account, "balance": 100}


def reserve(item: str, context: ToolContext) -> str:
    """Reserve stock; idempotent by the key Agentplane passes."""
    _log(context, f"invoke reserve {context.step_key}")
    time.sleep(0.004)
    if f"reserve {context.idempotency_key}" not in _effects(context):
        _log(context, f"effect reserve {context.idempotency_key}")
    return f"reserved {item}"


def pay(amount: int, context: ToolContext) -> str:
    """Send money: not idempotent, so it must never run twice by accident."""
    _log(context, f"invoke pay {context.step_key}")
    time.sleep(0.006)
    _log(context, f"effect pay {context.step_key}")
    time.sleep(0.004)
    return f"paid {amount}"
