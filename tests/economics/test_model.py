"""The formulas of ``agentplane.economics.model``, each checked against arithmetic done by hand
(written out in the comments), and the seed worked examples to the rounding they print."""

from __future__ import annotations

import math

import pytest

from agentplane.economics import model
from agentplane.economics.model import (
    Accelerator,
    Application,
    Cloud,
    EconomicsReport,
    Fleet,
    MissingInputError,
    Server,
)


def rounds_to(value: float, printed: float, places: int) -> bool:
    """``value`` shows as ``printed`` at ``places`` decimals (half a unit either side)."""
    return abs(value - printed) <= 0.5 * 10.0 ** -places + 1e-12


# 003 Table 7 (seeds/003 l.643–669)
H200 = Server(name="H200 8-GPU", capital_cost_usd=246391, gpus=8, useful_life_years=4,
              operating_cost_per_gpu_hour_usd=0.35, rental_price_per_gpu_hour_usd=1.90,
              throughput_tokens_per_second_per_gpu=735, api_price_per_million_tokens_usd=1.75)
CHAT = Application(name="chat", tokens_per_user_per_month=10_000_000,
                   revenue_per_user_per_month_usd=20, server="H200 8-GPU")


def test_depreciation_is_straight_line_per_gpu_hour() -> None:
    # 246,391 / 8 GPUs = 30,798.875 per GPU; / (4 years × 8,760 h = 35,040 h) = 0.878963…
    assert model.depreciation_per_gpu_hour(H200) == pytest.approx(30_798.875 / 35_040)
    assert rounds_to(model.depreciation_per_gpu_hour(H200), 0.88, 2)


def test_table7_iaas_layer() -> None:
    figures = model.server_economics(H200)
    # total = 0.878963 + 0.35 = 1.228963 → printed $1.23
    assert figures.total_cost_per_gpu_hour_usd == pytest.approx(1.228963, abs=1e-6)
    assert rounds_to(figures.total_cost_per_gpu_hour_usd, 1.23, 2)
    # margin = (1.90 − 1.228963) / 1.90 = 0.671037 / 1.90 = 0.353177 → printed 35%
    assert figures.iaas_gross_profit_per_gpu_hour_usd == pytest.approx(0.671037, abs=1e-6)
    assert figures.iaas_gross_margin == pytest.approx(0.353177, abs=1e-6)
    assert rounds_to(figures.iaas_gross_margin or 0, 0.35, 2)
    assert figures.colocation_cost_per_gpu_hour_usd is None  # operating cost given directly


def test_table7_model_layer_pays_the_rental_price() -> None:
    figures = model.server_economics(H200)
    # 735 tok/s × 3,600 s = 2,646,000 tok per GPU-hour = 2.646 M tok
    assert figures.tokens_per_gpu_hour == 2_646_000
    # the model layer rents at $1.90: 1.90 / 2.646 = 0.718065 → printed $0.72
    assert figures.compute_cost_per_million_tokens_usd == pytest.approx(0.718065, abs=1e-6)
    assert rounds_to(figures.compute_cost_per_million_tokens_usd or 0, 0.72, 2)
    # at the owner's cost it would be 1.228963 / 2.646 = 0.464461
    assert figures.own_cost_per_million_tokens_usd == pytest.approx(0.464461, abs=1e-6)
    # (1.75 − 0.718065) / 1.75 = 1.031935 / 1.75 = 0.589677 → printed 59.0%
    assert figures.model_gross_margin == pytest.approx(0.589677, abs=1e-6)
    assert rounds_to((figures.model_gross_margin or 0) * 100, 59.0, 1)


def test_table7_application_layer() -> None:
    figures = model.application_economics(CHAT, H200)
    # 3P: 10 M tok × $1.75 = $17.50; 20 − 17.50 = $2.50; 2.50 / 20 = 12.5%
    assert figures.third_party_token_cost_per_user_per_month_usd == pytest.approx(17.5)
    assert figures.third_party_gross_profit_per_user_per_month_usd == pytest.approx(2.5)
    assert figures.third_party_gross_margin == pytest.approx(0.125)
    # 1P: 10 M tok × $0.718065 = $7.18065; 20 − 7.18065 = $12.81935 → printed $12.82;
    # 12.81935 / 20 = 0.640967 → printed 64.1%
    assert figures.first_party_token_cost_per_user_per_month_usd == pytest.approx(7.18065,
                                                                                  abs=1e-5)
    assert rounds_to(figures.first_party_gross_profit_per_user_per_month_usd, 12.82, 2)
    assert rounds_to(figures.first_party_gross_margin * 100, 64.1, 1)
    assert figures.first_party_token_unit_cost_per_million_tokens_usd == pytest.approx(
        model.cost_per_million_tokens(H200))


def test_operating_cost_from_colocation_power_and_pue() -> None:
    server = Server(name="s", capital_cost_usd=0, gpus=1, useful_life_years=1,
                    colocation_usd_per_kw_month=146, power_usd_per_kwh=0.10, kw_per_gpu=2.0,
                    pue=1.5)
    # colocation: 146 USD/kW-month × 2 kW / 730 h = 0.40 per GPU-hour
    assert model.colocation_cost_per_gpu_hour(server) == pytest.approx(0.40)
    # power: 0.10 USD/kWh × 2 kW × 1.5 = 0.30 per GPU-hour
    assert model.power_cost_per_gpu_hour(server) == pytest.approx(0.30)
    figures = model.server_economics(server)
    assert figures.operating_cost_per_gpu_hour_usd == pytest.approx(0.70)
    assert figures.total_cost_per_gpu_hour_usd == pytest.approx(0.70)  # capital 0
    assert figures.colocation_cost_per_gpu_hour_usd == pytest.approx(0.40)
    # 2 kW × 1.5 = 3 kWh per GPU-hour
    assert figures.energy_kwh_per_gpu_hour == pytest.approx(3.0)
    assert figures.iaas_gross_margin is None and figures.compute_cost_per_million_tokens_usd is None


def test_missing_operating_inputs_are_named() -> None:
    server = Server(name="s", capital_cost_usd=1, gpus=1, useful_life_years=1,
                    colocation_usd_per_kw_month=110, kw_per_gpu=1.0)
    with pytest.raises(MissingInputError) as caught:
        model.server_economics(server)
    assert caught.value.missing == ("power_usd_per_kwh", "pue")
    assert str(caught.value) == (
        "operating cost: give operating_cost_per_gpu_hour_usd, or all of "
        "colocation_usd_per_kw_month, power_usd_per_kwh, kw_per_gpu and pue "
        "(missing: power_usd_per_kwh, pue)")
    bare = Server(name="s", capital_cost_usd=1, gpus=1, useful_life_years=1)
    assert model.missing_operating_inputs(bare) == model.OPERATING_INPUTS
    assert "missing:" not in model.operating_cost_message(model.OPERATING_INPUTS)


def test_cost_per_million_tokens_at_own_cost_without_a_rental_price() -> None:
    server = Server(name="s", capital_cost_usd=87_600, gpus=10, useful_life_years=1,
                    operating_cost_per_gpu_hour_usd=0.0, throughput_tokens_per_second_per_gpu=1000)
    # 87,600 / 10 / 8,760 h = $1.00 per GPU-hour; 1,000 tok/s = 3.6 M tok/h → $0.277… per M
    assert model.cost_per_million_tokens(server) == pytest.approx(1 / 3.6)
    assert model.server_economics(server).own_cost_per_million_tokens_usd == pytest.approx(1 / 3.6)


def test_cost_per_million_tokens_needs_a_throughput() -> None:
    server = Server(name="s", capital_cost_usd=1, gpus=1, useful_life_years=1,
                    operating_cost_per_gpu_hour_usd=0.1)
    with pytest.raises(MissingInputError, match="throughput_tokens_per_second_per_gpu"):
        model.cost_per_million_tokens(server)


def test_energy_per_million_tokens() -> None:
    def server(kw: float | None = None, pue: float | None = None) -> Server:
        return Server(name="s", capital_cost_usd=1, gpus=1, useful_life_years=1,
                      operating_cost_per_gpu_hour_usd=0.1, kw_per_gpu=kw, pue=pue,
                      throughput_tokens_per_second_per_gpu=1000)

    assert model.energy_kwh_per_million_tokens(server()) is None  # no kW per GPU
    # 0.72 kW per GPU; 3.6 M tok per GPU-hour → 0.2 kWh per M tok of IT energy (PUE taken as 1)
    assert model.energy_kwh_per_million_tokens(server(kw=0.72)) == pytest.approx(0.2)
    # × PUE 1.25 = 0.25 kWh of facility energy
    assert model.energy_kwh_per_million_tokens(server(kw=0.72, pue=1.25)) == pytest.approx(0.25)


def test_application_needs_a_priced_server() -> None:
    server = Server(name="bare", capital_cost_usd=1, gpus=1, useful_life_years=1,
                    operating_cost_per_gpu_hour_usd=0.1)
    with pytest.raises(MissingInputError) as caught:
        model.application_economics(CHAT, server)
    assert caught.value.missing == ("throughput_tokens_per_second_per_gpu",
                                    "api_price_per_million_tokens_usd")


def test_wacc_table10() -> None:
    # 0.75 × 11% + 0.25 × 4.5% = 8.25% + 1.125% = 9.375% → printed 9.4%
    assert model.wacc(0.11, 0.045, 0.75) == pytest.approx(0.09375)
    # 0.25 × 20% + 0.75 × 11% = 5% + 8.25% = 13.25% → printed 13.3%
    assert model.wacc(0.20, 0.11, 0.25) == pytest.approx(0.1325)
    # 0.25 × 25% + 0.75 × 15% = 6.25% + 11.25% = 17.5%
    assert model.wacc(0.25, 0.15, 0.25) == pytest.approx(0.175)


def test_capital_recovery_is_an_annuity() -> None:
    # 12% a year → r = 1% a month, n = 12: 100,000 × 0.01 / (1 − 1.01^−12)
    # 1.01^12 = 1.126825; 1/1.126825 = 0.887449; 1 − 0.887449 = 0.112551; 1,000 / 0.112551
    assert model.capital_recovery_per_month(100_000, 0.12, 1) == pytest.approx(8884.88, abs=0.01)
    # no interest: straight repayment, 1,200 over 12 months
    assert model.capital_recovery_per_month(1200, 0.0, 1) == pytest.approx(100)


def test_cloud_tco_table10_hyperscaler() -> None:
    cloud = Cloud(name="Hyperscaler", cost_of_equity=0.11, cost_of_debt=0.045, equity_share=0.75,
                  gpus=8, server_capital_cost_per_month_usd=6742,
                  operating_cost_per_month_usd=1776)
    figures = model.cloud_economics(cloud)
    assert figures.tco_per_month_usd == 8518  # 6,742 + 1,776
    # 8 GPUs × 730 h = 5,840 GPU-hours a month
    assert figures.capital_cost_per_gpu_hour_usd == pytest.approx(6742 / 5840)  # 1.1545 → $1.15
    assert figures.hosting_cost_per_gpu_hour_usd == pytest.approx(1776 / 5840)  # 0.3041 → $0.30
    assert figures.tco_per_gpu_hour_usd == pytest.approx(8518 / 5840)  # 1.4586 → $1.46
    # 6,742 / 8,518 = 0.79150 (Table 10 prints 79.9%: see docs/economics.md)
    assert figures.capital_share_of_tco == pytest.approx(0.791500, abs=1e-6)


def test_cloud_capital_by_recovery_at_the_wacc() -> None:
    cloud = Cloud(name="c", cost_of_equity=0.12, cost_of_debt=0.12, equity_share=0.5, gpus=1,
                  capital_cost_usd=100_000, useful_life_years=1, operating_cost_per_month_usd=0)
    # WACC = 12% → the annuity above, 8,884.88 a month; / 730 h
    figures = model.cloud_economics(cloud)
    assert figures.server_capital_cost_per_month_usd == pytest.approx(8884.88, abs=0.01)
    assert figures.tco_per_gpu_hour_usd == pytest.approx(8884.88 / 730, abs=1e-4)
    assert figures.capital_share_of_tco == 1.0
    with pytest.raises(MissingInputError, match=r"\(missing: useful_life_years\)"):
        model.cloud_economics(Cloud(name="c", cost_of_equity=0.1, cost_of_debt=0.1,
                                    equity_share=0.5, gpus=1, capital_cost_usd=1,
                                    operating_cost_per_month_usd=0))


def test_accelerator_table8_gb200() -> None:
    acc = Accelerator(name="GB200", cost_per_hour_usd=2.28,
                      tflops={"bf16": 2500, "fp8": 5000, "fp4": 10000},
                      memory_bandwidth_tb_per_s=8.0, memory_gb=192)
    figures = model.accelerator_economics(acc)
    # 2.28 / 2.5 PFLOPS = 0.912; / 5 = 0.456; / 10 = 0.228 → $0.91, $0.46, $0.23
    assert figures.cost_per_pflop_hour_usd == pytest.approx(
        {"bf16": 0.912, "fp8": 0.456, "fp4": 0.228})
    # 5,000 TFLOPS / 8 TB/s = 625
    assert figures.tflops_per_tb_per_s["fp8"] == pytest.approx(625)
    # 2.28 / 8 TB/s = 0.285; 2.28 / 0.192 TB = 11.875
    assert figures.cost_per_tb_per_s_hour_usd == pytest.approx(0.285)
    assert figures.cost_per_tb_hour_usd == pytest.approx(11.875)
    assert figures.to_json()["cost_per_pflop_hour_usd_fp4"] == pytest.approx(0.228)


def test_accelerator_without_memory_figures() -> None:
    figures = model.accelerator_economics(
        Accelerator(name="x", cost_per_hour_usd=1.0, tflops={"bf16": 1000}))
    assert figures.cost_per_pflop_hour_usd == {"bf16": 1.0}
    assert figures.tflops_per_tb_per_s == {}
    assert figures.cost_per_tb_hour_usd is None and figures.cost_per_tb_per_s_hour_usd is None


def test_fleet_001_worked_example() -> None:
    fleet = Fleet(name="search", servers=20_000, kw_per_server=6.5, pue=1.0,
                  grid_kg_co2_per_kwh=0.4)
    figures = model.fleet_economics(fleet)
    # 20,000 × 6.5 kW = 130,000 kW; × 24 h = 3,120,000 kWh = 3.12 GWh a day (printed 3.12 GWh)
    assert figures.energy_kwh_per_day == pytest.approx(3_120_000)
    # × 365 = 1,138,800,000 kWh = 1.1388 TWh a year (printed 1.14 TWh)
    assert figures.energy_kwh_per_year == pytest.approx(1_138_800_000)
    assert rounds_to(figures.energy_kwh_per_year / 1e9, 1.14, 2)
    # × 0.4 kg/kWh = 455,520,000 kg
    assert figures.co2_kg_per_year == pytest.approx(455_520_000)
    assert figures.overhead_energy_kwh_per_year == 0
    assert figures.energy_kwh_per_request is None


def test_fleet_per_token_and_per_request() -> None:
    fleet = Fleet(name="f", servers=10, kw_per_server=5.0, pue=1.2, grid_kg_co2_per_kwh=0.5,
                  tokens_per_second_per_server=2500, requests_per_second_per_server=2)
    figures = model.fleet_economics(fleet)
    # 5 kW × 1.2 = 6 kW per server; 2,500 tok/s = 9 M tok/h → 6 / 9 = 0.6667 kWh per M tok
    assert figures.energy_kwh_per_million_tokens == pytest.approx(6 / 9)
    # 2 req/s = 7,200 req/h → 6 / 7,200 = 0.000833 kWh = 0.833 Wh per request
    assert figures.energy_kwh_per_request == pytest.approx(6 / 7200)
    assert figures.co2_kg_per_request == pytest.approx(0.5 * 6 / 7200)
    # 10 × 5 kW = 50 kW IT, 60 kW facility; overhead 10 kW × 8,760 h = 87,600 kWh
    assert figures.overhead_energy_kwh_per_year == pytest.approx(87_600)


def test_report_json_has_every_section_and_only_plain_numbers() -> None:
    report = EconomicsReport(servers=[model.server_economics(H200)],
                             applications=[model.application_economics(CHAT, H200)])
    data = report.to_json()
    assert list(data) == ["servers", "applications", "clouds", "accelerators", "fleets"]
    server = data["servers"][0]
    assert server["name"] == "H200 8-GPU" and "inputs" not in server
    for item in data["servers"] + data["applications"]:
        for key, value in item.items():
            if key != "name":
                assert value is None or (isinstance(value, float | int)
                                         and math.isfinite(value)), key
