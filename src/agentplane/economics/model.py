"""The economics of AI infrastructure as plain numbers and formulas (no I/O).

From SPEC.md "Metering and economics", after the seed tables of ``003`` (Tables 7, 8 and 10) and
``001`` (data-centre energy). Money is in USD, shares and margins are fractions (0.35, not 35),
energy is in kWh, power in kW, mass of CO₂ in kg. A month is 730 hours (8,760 / 12), as in the
seed tables.

Inputs are frozen dataclasses (``Server``, ``Application``, ``Cloud``, ``Accelerator``,
``Fleet``); each has a function that returns its figures (``server_economics`` …), and
``EconomicsReport`` gathers them with ``to_json()``. Every formula is written out in
``docs/economics.md``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

HOURS_PER_YEAR = 8760.0
"""Hours in a year of 365 days."""
HOURS_PER_MONTH = HOURS_PER_YEAR / 12
"""730 hours: the month of the seed tables."""
MONTHS_PER_YEAR = 12
TOKENS_PER_MILLION = 1_000_000.0
GB_PER_TB = 1000.0
"""Decimal units, as accelerator memory is marketed (192 GB = 0.192 TB)."""
TFLOPS_PER_PFLOPS = 1000.0

OPERATING_INPUTS = ("colocation_usd_per_kw_month", "power_usd_per_kwh", "kw_per_gpu", "pue")
"""What an operating cost per GPU-hour is derived from when it is not given."""
CAPITAL_INPUTS = ("capital_cost_usd", "useful_life_years")
"""What a cloud's capital cost per month is derived from when it is not given."""


class MissingInputError(ValueError):
    """A figure was asked for whose inputs were not all given."""

    def __init__(self, message: str, missing: tuple[str, ...]) -> None:
        super().__init__(message)
        self.missing = missing
        """Names of the inputs not given."""


def _listing(names: tuple[str, ...], conjunction: str = "and") -> str:
    if len(names) <= 1:
        return "".join(names)
    return f"{', '.join(names[:-1])} {conjunction} {names[-1]}"


# --- servers (003 Table 7: IaaS and model layers) ----------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Server:
    """An accelerator server, owned and rented out by the GPU-hour, serving tokens."""

    name: str
    capital_cost_usd: float
    """Total capital cost of one server, with all its GPUs (USD)."""
    gpus: int
    """GPUs in the server."""
    useful_life_years: float
    """Years over which the capital cost is depreciated, straight-line, to zero (years)."""
    operating_cost_per_gpu_hour_usd: float | None = None
    """Operating cost (hosting and power), if given directly (USD per GPU-hour)."""
    colocation_usd_per_kw_month: float | None = None
    """Colocation price per kW of IT power per month (USD per kW-month)."""
    power_usd_per_kwh: float | None = None
    """Electricity price (USD per kWh), paid on facility energy (IT energy × PUE)."""
    kw_per_gpu: float | None = None
    """IT power per GPU, with its share of the server, network and storage (kW)."""
    pue: float | None = None
    """Power usage effectiveness: facility energy / IT energy (≥ 1, dimensionless)."""
    rental_price_per_gpu_hour_usd: float | None = None
    """What a tenant pays for one GPU-hour (USD per GPU-hour)."""
    throughput_tokens_per_second_per_gpu: float | None = None
    """Effective inference throughput of one GPU (tokens per second)."""
    api_price_per_million_tokens_usd: float | None = None
    """Blended API price the model layer sells tokens at (USD per million tokens)."""


def missing_operating_inputs(server: Server) -> tuple[str, ...]:
    """The derivation inputs not given, when the operating cost is not given either; else ()."""
    if server.operating_cost_per_gpu_hour_usd is not None:
        return ()
    return tuple(n for n in OPERATING_INPUTS if getattr(server, n) is None)


def operating_cost_message(missing: tuple[str, ...]) -> str:
    """Says how to give the operating cost, naming the inputs that are missing."""
    message = ("operating cost: give operating_cost_per_gpu_hour_usd, or all of "
               f"{_listing(OPERATING_INPUTS)}")
    if len(missing) < len(OPERATING_INPUTS):
        message += f" (missing: {', '.join(missing)})"
    return message


def depreciation_per_gpu_hour(server: Server) -> float:
    """Straight-line depreciation of one GPU's share of the server (USD per GPU-hour).

    capital cost / GPUs / (useful life × 8,760 hours).
    """
    return server.capital_cost_usd / server.gpus / (server.useful_life_years * HOURS_PER_YEAR)


def colocation_cost_per_gpu_hour(server: Server) -> float | None:
    """Colocation charged on IT power: price per kW-month × kW per GPU / 730 (USD/GPU-hour)."""
    if server.colocation_usd_per_kw_month is None or server.kw_per_gpu is None:
        return None
    return server.colocation_usd_per_kw_month * server.kw_per_gpu / HOURS_PER_MONTH


def power_cost_per_gpu_hour(server: Server) -> float | None:
    """Electricity for one GPU and its overhead: price per kWh × kW per GPU × PUE (USD/GPU-hour)."""
    if server.power_usd_per_kwh is None or server.kw_per_gpu is None or server.pue is None:
        return None
    return server.power_usd_per_kwh * server.kw_per_gpu * server.pue


def operating_cost_per_gpu_hour(server: Server) -> float:
    """The operating cost as given, else colocation + power (USD per GPU-hour).

    Raises ``MissingInputError`` naming the inputs that are missing.
    """
    if server.operating_cost_per_gpu_hour_usd is not None:
        return server.operating_cost_per_gpu_hour_usd
    colocation, power = colocation_cost_per_gpu_hour(server), power_cost_per_gpu_hour(server)
    if colocation is None or power is None:
        missing = missing_operating_inputs(server)
        raise MissingInputError(operating_cost_message(missing), missing)
    return colocation + power


def total_cost_per_gpu_hour(server: Server) -> float:
    """Depreciation + operating cost: the owner's total variable cost (USD per GPU-hour)."""
    return depreciation_per_gpu_hour(server) + operating_cost_per_gpu_hour(server)


def tokens_per_gpu_hour(server: Server) -> float | None:
    """Throughput × 3,600 (tokens per GPU-hour), or None without a throughput."""
    if server.throughput_tokens_per_second_per_gpu is None:
        return None
    return server.throughput_tokens_per_second_per_gpu * 3600


def gpu_hour_price_for_tokens(server: Server) -> float:
    """What a GPU-hour costs whoever serves the model (USD per GPU-hour).

    The rental price when one is given (the model layer rents from the IaaS layer, as in
    ``003`` Table 7), else the owner's total variable cost.
    """
    if server.rental_price_per_gpu_hour_usd is not None:
        return server.rental_price_per_gpu_hour_usd
    return total_cost_per_gpu_hour(server)


def cost_per_million_tokens(server: Server) -> float:
    """Compute cost of a million tokens served on ``server`` (USD per million tokens).

    GPU-hour price (the rental price if given, else the total variable cost) / millions of
    tokens per GPU-hour. This is the cost the price catalog uses for a self-hosted model.
    Raises ``MissingInputError`` without ``throughput_tokens_per_second_per_gpu``.
    """
    tokens = tokens_per_gpu_hour(server)
    if tokens is None:
        raise MissingInputError(
            "cost per million tokens: give throughput_tokens_per_second_per_gpu",
            ("throughput_tokens_per_second_per_gpu",))
    return gpu_hour_price_for_tokens(server) / (tokens / TOKENS_PER_MILLION)


def energy_kwh_per_gpu_hour(server: Server) -> float | None:
    """Facility energy of one GPU-hour: kW per GPU × PUE (kWh), None without ``kw_per_gpu``.

    Without a PUE this is the IT energy alone (PUE taken as 1, a lower bound).
    """
    if server.kw_per_gpu is None:
        return None
    return server.kw_per_gpu * (server.pue if server.pue is not None else 1.0)


def energy_kwh_per_million_tokens(server: Server) -> float | None:
    """Facility energy of a million tokens (kWh), None without ``kw_per_gpu`` or a throughput.

    kW per GPU × PUE / millions of tokens per GPU-hour; without a PUE, IT energy alone.
    """
    energy, tokens = energy_kwh_per_gpu_hour(server), tokens_per_gpu_hour(server)
    if energy is None or tokens is None:
        return None
    return energy / (tokens / TOKENS_PER_MILLION)


def _margin(price: float | None, cost: float | None) -> float | None:
    if price is None or cost is None:
        return None
    return (price - cost) / price


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerEconomics:
    """The figures of one server; None where an optional input was not given."""

    name: str
    depreciation_per_gpu_hour_usd: float
    """Straight-line depreciation per GPU-hour (USD)."""
    colocation_cost_per_gpu_hour_usd: float | None
    """Colocation part of a derived operating cost (USD per GPU-hour)."""
    power_cost_per_gpu_hour_usd: float | None
    """Electricity part of a derived operating cost (USD per GPU-hour)."""
    operating_cost_per_gpu_hour_usd: float
    """Operating cost, given or derived (USD per GPU-hour)."""
    total_cost_per_gpu_hour_usd: float
    """Depreciation + operating cost: total variable cost (USD per GPU-hour)."""
    iaas_gross_profit_per_gpu_hour_usd: float | None
    """Rental price − total cost (USD per GPU-hour)."""
    iaas_gross_margin: float | None
    """(Rental price − total cost) / rental price (fraction)."""
    tokens_per_gpu_hour: float | None
    """Throughput × 3,600 (tokens)."""
    own_cost_per_million_tokens_usd: float | None
    """Total variable cost / millions of tokens per GPU-hour: the owner's cost (USD)."""
    compute_cost_per_million_tokens_usd: float | None
    """GPU-hour price paid by the model layer (rental price if given, else total cost) /
    millions of tokens per GPU-hour (USD)."""
    model_gross_margin: float | None
    """(API price − compute cost) / API price, per million tokens (fraction)."""
    energy_kwh_per_gpu_hour: float | None
    """kW per GPU × PUE (kWh); IT energy only when no PUE is given."""
    energy_kwh_per_million_tokens: float | None
    """Energy per GPU-hour / millions of tokens per GPU-hour (kWh)."""
    inputs: Server = field(repr=False)
    """The server the figures are of (not part of the JSON)."""

    def to_json(self) -> dict[str, Any]:
        return _figures_json(self)


def server_economics(server: Server) -> ServerEconomics:
    """Every figure of ``server`` its inputs allow (``MissingInputError`` if no operating cost)."""
    total = total_cost_per_gpu_hour(server)
    rental = server.rental_price_per_gpu_hour_usd
    tokens = tokens_per_gpu_hour(server)
    derived = server.operating_cost_per_gpu_hour_usd is None
    compute = cost_per_million_tokens(server) if tokens is not None else None
    return ServerEconomics(
        name=server.name,
        depreciation_per_gpu_hour_usd=depreciation_per_gpu_hour(server),
        colocation_cost_per_gpu_hour_usd=colocation_cost_per_gpu_hour(server) if derived else None,
        power_cost_per_gpu_hour_usd=power_cost_per_gpu_hour(server) if derived else None,
        operating_cost_per_gpu_hour_usd=operating_cost_per_gpu_hour(server),
        total_cost_per_gpu_hour_usd=total,
        iaas_gross_profit_per_gpu_hour_usd=rental - total if rental is not None else None,
        iaas_gross_margin=_margin(rental, total),
        tokens_per_gpu_hour=tokens,
        own_cost_per_million_tokens_usd=(total / (tokens / TOKENS_PER_MILLION)
                                         if tokens is not None else None),
        compute_cost_per_million_tokens_usd=compute,
        model_gross_margin=_margin(server.api_price_per_million_tokens_usd, compute),
        energy_kwh_per_gpu_hour=energy_kwh_per_gpu_hour(server),
        energy_kwh_per_million_tokens=energy_kwh_per_million_tokens(server),
        inputs=server,
    )


# --- applications (003 Table 7: application layer) ---------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Application:
    """An application selling a monthly subscription and spending tokens on each user."""

    name: str
    tokens_per_user_per_month: float
    """Tokens one user consumes in a month (tokens)."""
    revenue_per_user_per_month_usd: float
    """Average revenue per user per month (USD)."""
    server: str
    """Name of the ``Server`` whose compute cost (1P) and API price (3P) apply."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ApplicationEconomics:
    """Gross profit per user of a third-party (3P) app paying the API price and of a
    first-party (1P) app paying the compute cost."""

    name: str
    third_party_token_unit_cost_per_million_tokens_usd: float
    """The API price (USD per million tokens)."""
    third_party_token_cost_per_user_per_month_usd: float
    """Millions of tokens per user per month × API price (USD)."""
    third_party_gross_profit_per_user_per_month_usd: float
    """Revenue − 3P token cost, per user per month (USD)."""
    third_party_gross_margin: float
    """3P gross profit / revenue (fraction)."""
    first_party_token_unit_cost_per_million_tokens_usd: float
    """The server's compute cost (USD per million tokens)."""
    first_party_token_cost_per_user_per_month_usd: float
    """Millions of tokens per user per month × compute cost (USD)."""
    first_party_gross_profit_per_user_per_month_usd: float
    """Revenue − 1P token cost, per user per month (USD)."""
    first_party_gross_margin: float
    """1P gross profit / revenue (fraction)."""
    inputs: Application = field(repr=False)

    def to_json(self) -> dict[str, Any]:
        return _figures_json(self)


def missing_application_inputs(server: Server) -> tuple[str, ...]:
    """What ``server`` lacks to price an application's tokens; () when nothing."""
    needed = ("throughput_tokens_per_second_per_gpu", "api_price_per_million_tokens_usd")
    return tuple(n for n in needed if getattr(server, n) is None)


def application_economics(app: Application, server: Server) -> ApplicationEconomics:
    """3P and 1P gross profit per user per month of ``app`` served from ``server``."""
    missing = missing_application_inputs(server)
    if missing or server.api_price_per_million_tokens_usd is None:
        raise MissingInputError(
            f"application {app.name!r}: server {server.name!r} needs {_listing(missing)} to "
            "price its tokens", missing)
    millions = app.tokens_per_user_per_month / TOKENS_PER_MILLION
    revenue = app.revenue_per_user_per_month_usd
    api, compute = server.api_price_per_million_tokens_usd, cost_per_million_tokens(server)
    cost_3p, cost_1p = millions * api, millions * compute
    return ApplicationEconomics(
        name=app.name,
        third_party_token_unit_cost_per_million_tokens_usd=api,
        third_party_token_cost_per_user_per_month_usd=cost_3p,
        third_party_gross_profit_per_user_per_month_usd=revenue - cost_3p,
        third_party_gross_margin=(revenue - cost_3p) / revenue,
        first_party_token_unit_cost_per_million_tokens_usd=compute,
        first_party_token_cost_per_user_per_month_usd=cost_1p,
        first_party_gross_profit_per_user_per_month_usd=revenue - cost_1p,
        first_party_gross_margin=(revenue - cost_1p) / revenue,
        inputs=app,
    )


# --- clouds (003 Table 10: total cost of ownership by cost of capital) -------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Cloud:
    """A cloud's cost of one server, financed at its weighted average cost of capital."""

    name: str
    cost_of_equity: float
    """Cost of equity, Ke (fraction per year)."""
    cost_of_debt: float
    """Cost of debt, Kd (fraction per year)."""
    equity_share: float
    """Share of funding that is equity, E (fraction)."""
    gpus: int
    """GPUs per server."""
    operating_cost_per_month_usd: float
    """Hosting: colocation, power and operations of one server (USD per month)."""
    server_capital_cost_per_month_usd: float | None = None
    """Capital charge of one server, if given directly (USD per month)."""
    capital_cost_usd: float | None = None
    """Price of one server, recovered over its useful life at the WACC (USD)."""
    useful_life_years: float | None = None
    """Years over which the capital cost is recovered (years)."""


def wacc(cost_of_equity: float, cost_of_debt: float, equity_share: float) -> float:
    """Weighted average cost of capital, E·Ke + (1 − E)·Kd, no tax shield (fraction per year)."""
    return equity_share * cost_of_equity + (1 - equity_share) * cost_of_debt


def capital_recovery_per_month(capital_cost_usd: float, annual_rate: float,
                               years: float) -> float:
    """Level monthly payment that repays ``capital_cost_usd`` with interest (USD per month).

    The annuity C·r / (1 − (1 + r)^−n), with r = annual rate / 12 and n = years × 12; C / n
    when the rate is zero.
    """
    months = years * MONTHS_PER_YEAR
    rate = annual_rate / MONTHS_PER_YEAR
    if rate == 0:
        return capital_cost_usd / months
    return capital_cost_usd * rate / (1 - math.pow(1 + rate, -months))


def missing_capital_inputs(cloud: Cloud) -> tuple[str, ...]:
    """The derivation inputs not given, when the capital per month is not given either."""
    if cloud.server_capital_cost_per_month_usd is not None:
        return ()
    return tuple(n for n in CAPITAL_INPUTS if getattr(cloud, n) is None)


def capital_cost_message(missing: tuple[str, ...]) -> str:
    """Says how to give a cloud's capital cost, naming the inputs that are missing."""
    message = ("server capital cost: give server_capital_cost_per_month_usd, or both "
               f"{_listing(CAPITAL_INPUTS)}")
    if len(missing) < len(CAPITAL_INPUTS):
        message += f" (missing: {', '.join(missing)})"
    return message


def server_capital_cost_per_month(cloud: Cloud) -> float:
    """As given, else the capital recovery of the server at the cloud's WACC (USD per month)."""
    if cloud.server_capital_cost_per_month_usd is not None:
        return cloud.server_capital_cost_per_month_usd
    if cloud.capital_cost_usd is None or cloud.useful_life_years is None:
        missing = missing_capital_inputs(cloud)
        raise MissingInputError(capital_cost_message(missing), missing)
    rate = wacc(cloud.cost_of_equity, cloud.cost_of_debt, cloud.equity_share)
    return capital_recovery_per_month(cloud.capital_cost_usd, rate, cloud.useful_life_years)


@dataclass(frozen=True, slots=True, kw_only=True)
class CloudEconomics:
    """Total cost of ownership of one server of a cloud, per month and per GPU-hour."""

    name: str
    wacc: float
    """E·Ke + (1 − E)·Kd (fraction per year)."""
    server_capital_cost_per_month_usd: float
    """Capital charge, given or by capital recovery at the WACC (USD per month)."""
    operating_cost_per_month_usd: float
    """Hosting cost (USD per month)."""
    tco_per_month_usd: float
    """Capital + operating cost (USD per month)."""
    capital_cost_per_gpu_hour_usd: float
    """Capital per month / GPUs / 730 (USD per GPU-hour)."""
    hosting_cost_per_gpu_hour_usd: float
    """Operating cost per month / GPUs / 730 (USD per GPU-hour)."""
    tco_per_gpu_hour_usd: float
    """TCO per month / GPUs / 730 (USD per GPU-hour)."""
    capital_share_of_tco: float
    """Capital / TCO (fraction)."""
    inputs: Cloud = field(repr=False)

    def to_json(self) -> dict[str, Any]:
        return _figures_json(self)


def cloud_economics(cloud: Cloud) -> CloudEconomics:
    """WACC and TCO of ``cloud`` (``MissingInputError`` without a capital cost)."""
    capital = server_capital_cost_per_month(cloud)
    operating = cloud.operating_cost_per_month_usd
    gpu_hours = cloud.gpus * HOURS_PER_MONTH
    return CloudEconomics(
        name=cloud.name,
        wacc=wacc(cloud.cost_of_equity, cloud.cost_of_debt, cloud.equity_share),
        server_capital_cost_per_month_usd=capital,
        operating_cost_per_month_usd=operating,
        tco_per_month_usd=capital + operating,
        capital_cost_per_gpu_hour_usd=capital / gpu_hours,
        hosting_cost_per_gpu_hour_usd=operating / gpu_hours,
        tco_per_gpu_hour_usd=(capital + operating) / gpu_hours,
        capital_share_of_tco=capital / (capital + operating),
        inputs=cloud,
    )


# --- accelerators (003 Table 8: performance per TCO) -------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Accelerator:
    """One accelerator (a logical GPU or a TPU chip) at its total cost per hour."""

    name: str
    cost_per_hour_usd: float
    """Total cost of ownership of one accelerator per hour (USD per hour)."""
    tflops: Mapping[str, float]
    """Marketed dense TFLOPS by precision, e.g. {"bf16": 2500, "fp8": 5000} (TFLOP/s)."""
    memory_bandwidth_tb_per_s: float | None = None
    """Memory bandwidth (TB/s)."""
    memory_gb: float | None = None
    """Memory capacity (GB, decimal)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AcceleratorEconomics:
    """Cost per unit of compute, bandwidth and memory, per hour, as in ``003`` Table 8."""

    name: str
    cost_per_pflop_hour_usd: Mapping[str, float]
    """By precision: cost per hour / (TFLOPS / 1,000) — USD per hour per marketed dense
    PFLOP/s (Table 8's "$/hr per PFLOP")."""
    tflops_per_tb_per_s: Mapping[str, float]
    """By precision: TFLOPS / memory bandwidth (TFLOPS per TB/s, i.e. FLOP per byte)."""
    cost_per_tb_per_s_hour_usd: float | None
    """Cost per hour / memory bandwidth (USD per hour per TB/s)."""
    cost_per_tb_hour_usd: float | None
    """Cost per hour / (memory GB / 1,000) (USD per hour per TB of memory)."""
    inputs: Accelerator = field(repr=False)

    def to_json(self) -> dict[str, Any]:
        """Flat: ``cost_per_pflop_hour_usd_<precision>``, ``tflops_per_tb_per_s_<precision>``."""
        out: dict[str, Any] = {"name": self.name}
        out.update({f"cost_per_pflop_hour_usd_{p}": v
                    for p, v in self.cost_per_pflop_hour_usd.items()})
        out.update({f"tflops_per_tb_per_s_{p}": v for p, v in self.tflops_per_tb_per_s.items()})
        out["cost_per_tb_per_s_hour_usd"] = self.cost_per_tb_per_s_hour_usd
        out["cost_per_tb_hour_usd"] = self.cost_per_tb_hour_usd
        return out


def accelerator_economics(acc: Accelerator) -> AcceleratorEconomics:
    """Cost per PFLOP-hour by precision, per TB/s-hour and per TB-hour of ``acc``."""
    bandwidth, memory = acc.memory_bandwidth_tb_per_s, acc.memory_gb
    return AcceleratorEconomics(
        name=acc.name,
        cost_per_pflop_hour_usd={p: acc.cost_per_hour_usd / (t / TFLOPS_PER_PFLOPS)
                                 for p, t in acc.tflops.items()},
        tflops_per_tb_per_s=({p: t / bandwidth for p, t in acc.tflops.items()}
                             if bandwidth is not None else {}),
        cost_per_tb_per_s_hour_usd=(acc.cost_per_hour_usd / bandwidth
                                    if bandwidth is not None else None),
        cost_per_tb_hour_usd=(acc.cost_per_hour_usd / (memory / GB_PER_TB)
                              if memory is not None else None),
        inputs=acc,
    )


# --- fleets (001: data-centre energy and carbon) -----------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Fleet:
    """Servers running around the clock at an average power draw."""

    name: str
    servers: int
    """Number of servers."""
    kw_per_server: float
    """Average IT power draw of one server (kW)."""
    pue: float
    """Power usage effectiveness: facility energy / IT energy (≥ 1)."""
    grid_kg_co2_per_kwh: float | None = None
    """Carbon intensity of the electricity (kg CO₂ per kWh)."""
    tokens_per_second_per_server: float | None = None
    """Tokens one server serves per second, on average (tokens per second)."""
    requests_per_second_per_server: float | None = None
    """Requests one server serves per second, on average (requests per second)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class FleetEconomics:
    """Power, energy and carbon of a fleet; per-token and per-request figures when given."""

    name: str
    it_power_kw: float
    """Servers × kW per server (kW)."""
    facility_power_kw: float
    """IT power × PUE (kW)."""
    energy_kwh_per_day: float
    """Facility power × 24 (kWh)."""
    energy_kwh_per_year: float
    """Facility power × 8,760 (kWh)."""
    it_energy_kwh_per_year: float
    """IT power × 8,760 (kWh)."""
    overhead_energy_kwh_per_year: float
    """Facility − IT energy per year: cooling, power conversion, lighting (kWh)."""
    co2_kg_per_day: float | None
    """Energy per day × grid intensity (kg CO₂)."""
    co2_kg_per_year: float | None
    """Energy per year × grid intensity (kg CO₂)."""
    energy_kwh_per_million_tokens: float | None
    """kW per server × PUE / millions of tokens per server-hour (kWh)."""
    energy_kwh_per_request: float | None
    """kW per server × PUE / requests per server-hour (kWh)."""
    co2_kg_per_million_tokens: float | None
    """Energy per million tokens × grid intensity (kg CO₂)."""
    co2_kg_per_request: float | None
    """Energy per request × grid intensity (kg CO₂)."""
    inputs: Fleet = field(repr=False)

    def to_json(self) -> dict[str, Any]:
        return _figures_json(self)


def _per_hour(kw: float, per_second: float | None, unit: float = 1.0) -> float | None:
    """kWh per ``unit`` items when ``per_second`` items are served each second at ``kw``."""
    if per_second is None:
        return None
    return kw / (per_second * 3600 / unit)


def _times(value: float | None, factor: float | None) -> float | None:
    return value * factor if value is not None and factor is not None else None


def fleet_economics(fleet: Fleet) -> FleetEconomics:
    """Energy and carbon of ``fleet`` running 24 hours a day, 365 days a year."""
    it_kw = fleet.servers * fleet.kw_per_server
    facility_kw = it_kw * fleet.pue
    server_kw = fleet.kw_per_server * fleet.pue
    per_m_tokens = _per_hour(server_kw, fleet.tokens_per_second_per_server, TOKENS_PER_MILLION)
    per_request = _per_hour(server_kw, fleet.requests_per_second_per_server)
    grid = fleet.grid_kg_co2_per_kwh
    return FleetEconomics(
        name=fleet.name,
        it_power_kw=it_kw,
        facility_power_kw=facility_kw,
        energy_kwh_per_day=facility_kw * 24,
        energy_kwh_per_year=facility_kw * HOURS_PER_YEAR,
        it_energy_kwh_per_year=it_kw * HOURS_PER_YEAR,
        overhead_energy_kwh_per_year=(facility_kw - it_kw) * HOURS_PER_YEAR,
        co2_kg_per_day=_times(facility_kw * 24, grid),
        co2_kg_per_year=_times(facility_kw * HOURS_PER_YEAR, grid),
        energy_kwh_per_million_tokens=per_m_tokens,
        energy_kwh_per_request=per_request,
        co2_kg_per_million_tokens=_times(per_m_tokens, grid),
        co2_kg_per_request=_times(per_request, grid),
        inputs=fleet,
    )


# --- the report --------------------------------------------------------------------------------


Figures = ServerEconomics | ApplicationEconomics | CloudEconomics | FleetEconomics


def _figures_json(result: Figures) -> dict[str, Any]:
    return {f.name: getattr(result, f.name) for f in fields(result) if f.name != "inputs"}


@dataclass(frozen=True, slots=True)
class EconomicsReport:
    """Every section's figures, in the order of the scenario."""

    servers: list[ServerEconomics] = field(default_factory=list)
    applications: list[ApplicationEconomics] = field(default_factory=list)
    clouds: list[CloudEconomics] = field(default_factory=list)
    accelerators: list[AcceleratorEconomics] = field(default_factory=list)
    fleets: list[FleetEconomics] = field(default_factory=list)

    def to_json(self) -> dict[str, list[dict[str, Any]]]:
        """One object, a list per section (all five, empty when absent), base units."""
        return {
            "servers": [s.to_json() for s in self.servers],
            "applications": [a.to_json() for a in self.applications],
            "clouds": [c.to_json() for c in self.clouds],
            "accelerators": [a.to_json() for a in self.accelerators],
            "fleets": [f.to_json() for f in self.fleets],
        }
