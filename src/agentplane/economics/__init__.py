"""The economics model: what a GPU-hour, a million tokens, a user and a kWh cost.

From SPEC.md "Metering and economics" and the seed tables it cites; ``docs/economics.md`` has
the formulas and the tables reproduced. ``model`` is pure arithmetic, ``scenario`` reads YAML
scenario files, ``render`` draws terminal tables.
"""

from .model import (
    Accelerator,
    AcceleratorEconomics,
    Application,
    ApplicationEconomics,
    Cloud,
    CloudEconomics,
    EconomicsReport,
    Fleet,
    FleetEconomics,
    MissingInputError,
    Server,
    ServerEconomics,
    capital_recovery_per_month,
    cost_per_million_tokens,
    energy_kwh_per_million_tokens,
    server_economics,
    wacc,
)
from .scenario import (
    Scenario,
    ScenarioError,
    compute,
    load_scenario,
    parse_scenario,
    parse_server,
)

__all__ = [
    "Accelerator",
    "AcceleratorEconomics",
    "Application",
    "ApplicationEconomics",
    "Cloud",
    "CloudEconomics",
    "EconomicsReport",
    "Fleet",
    "FleetEconomics",
    "MissingInputError",
    "Scenario",
    "ScenarioError",
    "Server",
    "ServerEconomics",
    "capital_recovery_per_month",
    "compute",
    "cost_per_million_tokens",
    "energy_kwh_per_million_tokens",
    "load_scenario",
    "parse_scenario",
    "parse_server",
    "server_economics",
    "wacc",
]
