"""Running the ``agentplane`` console script as a person does: a real process, a clean
environment of its own, a real SQLite journal."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentplane.demo import WORKFLOWS_DIR

AGENTPLANE = str(Path(sys.executable).with_name("agentplane"))
REPO = Path(__file__).resolve().parents[2]
REFUND = REPO / "examples" / "refund-desk" / "workflow.yaml"
STUCK = WORKFLOWS_DIR / "stuck-agent.yaml"
USER = "cli-tester"
DEMO_WORKFLOWS = ["refund-desk", "research-team", "incident-triage", "support-handoff",
                  "stuck-agent", "payment-approval", "injected-mail", "budget-cap",
                  "verified-answer", "labelled-report", "private-router"]
DEMO_TRIGGERED = ["nightly-digest", "nightly-digest"]
"""The demo's triggers part (cli/demo_triggers.py): a schedule's fire, a deferred run."""
DEMO_COMPLETED = ["refund-desk", "research-team", "incident-triage", "support-handoff",
                  "injected-mail", "verified-answer", "labelled-report", "private-router"]
DEMO_WAITING = {"stuck-agent", "payment-approval", "budget-cap"}
DEMO_ERASED = ["care-desk"]
"""The compliance part's run whose customer the demo erases (cli/demo_compliance.py)."""
DEMO_RUNS = len(DEMO_WORKFLOWS) + len(DEMO_TRIGGERED) + len(DEMO_ERASED)
"""Runs a demo makes: one per demo workflow, the triggers part's and the erased one."""
STUCK_OUTPUT = "Ticket T-9 is still pending; I will stop polling and report back."

Result = subprocess.CompletedProcess[str]


@dataclass
class Cli:
    """Runs ``agentplane`` in a clean environment of its own."""

    home: Path
    db: Path | None = None
    columns: int = 1000
    """The terminal width the CLI is told (``COLUMNS``); wide, so lines are not wrapped."""

    @property
    def db_url(self) -> str:
        assert self.db is not None
        return f"sqlite:///{self.db}"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("AGENTPLANE_") and k not in ("FORCE_COLOR", "REFUND_LEDGER")}
        env.update(AGENTPLANE_HOME=str(self.home), AGENTPLANE_USER=USER,
                   REFUND_LEDGER=str(self.home / "ledger.jsonl"),
                   COLUMNS=str(self.columns))
        if self.db is not None:
            env["AGENTPLANE_DB"] = self.db_url
        return env

    def __call__(self, *args: str | Path | bytes, stdin: str | None = None) -> Result:
        argv = [AGENTPLANE, *(a if isinstance(a, bytes) else str(a) for a in args)]
        return subprocess.run(argv, env=self.env(), cwd=self.home, input=stdin,
                              capture_output=True, text=True, timeout=120, check=False)

    def ok(self, *args: str | Path | bytes, stdin: str | None = None) -> Result:
        result = self(*args, stdin=stdin)
        assert result.returncode == 0, (args, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr
        return result

    def json(self, *args: str | Path, stdin: str | None = None) -> Any:
        return json.loads(self.ok(*args, "--json", stdin=stdin).stdout)


def failed(result: Result, code: int) -> str:
    """Assert a clean failure: the exit code, one paragraph on stderr, no traceback.

    Returns the message with its line breaks folded into spaces."""
    assert result.returncode == code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    text = result.stderr.strip()
    assert text.startswith("error: "), text
    assert "\n\n" not in text, text
    return " ".join(text.split())


def make_cli(folder: Path, *, db: bool = True) -> Cli:
    folder.mkdir(parents=True, exist_ok=True)
    return Cli(home=folder, db=folder / "x.db" if db else None)
