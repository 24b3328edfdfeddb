"""``agentplane economics SCENARIO.yaml [--json]``.

The command function is tested through typer's ``CliRunner`` on an app built here; the tests of
the installed console script run once ``economics`` is registered on the main app (they skip
until then).
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from agentplane.cli.economics import economics
from agentplane.economics import ScenarioError, compute, load_scenario

AGENTPLANE = str(Path(sys.executable).with_name("agentplane"))
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "economics"
TABLE7 = EXAMPLES / "table7-h200.yaml"

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
app.command()(economics)
runner = CliRunner()
ENV = {"COLUMNS": "200", "NO_COLOR": "1"}


def test_tables_show_the_seed_figures() -> None:
    result = runner.invoke(app, [str(TABLE7)], env=ENV)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Servers: IaaS and model layers" in out and "Applications: per user per month" in out
    for figure in ("$246,391", "$0.88", "$1.23", "35.3%", "$0.72", "59.0%", "$2.50", "12.5%",
                   "$12.82", "64.1%"):
        assert figure in out, figure


def test_every_section_renders() -> None:
    for name in ("table10-clouds.yaml", "table8-accelerators.yaml", "energy-001.yaml"):
        result = runner.invoke(app, [str(EXAMPLES / name)], env=ENV)
        assert result.exit_code == 0, result.output
    clouds = runner.invoke(app, [str(EXAMPLES / "table10-clouds.yaml")], env=ENV).output
    assert "13.3%" in clouds and "$8,518" in clouds and "$1.46" in clouds
    energy = runner.invoke(app, [str(EXAMPLES / "energy-001.yaml")], env=ENV).output
    assert "3.12 GWh" in energy and "1.14 TWh" in energy


def test_json_is_one_object_of_exact_figures() -> None:
    result = runner.invoke(app, [str(TABLE7), "--json"], env=ENV)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data == compute(load_scenario(TABLE7)).to_json()
    assert data["servers"][0]["depreciation_per_gpu_hour_usd"] == pytest.approx(0.878963,
                                                                                 abs=1e-6)


def test_bad_scenario_raises_a_scenario_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("servers:\n  - name: a\n    gpus: eight\n", encoding="utf-8")
    result = runner.invoke(app, [str(bad)], env=ENV)
    assert isinstance(result.exception, ScenarioError)
    assert result.exception.exit_code == 2
    message = str(result.exception)
    assert f"{bad}:3:5: servers[0].gpus: Input should be a valid integer" in message
    assert f"{bad}:2:5: servers[0].capital_cost_usd: required field is missing" in message


# --- the installed console script (once `economics` is registered) -----------------------------


@functools.cache
def registered() -> bool:
    try:
        help_text = subprocess.run([AGENTPLANE, "--help"], capture_output=True, text=True,
                                   env={**os.environ, **ENV}, timeout=60).stdout
    except OSError:
        return False
    return "economics" in help_text


def run(*args: str) -> subprocess.CompletedProcess[str]:
    if not registered():
        pytest.skip("`economics` is not registered on the agentplane app yet")
    return subprocess.run([AGENTPLANE, "economics", *args], capture_output=True, text=True,
                          env={**os.environ, **ENV}, timeout=60)


def test_console_script_json() -> None:
    done = run(str(TABLE7), "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["applications"][0]["first_party_gross_margin"] == pytest.approx(0.640967,
                                                                                 abs=1e-6)


def test_console_script_error_is_one_paragraph(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("applications:\n  - name: a\n    tokens_per_user_per_month: 1\n"
                   "    revenue_per_user_per_month_usd: 1\n    server: nope\n", encoding="utf-8")
    done = run(str(bad))
    assert done.returncode == 2
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith(f"error: scenario {bad} is invalid (1 problem):")
    assert f"{bad}:5:5: applications[0].server: unknown server 'nope'" in done.stderr
