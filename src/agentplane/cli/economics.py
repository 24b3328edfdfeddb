"""``agentplane economics SCENARIO.yaml [--json]``: the economics model over a scenario file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from . import render


def economics(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML file (see "
                                             "examples/economics/).", show_default=False)],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON: exact figures in base "
                                          "units (USD, fractions, kWh, kg).")] = False,
) -> None:
    """Unit economics of AI infrastructure: cost per GPU-hour and per million tokens, margins,
    cloud TCO by cost of capital, accelerators per TCO, energy and carbon."""
    from agentplane.economics import compute, load_scenario
    from agentplane.economics.render import report_tables

    report = compute(load_scenario(scenario))
    if as_json:
        print(render.dump_json(report.to_json()))
        return
    out = render.console()
    for table in report_tables(report):
        out.print(table)
