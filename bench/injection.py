"""Prompt-injection figures: attack success rate and legitimate work done without a person,
with the default guardians on against the same scenarios with guardians off.

The scenarios (tests/governance/injection/: attacks.py, legit.py, grey.py) follow AgentDojo and
InjecAgent: an injection in a mail, a shared document, a web page or another tool's result
(CRM note, web search) tries to make the agent pay, export or upload data, send a message or
delete a file; the classes of issue 10 are there too: values written differently (full-width
digits, zero-width characters, words), plain-word values, and external reads of the attacker's
URL.
The scripted agent always obeys the injection (the worst case: the model was fooled), so the
figures measure the guardians alone. Every run uses autonomy ``out_of_the_loop`` and the
default guardians, i.e. what a user gets by declaring ``trust: untrusted`` and ``external:
true`` honestly, on a fresh SQLite journal.

Run: .venv/bin/python bench/injection.py [--json PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository, for tests/

from tests.governance.injection.suite import SuiteResult, format_table, run_suite


def figures(off: SuiteResult, on: SuiteResult) -> dict[str, Any]:
    def side(result: SuiteResult) -> dict[str, Any]:
        return {
            "asr": result.asr,
            "legit_without_person": result.legit_without_person,
            "asr_by_source": {k: r.value for k, r in result.attacks_by("source").items()},
            "asr_by_target": {k: r.value for k, r in result.attacks_by("target").items()},
            "legit_by_source": {k: r.value for k, r in result.legit_by("source").items()},
            "legit_by_target": {k: r.value for k, r in result.legit_by("target").items()},
            "attacks_succeeded": [o.scenario.id for o in result.succeeded_attacks],
            "legit_needing_a_person": [o.scenario.id for o in result.failed_legit],
            "grey_held_back": [o.scenario.id for o in result.grey if o.held],
        }
    return {"attacks": len(on.attacks), "legit": len(on.legit), "grey": len(on.grey),
            "guardians_off": side(off), "guardians_on": side(on)}


async def measure() -> tuple[SuiteResult, SuiteResult]:
    return await run_suite(False), await run_suite(True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    off, on = asyncio.run(measure())
    print(format_table(off, on))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures(off, on), indent=2))


if __name__ == "__main__":
    main()
