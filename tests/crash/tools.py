"""Tools of the crash-test workflow. Each writes what it does to a ledger file, so the test can
count invocations and side effects across processes that were killed at random instants."""

from __future__ import annotations

import os
import time
from pathlib import Path

from agentplane.tools import ToolContext


def _log(line: str) -> None:
    with Path(os.environ["CRASH_LEDGER"]).open("a") as f:
        f.write(line + "\n")


def _effects() -> set[str]:
    path = Path(os.environ["CRASH_LEDGER"])
    return {line.split(" ", 1)[1] for line in path.read_text().splitlines()
            if line.startswith("effect ")} if path.exists() else set()


def lookup(account: str, context: ToolContext) -> dict[str, object]:
    """Read an account (no side effect)."""
    _log(f"invoke lookup {context.step_key}")
    time.sleep(0.004)
    return {"account": account, "balance": 100}


def reserve(item: str, context: ToolContext) -> str:
    """Reserve stock; idempotent by the key Agentplane passes."""
    _log(f"invoke reserve {context.step_key}")
    time.sleep(0.004)
    if f"reserve {context.idempotency_key}" not in _effects():
        _log(f"effect reserve {context.idempotency_key}")
    return f"reserved {item}"


def pay(amount: int, context: ToolContext) -> str:
    """Send money: not idempotent, so it must never run twice by accident."""
    _log(f"invoke pay {context.step_key}")
    time.sleep(0.006)
    _log(f"effect pay {context.step_key}")
    time.sleep(0.004)
    return f"paid {amount}"
