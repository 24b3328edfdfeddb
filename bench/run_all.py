"""Run every benchmark and print one table (and bench/out/results.json).

Each figure is measured against a baseline measured in the same run, because these machines are
noisy: compare ratios, not absolute numbers, across machines.

Each benchmark runs in a process of its own, so no figure depends on what ran before it in the
same interpreter (the heap an earlier bench left, the collector policy the runtime applies
once per process): in one interpreter LangGraph's loop measured 10-17 % slower after
``step_cost`` than in a fresh process.

Run: make bench   (installs LangGraph for the comparison, then runs this)
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import Figure, print_figures, save

HERE = Path(__file__).parent

BENCHES: list[tuple[str, tuple[int, ...]]] = [
    ("step_cost", (5000,)),
    ("growth", (50,)), ("growth", (100,)), ("growth", (200,)),
    ("concurrency", (1000,)),
    ("scale_runs", ()),
    ("live_memory", ()),
    ("metering", (1_000_000,)),
    ("usage_report", (100_000,)),
    ("audit_verify", (1_800_000,)),
    ("api_load", ()),
    ("eval_throughput", (1000,)),
    ("startup", ()),
]
"""Each bench's module and the arguments of its ``run``, in the order they run."""

_CHILD = """
import json, sys
from dataclasses import asdict
sys.path.insert(0, sys.argv[1])
module = __import__(sys.argv[2])
figures = module.run(*json.loads(sys.argv[3]))
with open(sys.argv[4], "w", encoding="utf-8") as out:
    json.dump([asdict(f) for f in figures], out)
"""


def run_alone(module: str, args: tuple[int, ...]) -> list[Figure]:
    """``module.run(*args)`` in a fresh interpreter; its figures. A bench that fails stops the
    whole run, with the bench's own output above the error."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "figures.json"
        subprocess.run([sys.executable, "-c", _CHILD, str(HERE), module, json.dumps(args),
                        str(out)], check=True)
        return [Figure(**f) for f in json.loads(out.read_text(encoding="utf-8"))]


def main() -> None:
    benches = list(BENCHES)
    if importlib.util.find_spec("agentdojo") is not None:  # the agentdojo extra
        benches.append(("agentdojo_bench", ()))
    figures: list[Figure] = []
    for module, args in benches:
        print(f"-- {module} {' '.join(map(str, args))}".rstrip(), flush=True)
        figures += run_alone(module, args)
    print_figures(figures)
    save(figures, HERE / "out" / "results.json")


if __name__ == "__main__":
    main()
