"""An ``EconomicsReport`` as terminal tables: one per section, a column per item, a row per
figure (the layout of the seed tables), rounded for reading. ``--json`` has the exact numbers."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, TypeVar

from rich import box
from rich.markup import escape
from rich.table import Table

from .model import (
    AcceleratorEconomics,
    ApplicationEconomics,
    CloudEconomics,
    EconomicsReport,
    FleetEconomics,
    ServerEconomics,
)

R = TypeVar("R")
Getter = Callable[[R], float | None]
Row = tuple[str, str, Getter[R], Callable[[float], str]]


def fixed(value: float, places: int) -> str:
    """``value`` to ``places`` decimals, thousands separated, halves rounded up as people (and
    spreadsheets) do: 0.1325 → 13.3% although the float is 0.13249999…."""
    exact = Decimal(f"{value:.12g}")
    return f"{exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP):,.{places}f}"


def usd(value: float) -> str:
    """$246,391 for large amounts, $0.88 for small ones, $0.0012 for tiny ones."""
    sign = "-" if value < 0 else ""
    v = abs(value)
    if v >= 1000:
        return f"{sign}${fixed(v, 0)}"
    if 0 < v < 0.01:
        return f"{sign}${v:.2g}"
    return f"{sign}${fixed(v, 2)}"


def percent(value: float) -> str:
    """A fraction as a percentage with one decimal: 0.5897 → 59.0%."""
    return f"{fixed(value * 100, 1)}%"


def number(value: float) -> str:
    """Thousands separated at 100 and above; three significant digits below: 8.125 → 8.13."""
    if abs(value) >= 100 or value == 0:
        return fixed(value, 0)
    places = max(0, 2 - Decimal(f"{value:.12g}").adjusted())
    text = fixed(value, places)
    return text.rstrip("0").rstrip(".") if "." in text else text


def _scaled(value: float, units: Sequence[tuple[float, str]]) -> str:
    """In the largest unit the value reaches (0 in the base unit, scale 1)."""
    if value == 0:
        scale, unit = next((s, u) for s, u in units if s == 1.0)
    else:
        scale, unit = next(((s, u) for s, u in units if abs(value) >= s), units[-1])
    return f"{number(value / scale)} {unit}"


def energy(kwh: float) -> str:
    """kWh in the most readable unit: 3.12 GWh, 1.14 TWh, 307 Wh."""
    return _scaled(kwh, [(1e9, "TWh"), (1e6, "GWh"), (1e3, "MWh"), (1.0, "kWh"), (1e-3, "Wh")])


def power(kw: float) -> str:
    """kW in the most readable unit: 130 MW."""
    return _scaled(kw, [(1e6, "GW"), (1e3, "MW"), (1.0, "kW"), (1e-3, "W")])


def mass(kg: float) -> str:
    """kg of CO₂ in the most readable unit: 455,520 t, 123 g."""
    return _scaled(kg, [(1e3, "t"), (1.0, "kg"), (1e-3, "g")])


def _table(title: str, items: Sequence[R], rows: Sequence[Row[R]],
           name: Callable[[R], str]) -> Table:
    table = Table(title=title, title_justify="left", title_style="bold", box=box.SIMPLE_HEAD,
                  header_style="bold")
    table.add_column("", no_wrap=True)
    table.add_column("unit", style="dim", no_wrap=True)
    for item in items:
        table.add_column(escape(name(item)), justify="right")
    for label, unit, get, fmt in rows:
        values = [get(item) for item in items]
        if all(v is None for v in values):
            continue  # an optional figure no item has
        table.add_row(label, unit, *("—" if v is None else fmt(v) for v in values))
    return table


SERVER_ROWS: list[Row[ServerEconomics]] = [
    ("Total server capital cost", "USD/server", lambda s: s.inputs.capital_cost_usd, usd),
    ("GPUs", "per server", lambda s: s.inputs.gpus, number),
    ("Useful life", "years", lambda s: s.inputs.useful_life_years, lambda v: f"{v:.1f}"),
    ("Depreciation expense", "USD/hr/GPU", lambda s: s.depreciation_per_gpu_hour_usd, usd),
    ("Colocation cost", "USD/kW/month", lambda s: s.inputs.colocation_usd_per_kw_month, usd),
    ("Electricity cost", "USD/kWh", lambda s: s.inputs.power_usd_per_kwh, lambda v: f"${v:.3f}"),
    ("Power per GPU (IT)", "kW", lambda s: s.inputs.kw_per_gpu, lambda v: f"{v:g}"),
    ("PUE", "", lambda s: s.inputs.pue, lambda v: f"{v:g}"),
    ("  colocation", "USD/hr/GPU", lambda s: s.colocation_cost_per_gpu_hour_usd, usd),
    ("  electricity", "USD/hr/GPU", lambda s: s.power_cost_per_gpu_hour_usd, usd),
    ("Operating cost", "USD/hr/GPU", lambda s: s.operating_cost_per_gpu_hour_usd, usd),
    ("Total variable cost", "USD/hr/GPU", lambda s: s.total_cost_per_gpu_hour_usd, usd),
    ("Rental price (revenue)", "USD/hr/GPU", lambda s: s.inputs.rental_price_per_gpu_hour_usd,
     usd),
    ("IaaS gross profit", "USD/hr/GPU", lambda s: s.iaas_gross_profit_per_gpu_hour_usd, usd),
    ("IaaS gross margin", "%", lambda s: s.iaas_gross_margin, percent),
    ("Inference throughput", "tokens/s/GPU",
     lambda s: s.inputs.throughput_tokens_per_second_per_gpu, number),
    ("Owner's cost of tokens", "USD/M tok", lambda s: s.own_cost_per_million_tokens_usd, usd),
    ("Inference compute cost", "USD/M tok", lambda s: s.compute_cost_per_million_tokens_usd, usd),
    ("API blended price", "USD/M tok", lambda s: s.inputs.api_price_per_million_tokens_usd, usd),
    ("Model gross margin", "%", lambda s: s.model_gross_margin, percent),
    ("Energy per GPU-hour", "facility", lambda s: s.energy_kwh_per_gpu_hour, energy),
    ("Energy per million tokens", "facility", lambda s: s.energy_kwh_per_million_tokens, energy),
]

APPLICATION_ROWS: list[Row[ApplicationEconomics]] = [
    ("Tokens per user", "tok/user/month", lambda a: a.inputs.tokens_per_user_per_month, number),
    ("Average revenue per user", "USD/month", lambda a: a.inputs.revenue_per_user_per_month_usd,
     usd),
    ("3P token unit cost", "USD/M tok",
     lambda a: a.third_party_token_unit_cost_per_million_tokens_usd, usd),
    ("3P token cost per user", "USD/month",
     lambda a: a.third_party_token_cost_per_user_per_month_usd, usd),
    ("3P gross profit per user", "USD/month",
     lambda a: a.third_party_gross_profit_per_user_per_month_usd, usd),
    ("3P application gross margin", "%", lambda a: a.third_party_gross_margin, percent),
    ("1P token unit cost", "USD/M tok",
     lambda a: a.first_party_token_unit_cost_per_million_tokens_usd, usd),
    ("1P token cost per user", "USD/month",
     lambda a: a.first_party_token_cost_per_user_per_month_usd, usd),
    ("1P gross profit per user", "USD/month",
     lambda a: a.first_party_gross_profit_per_user_per_month_usd, usd),
    ("1P application gross margin", "%", lambda a: a.first_party_gross_margin, percent),
]

CLOUD_ROWS: list[Row[CloudEconomics]] = [
    ("Equity cost of capital", "%", lambda c: c.inputs.cost_of_equity, percent),
    ("Debt cost of capital", "%", lambda c: c.inputs.cost_of_debt, percent),
    ("Equity funding", "%", lambda c: c.inputs.equity_share, percent),
    ("Weighted average cost of capital", "%", lambda c: c.wacc, percent),
    ("Server capital cost", "USD", lambda c: c.inputs.capital_cost_usd, usd),
    ("Useful life", "years", lambda c: c.inputs.useful_life_years, lambda v: f"{v:.1f}"),
    ("Total server capital costs", "USD/month", lambda c: c.server_capital_cost_per_month_usd,
     usd),
    ("Total operating costs", "USD/month", lambda c: c.operating_cost_per_month_usd, usd),
    ("Total cost of ownership", "USD/month", lambda c: c.tco_per_month_usd, usd),
    ("Capital cost per GPU", "USD/hr", lambda c: c.capital_cost_per_gpu_hour_usd, usd),
    ("Hosting cost per GPU", "USD/hr", lambda c: c.hosting_cost_per_gpu_hour_usd, usd),
    ("Total cost per GPU", "USD/hr", lambda c: c.tco_per_gpu_hour_usd, usd),
    ("Capital cost share of TCO", "%", lambda c: c.capital_share_of_tco, percent),
]

FLEET_ROWS: list[Row[FleetEconomics]] = [
    ("Servers", "", lambda f: f.inputs.servers, number),
    ("Power per server (IT)", "", lambda f: f.inputs.kw_per_server, power),
    ("PUE", "", lambda f: f.inputs.pue, lambda v: f"{v:g}"),
    ("IT power", "", lambda f: f.it_power_kw, power),
    ("Facility power", "", lambda f: f.facility_power_kw, power),
    ("Energy per day", "", lambda f: f.energy_kwh_per_day, energy),
    ("Energy per year", "", lambda f: f.energy_kwh_per_year, energy),
    ("  of which IT", "", lambda f: f.it_energy_kwh_per_year, energy),
    ("  of which overhead", "", lambda f: f.overhead_energy_kwh_per_year, energy),
    ("Grid intensity", "kg CO₂/kWh", lambda f: f.inputs.grid_kg_co2_per_kwh, lambda v: f"{v:g}"),
    ("CO₂ per day", "", lambda f: f.co2_kg_per_day, mass),
    ("CO₂ per year", "", lambda f: f.co2_kg_per_year, mass),
    ("Energy per million tokens", "", lambda f: f.energy_kwh_per_million_tokens, energy),
    ("Energy per request", "", lambda f: f.energy_kwh_per_request, energy),
    ("CO₂ per million tokens", "", lambda f: f.co2_kg_per_million_tokens, mass),
    ("CO₂ per request", "", lambda f: f.co2_kg_per_request, mass),
]


def _precisions(accs: Sequence[AcceleratorEconomics]) -> list[str]:
    seen: dict[str, None] = {}
    for a in accs:
        seen.update(dict.fromkeys(a.inputs.tflops))
    return list(seen)


def _accelerator_rows(accs: Sequence[AcceleratorEconomics]) -> list[Row[AcceleratorEconomics]]:
    precisions = _precisions(accs)

    def tflops(p: str) -> Getter[AcceleratorEconomics]:
        return lambda a: a.inputs.tflops.get(p)

    def per_pflop(p: str) -> Getter[AcceleratorEconomics]:
        return lambda a: a.cost_per_pflop_hour_usd.get(p)

    def intensity(p: str) -> Getter[AcceleratorEconomics]:
        return lambda a: a.tflops_per_tb_per_s.get(p)

    rows: list[Row[AcceleratorEconomics]] = [
        ("Total cost per unit per hour", "USD/hr", lambda a: a.inputs.cost_per_hour_usd, usd)]
    rows += [(f"Marketed TFLOPS ({p})", "TFLOPS", tflops(p), number) for p in precisions]
    rows += [("Memory bandwidth", "TB/s", lambda a: a.inputs.memory_bandwidth_tb_per_s, number),
             ("Memory capacity", "GB", lambda a: a.inputs.memory_gb, number)]
    rows += [(f"TFLOPS ({p}) / memory bandwidth", "TFLOPS/TB/s", intensity(p), number)
             for p in precisions]
    rows += [(f"TCO per marketed {p} dense PFLOP", "$/hr per PFLOP", per_pflop(p), usd)
             for p in precisions]
    rows += [("TCO per memory bandwidth", "$/hr per TB/s", lambda a: a.cost_per_tb_per_s_hour_usd,
              usd),
             ("TCO per memory capacity", "$/hr per TB", lambda a: a.cost_per_tb_hour_usd, usd)]
    return rows


def _name(item: Any) -> str:
    return str(item.name)


def report_tables(report: EconomicsReport) -> list[Table]:
    """One table per section the report has, in the order of the scenario file."""
    tables = []
    if report.servers:
        tables.append(_table("Servers: IaaS and model layers", report.servers, SERVER_ROWS,
                             _name))
    if report.applications:
        tables.append(_table("Applications: per user per month", report.applications,
                             APPLICATION_ROWS, _name))
    if report.clouds:
        tables.append(_table("Clouds: total cost of ownership", report.clouds, CLOUD_ROWS, _name))
    if report.accelerators:
        tables.append(_table("Accelerators: performance per TCO", report.accelerators,
                             _accelerator_rows(report.accelerators), _name))
    if report.fleets:
        tables.append(_table("Fleets: energy and carbon", report.fleets, FLEET_ROWS, _name))
    return tables
