"""Scenario files: the seed scenarios under ``examples/economics`` reproduce the seed tables to the
rounding they print (or differ where ``docs/economics.md`` says the source is inconsistent), and
a bad file gets one error naming file, line, column and field for each problem."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agentplane.economics import (
    ScenarioError,
    compute,
    cost_per_million_tokens,
    load_scenario,
    parse_scenario,
    parse_server,
)
from agentplane.economics.model import EconomicsReport
from agentplane.economics.render import fixed, report_tables

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "economics"


def report(name: str) -> EconomicsReport:
    return compute(load_scenario(EXAMPLES / name))


def rounds_to(value: float, printed: float, places: int) -> bool:
    return abs(value - printed) <= 0.5 * 10.0 ** -places + 1e-9


def problems_of(text: str) -> list[str]:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(text, "s.yaml")
    assert caught.value.exit_code == 2
    return [p.render("s.yaml") for p in caught.value.problems]


# --- the seed tables ---------------------------------------------------------------------------


def test_table7_reproduced_to_printed_rounding() -> None:
    result = report("table7-h200.yaml")
    server = result.servers[0].to_json()
    app = result.applications[0].to_json()
    printed: list[tuple[float, float, int]] = [
        (server["depreciation_per_gpu_hour_usd"], 0.88, 2),
        (server["operating_cost_per_gpu_hour_usd"], 0.35, 2),
        (server["total_cost_per_gpu_hour_usd"], 1.23, 2),
        (server["iaas_gross_margin"] * 100, 35, 0),
        (server["compute_cost_per_million_tokens_usd"], 0.72, 2),
        (server["model_gross_margin"] * 100, 59.0, 1),
        (app["third_party_token_unit_cost_per_million_tokens_usd"], 1.75, 2),
        (app["third_party_gross_profit_per_user_per_month_usd"], 2.50, 2),
        (app["third_party_gross_margin"] * 100, 12.5, 1),
        (app["first_party_token_unit_cost_per_million_tokens_usd"], 0.72, 2),
        (app["first_party_gross_profit_per_user_per_month_usd"], 12.82, 2),
        (app["first_party_gross_margin"] * 100, 64.1, 1),
    ]
    for value, seed, places in printed:
        assert rounds_to(value, seed, places), (value, seed)


def test_table7_derived_operating_cost() -> None:
    derived = report("table7-h200.yaml").servers[1]
    # 110 × 1.275 / 730 = 0.192123; 0.087 × 1.275 × 1.25 = 0.138656; sum 0.330780
    assert derived.operating_cost_per_gpu_hour_usd == pytest.approx(0.330780, abs=1e-6)
    # 1.275 kW × 1.25 / 2.646 M tok = 0.602324 kWh per M tok
    assert derived.energy_kwh_per_million_tokens == pytest.approx(0.602324, abs=1e-6)


TABLE10 = {  # seeds/003 l.952–961, as printed
    "Hyperscaler": dict(wacc=9.4, tco=8518, capital=1.15, hosting=0.30, total=1.46, share=79.9),
    "H100 Neocloud Giants": dict(wacc=13.3, tco=10180, capital=1.39, hosting=0.36, total=1.74,
                                 share=80.9),
    "Emerging Neoclouds": dict(wacc=17.5, tco=12290, capital=1.68, hosting=0.43, total=2.10,
                               share=81.8),
}


def test_table10_reproduced() -> None:
    clouds = {c.name: c for c in report("table10-clouds.yaml").clouds}
    for name, seed in TABLE10.items():
        c = clouds[name]
        assert rounds_to(c.wacc * 100, seed["wacc"], 1), name
        assert rounds_to(c.capital_cost_per_gpu_hour_usd, seed["capital"], 2), name
        assert rounds_to(c.hosting_cost_per_gpu_hour_usd, seed["hosting"], 2), name
        assert rounds_to(c.tco_per_gpu_hour_usd, seed["total"], 2), name
    # 6,742 + 1,776 = 8,518 and 8,098 + 2,082 = 10,180 as printed; 9,785 + 2,506 = 12,291, $1
    # above the printed 12,290 (the printed parts are rounded)
    assert [c.tco_per_month_usd for c in clouds.values()][:3] == [8518, 10180, 12291]
    # capital / TCO: 79.2%, 79.5%, 79.6% — not the printed 79.9%, 80.9%, 81.8% (inconsistent
    # in the source by 0.7, 1.4 and 2.2 points; see docs/economics.md)
    shares = [round(c.capital_share_of_tco * 100, 1) for c in clouds.values()][:3]
    assert shares == [79.2, 79.5, 79.6]


def test_table10_h200_financed_at_the_hyperscaler_wacc() -> None:
    financed = report("table10-clouds.yaml").clouds[3]
    # r = 0.09375 / 12 = 0.0078125, n = 48: 1.0078125^48 = 1.452853; 1 − 1/1.452853 = 0.311702
    # 246,391 × 0.0078125 / 0.311702 = 1,924.93 / 0.311702 = 6,175.4
    assert financed.server_capital_cost_per_month_usd == pytest.approx(6175.4, abs=0.1)


TABLE8: dict[str, dict[str, float]] = {  # seeds/003 l.729–740, as printed
    "GB200 NVL72": dict(bf16=0.91, fp8=0.46, fp4=0.23, ratio=625, bw=0.28, tb=11.87),
    "GB300 NVL72": dict(bf16=1.09, fp8=0.55, fp4=0.18, ratio=625, bw=0.34, tb=9.47),
    "TPU v7 Internal": dict(bf16=0.56, fp8=0.28, fp4=0.28, ratio=609, bw=0.17, tb=6.67),
    "TPU v7 External": dict(bf16=0.69, fp8=0.35, fp4=0.35, ratio=609, bw=0.21, tb=8.33),
}
# Computed from the printed inputs, they differ from the printed figure (docs/economics.md).
TABLE8_DIFFERENCES = {
    ("GB300 NVL72", "tb"): 9.479,        # 2.73 / 0.288; $2.727 (→ $2.73) gives 9.47
    ("TPU v7 Internal", "bf16"): 0.555,  # 1.28 / 2.307; $1.281 (→ $1.28) gives 0.555…0.56
    ("TPU v7 Internal", "ratio"): 607.1,  # 4,614 / 7.6; 7.58 TB/s (→ 7.6) gives 609
    ("TPU v7 External", "ratio"): 607.1,
    ("TPU v7 Internal", "tb"): 80.0,     # 1.28 / 0.016 TB; printed 6.67 = 1.28 / 0.192 TB
    ("TPU v7 External", "tb"): 50.0,     # 1.60 / 0.032 TB; printed 8.33 = 1.60 / 0.192 TB
}


def test_table8_reproduced() -> None:
    accs = {a.name: a for a in report("table8-accelerators.yaml").accelerators}
    for name, seed in TABLE8.items():
        a = accs[name]
        computed = {**a.cost_per_pflop_hour_usd, "ratio": a.tflops_per_tb_per_s["fp8"],
                    "bw": a.cost_per_tb_per_s_hour_usd or 0, "tb": a.cost_per_tb_hour_usd or 0}
        for key, printed in seed.items():
            places = 0 if key == "ratio" else 2
            known = TABLE8_DIFFERENCES.get((name, key))
            if known is None:
                assert rounds_to(computed[key], printed, places), (name, key, computed[key])
            else:
                assert computed[key] == pytest.approx(known, abs=0.001 if places else 0.1)
                assert not rounds_to(computed[key], printed, places)


def test_table8_tpu_memory_figures_use_192_gb() -> None:
    # the printed TPU TCO per TB is the cost over 0.192 TB, not over the printed 16 / 32 GB
    assert rounds_to(1.28 / 0.192, 6.67, 2)
    assert rounds_to(1.60 / 0.192, 8.33, 2)


def test_energy_001_reproduced() -> None:
    fleets = report("energy-001.yaml").fleets
    search = fleets[0]
    assert rounds_to(search.energy_kwh_per_day / 1e6, 3.12, 2)    # 3.12 GWh a day (l.557)
    assert rounds_to(search.energy_kwh_per_year / 1e9, 1.14, 2)   # 1.14 TWh a year (l.557)
    hyperscale, enterprise = fleets[1], fleets[2]
    # 6.5 kW × 1.25 / (5,880 tok/s × 3,600 s = 21.168 M tok) = 0.38383 kWh per M tok
    assert hyperscale.energy_kwh_per_million_tokens == pytest.approx(0.383834, abs=1e-6)
    # the same servers at PUE 1.735 use 1.735 / 1.25 = 1.388 times the energy
    assert enterprise.energy_kwh_per_year / hyperscale.energy_kwh_per_year == \
        pytest.approx(1.388)


@pytest.mark.parametrize("name", sorted(p.name for p in EXAMPLES.glob("*.yaml")))
def test_every_example_loads_and_renders(name: str) -> None:
    result = report(name)
    assert report_tables(result)
    assert any(result.to_json().values())


def test_rounding_for_display_is_half_up() -> None:
    assert fixed(0.1325 * 100, 1) == "13.3"  # the float is 13.249999…
    assert fixed(246391, 0) == "246,391"
    assert fixed(0.285, 2) == "0.29"


# --- JSON --------------------------------------------------------------------------------------


def test_json_shape() -> None:
    data: dict[str, Any] = report("table7-h200.yaml").to_json()
    assert set(data) == {"servers", "applications", "clouds", "accelerators", "fleets"}
    assert data["clouds"] == [] and data["fleets"] == []
    server = data["servers"][0]
    assert server["name"] == "H200 8-GPU"
    assert server["iaas_gross_margin"] == pytest.approx(0.353177, abs=1e-6)  # a fraction
    assert server["energy_kwh_per_million_tokens"] is None  # no kW per GPU given
    accs = report("table8-accelerators.yaml").to_json()["accelerators"]
    assert set(accs[0]) == {
        "name", "cost_per_pflop_hour_usd_bf16", "cost_per_pflop_hour_usd_fp8",
        "cost_per_pflop_hour_usd_fp4", "tflops_per_tb_per_s_bf16", "tflops_per_tb_per_s_fp8",
        "tflops_per_tb_per_s_fp4", "cost_per_tb_per_s_hour_usd", "cost_per_tb_hour_usd"}


# --- errors ------------------------------------------------------------------------------------

SERVER = """\
servers:
  - name: a
    capital_cost_usd: 1000
    gpus: 8
    useful_life_years: 4
"""


def test_missing_operating_inputs_name_exactly_what_is_missing() -> None:
    assert problems_of(SERVER) == [
        "s.yaml:2:5: servers[0]: operating cost: give operating_cost_per_gpu_hour_usd, or all of "
        "colocation_usd_per_kw_month, power_usd_per_kwh, kw_per_gpu and pue"]
    partial = SERVER + "    colocation_usd_per_kw_month: 110\n    kw_per_gpu: 1.2\n"
    assert problems_of(partial)[0].endswith("and pue (missing: power_usd_per_kwh, pue)")


def test_operating_cost_given_twice() -> None:
    text = SERVER + "    operating_cost_per_gpu_hour_usd: 0.3\n    power_usd_per_kwh: 0.1\n" \
                    "    kw_per_gpu: 1.0\n"
    [problem] = problems_of(text)
    assert problem.startswith("s.yaml:7:5: servers[0].power_usd_per_kwh: give either "
                              "operating_cost_per_gpu_hour_usd or")


def test_unknown_field_and_unknown_section() -> None:
    text = SERVER + "    operating_cost_per_gpu_hour_usd: 0.3\n    gpu_count: 8\nservrs: []\n"
    assert problems_of(text) == [
        "s.yaml:7:5: servers[0].gpu_count: unknown field (check the spelling; see "
        "docs/economics.md)",
        "s.yaml:8:1: servrs: unknown section; the sections are servers, applications, clouds, "
        "accelerators, fleets"]


def test_application_naming_an_unknown_server() -> None:
    text = SERVER + """\
    operating_cost_per_gpu_hour_usd: 0.3
applications:
  - name: chat
    tokens_per_user_per_month: 1000
    revenue_per_user_per_month_usd: 20
    server: H100
"""
    assert problems_of(text) == [
        "s.yaml:11:5: applications[0].server: unknown server 'H100'; declared servers: 'a'"]


def test_application_on_a_server_without_prices() -> None:
    text = SERVER + """\
    operating_cost_per_gpu_hour_usd: 0.3
applications:
  - name: chat
    tokens_per_user_per_month: 1000
    revenue_per_user_per_month_usd: 20
    server: a
"""
    assert problems_of(text) == [
        "s.yaml:11:5: applications[0].server: server 'a' needs "
        "throughput_tokens_per_second_per_gpu and api_price_per_million_tokens_usd to price "
        "this application's tokens"]


CLOUD = """\
clouds:
  - name: c
    cost_of_equity: 0.11
    cost_of_debt: 0.045
    equity_share: 0.75
    gpus: 8
    operating_cost_per_month_usd: 1776
"""


def test_cloud_capital_inputs() -> None:
    assert problems_of(CLOUD) == [
        "s.yaml:2:5: clouds[0]: server capital cost: give server_capital_cost_per_month_usd, or "
        "both capital_cost_usd and useful_life_years"]
    assert problems_of(CLOUD + "    capital_cost_usd: 1000\n")[0].endswith(
        "(missing: useful_life_years)")
    both = CLOUD + "    server_capital_cost_per_month_usd: 6742\n    useful_life_years: 4\n"
    assert problems_of(both)[0].startswith("s.yaml:9:5: clouds[0].useful_life_years: give either")


def test_percentages_are_fractions() -> None:
    text = CLOUD.replace("cost_of_equity: 0.11", "cost_of_equity: 11") + \
        "    server_capital_cost_per_month_usd: $6,742\n"
    first, second = problems_of(text)
    assert first.startswith("s.yaml:3:5: clouds[0].cost_of_equity: Input should be less than "
                            "or equal to 1 (got 11)")
    assert first.endswith("percentages are fractions here: 11% is 0.11")
    assert second.startswith("s.yaml:8:5: clouds[0].server_capital_cost_per_month_usd: ")
    assert "give a plain number" in second


def test_every_problem_at_once_with_required_fields() -> None:
    text = """\
accelerators:
  - name: x
    tflops: {BF16: 100}
fleets:
  - name: f
    servers: 0
    kw_per_server: 6.5
    pue: 0.9
  - name: f
    servers: 1
    kw_per_server: 1
    pue: 1
"""
    assert problems_of(text) == [
        "s.yaml:2:5: accelerators[0].cost_per_hour_usd: required field is missing",
        "s.yaml:3:14: accelerators[0].tflops.BF16: String should match pattern '^[a-z0-9_]+$' "
        "(got 'BF16'); name precisions in lower case, e.g. bf16, fp8, fp4",
        "s.yaml:6:5: fleets[0].servers: Input should be greater than or equal to 1 (got 0)",
        "s.yaml:8:5: fleets[0].pue: Input should be greater than or equal to 1 (got 0.9)",
    ]
    duplicate = text.replace("servers: 0", "servers: 1").replace("pue: 0.9", "pue: 1.2")
    duplicate = duplicate.replace("BF16", "bf16").replace("  - name: x\n",
                                                         "  - name: x\n    cost_per_hour_usd: 1\n")
    assert problems_of(duplicate) == ["s.yaml:10:5: fleets[1].name: fleet 'f' is declared twice"]


def test_file_level_problems(tmp_path: Path) -> None:
    assert problems_of("servers: [\n") == [
        "s.yaml:2:1: (top level): not valid YAML: expected the node content, but found "
        "'<stream end>' (while parsing a flow node that began at line 2, column 1)"]
    assert problems_of("- 1\n") == [
        "s.yaml:1:1: (top level): expected a mapping with one or more of servers, applications, "
        "clouds, accelerators, fleets"]
    assert problems_of("servers: []\n") == [
        "s.yaml:1:1: (top level): the scenario is empty; give at least one of servers, "
        "applications, clouds, accelerators, fleets"]
    assert problems_of("fleets:\n")[0].endswith(
        "the section is empty: list items under it or remove it")
    with pytest.raises(ScenarioError, match="file not found"):
        load_scenario(tmp_path / "missing.yaml")


def test_error_message_names_the_file(tmp_path: Path) -> None:
    file = tmp_path / "bad.yaml"
    file.write_text(SERVER, encoding="utf-8")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(file)
    message = str(caught.value)
    assert message.startswith(f"scenario {file} is invalid (1 problem):\n  {file}:2:5: servers[0]")


def test_parse_server_for_the_price_catalog() -> None:
    server = parse_server({"capital_cost_usd": 246391, "gpus": 8, "useful_life_years": 4,
                           "operating_cost_per_gpu_hour_usd": 0.35,
                           "rental_price_per_gpu_hour_usd": 1.90,
                           "throughput_tokens_per_second_per_gpu": 735}, name="qwen3-32b")
    assert server.name == "qwen3-32b"
    assert cost_per_million_tokens(server) == pytest.approx(1.90 / 2.646)
    with pytest.raises(ScenarioError) as caught:
        parse_server({"gpus": 8, "gpu": "H100"}, "prices.yaml")
    assert [p.render("prices.yaml") for p in caught.value.problems] == [
        "prices.yaml: capital_cost_usd: required field is missing",
        "prices.yaml: useful_life_years: required field is missing",
        "prices.yaml: gpu: unknown field (check the spelling; see docs/economics.md)",
    ]
    with pytest.raises(ScenarioError, match=r"prices.yaml: \(top level\): operating cost: give"):
        parse_server({"capital_cost_usd": 1, "gpus": 1, "useful_life_years": 1}, "prices.yaml")
