"""Run every benchmark and print one table (and bench/out/results.json).

Each figure is measured against a baseline measured in the same run, because these machines are
noisy: compare ratios, not absolute numbers, across machines.

Run: make bench   (installs LangGraph for the comparison, then runs this)
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import api_load
import audit_verify
import concurrency
import eval_throughput
import growth
import live_memory
import metering
import scale_runs
import startup
import step_cost
import usage_report
from _common import Figure, print_figures, save


def main() -> None:
    figures: list[Figure] = []
    figures += step_cost.run(5000)
    for steps in (50, 100, 200):
        figures += growth.run(steps)
    figures += concurrency.run(1000)
    figures += scale_runs.run()
    figures += live_memory.run()
    figures += metering.run(1_000_000)
    figures += usage_report.run(100_000)
    figures += audit_verify.run(1_800_000)
    figures += api_load.run()
    figures += eval_throughput.run(1000)
    figures += startup.run()
    if importlib.util.find_spec("agentdojo") is not None:  # the agentdojo extra
        import agentdojo_bench
        figures += agentdojo_bench.run()
    print_figures(figures)
    save(figures, Path(__file__).parent / "out" / "results.json")


if __name__ == "__main__":
    main()
