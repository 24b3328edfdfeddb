"""Scenario files: YAML → validated inputs → an ``EconomicsReport``.

A scenario has up to five sections (``servers``, ``applications``, ``clouds``, ``accelerators``,
``fleets``), each a list of named items; see ``docs/economics.md`` and ``examples/economics/``.
Errors name the file, line, column and field, and list every problem at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import pydantic
import yaml
from pydantic import ConfigDict, Field

from agentplane._yaml import (
    FileError,
    FileProblem,
    load_with_positions,
    positioned,
    validation_problems,
    yaml_problem,
)
from agentplane._yaml import Path as DataPath

from . import model
from .model import (
    Accelerator,
    Application,
    Cloud,
    EconomicsReport,
    Fleet,
    Server,
)

SECTIONS = ("servers", "applications", "clouds", "accelerators", "fleets")
FRACTIONS = {"cost_of_equity", "cost_of_debt", "equity_share"}


ScenarioProblem = FileProblem


class ScenarioError(FileError):
    """An economics scenario is invalid. ``problems`` lists every problem found."""

    what = "scenario"


# --- the file's shape ------------------------------------------------------------------------

Name = Annotated[str, Field(min_length=1)]
Positive = Annotated[float, Field(gt=0)]
NonNegative = Annotated[float, Field(ge=0)]
Fraction = Annotated[float, Field(ge=0, le=1)]
Count = Annotated[int, Field(ge=1)]
Pue = Annotated[float, Field(ge=1)]
Precision = Annotated[str, Field(pattern=r"^[a-z0-9_]+$")]


class _Item(pydantic.BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)

    name: Name


class ServerSpec(_Item):
    capital_cost_usd: NonNegative
    gpus: Count
    useful_life_years: Positive
    operating_cost_per_gpu_hour_usd: NonNegative | None = None
    colocation_usd_per_kw_month: NonNegative | None = None
    power_usd_per_kwh: NonNegative | None = None
    kw_per_gpu: Positive | None = None
    pue: Pue | None = None
    rental_price_per_gpu_hour_usd: Positive | None = None
    throughput_tokens_per_second_per_gpu: Positive | None = None
    api_price_per_million_tokens_usd: Positive | None = None


class ApplicationSpec(_Item):
    tokens_per_user_per_month: NonNegative
    revenue_per_user_per_month_usd: Positive
    server: Name


class CloudSpec(_Item):
    cost_of_equity: Fraction
    cost_of_debt: Fraction
    equity_share: Fraction
    gpus: Count
    operating_cost_per_month_usd: NonNegative
    server_capital_cost_per_month_usd: NonNegative | None = None
    capital_cost_usd: NonNegative | None = None
    useful_life_years: Positive | None = None


class AcceleratorSpec(_Item):
    cost_per_hour_usd: NonNegative
    tflops: Annotated[dict[Precision, Positive], Field(min_length=1)]
    memory_bandwidth_tb_per_s: Positive | None = None
    memory_gb: Positive | None = None


class FleetSpec(_Item):
    servers: Count
    kw_per_server: NonNegative
    pue: Pue
    grid_kg_co2_per_kwh: NonNegative | None = None
    tokens_per_second_per_server: Positive | None = None
    requests_per_second_per_server: Positive | None = None


class ScenarioSpec(pydantic.BaseModel):
    """The whole file: every section optional, at least one given."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    servers: list[ServerSpec] = []
    applications: list[ApplicationSpec] = []
    clouds: list[CloudSpec] = []
    accelerators: list[AcceleratorSpec] = []
    fleets: list[FleetSpec] = []


@dataclass(frozen=True, slots=True)
class Scenario:
    """A validated scenario: its inputs as model dataclasses, ready to ``compute``."""

    source: str
    servers: tuple[Server, ...] = ()
    applications: tuple[Application, ...] = ()
    clouds: tuple[Cloud, ...] = ()
    accelerators: tuple[Accelerator, ...] = ()
    fleets: tuple[Fleet, ...] = ()


# --- validation ------------------------------------------------------------------------------


def _hint(path: DataPath, err_type: str, value: Any) -> str:
    if isinstance(value, str) and any(c in value for c in "$%,"):
        return "; give a plain number (USD without $, fractions rather than %, no commas)"
    if value is None and len(path) == 1:
        return "; the section is empty: list items under it or remove it"
    if "tflops" in path and err_type == "string_pattern_mismatch":
        return "; name precisions in lower case, e.g. bf16, fp8, fp4"
    if path and path[-1] in FRACTIONS and err_type == "less_than_equal":
        return "; percentages are fractions here: 11% is 0.11"
    return ""


def _message(path: DataPath, err: Any) -> str | None:
    if err["type"] == "extra_forbidden" and len(path) == 1:
        return f"unknown section; the sections are {', '.join(SECTIONS)}"
    if err["type"] in ("extra_forbidden", "missing", "invalid_key") or "input" not in err:
        return None
    return f"{err['msg']} (got {err['input']!r})" + _hint(path, err["type"], err["input"])


def _pydantic_problems(exc: pydantic.ValidationError) -> list[ScenarioProblem]:
    return validation_problems(exc, reference="docs/economics.md", message_for=_message)


def _duplicates(section: str, names: list[str]) -> list[ScenarioProblem]:
    seen: set[str] = set()
    problems = []
    for i, name in enumerate(names):
        if name in seen:
            problems.append(ScenarioProblem((section, i, "name"),
                                            f"{section[:-1]} {name!r} is declared twice"))
        seen.add(name)
    return problems


def _check_servers(servers: list[ServerSpec]) -> list[ScenarioProblem]:
    problems = _duplicates("servers", [s.name for s in servers])
    for i, s in enumerate(servers):
        if s.operating_cost_per_gpu_hour_usd is not None:
            problems += [ScenarioProblem(
                ("servers", i, key),
                "give either operating_cost_per_gpu_hour_usd or the inputs it is derived from, "
                "not both (kw_per_gpu and pue may stay: they give the energy figures)")
                for key in ("colocation_usd_per_kw_month", "power_usd_per_kwh")
                if getattr(s, key) is not None]
            continue
        missing = model.missing_operating_inputs(_server(s))
        if missing:
            problems.append(ScenarioProblem(("servers", i),
                                            model.operating_cost_message(missing)))
    return problems


def _check_applications(spec: ScenarioSpec) -> list[ScenarioProblem]:
    problems = _duplicates("applications", [a.name for a in spec.applications])
    servers = {s.name: s for s in spec.servers}
    for i, app in enumerate(spec.applications):
        server = servers.get(app.server)
        if server is None:
            listed = ", ".join(repr(n) for n in servers) or "none"
            problems.append(ScenarioProblem(("applications", i, "server"),
                                            f"unknown server {app.server!r}; declared servers: "
                                            f"{listed}"))
            continue
        missing = model.missing_application_inputs(_server(server))
        if missing:
            problems.append(ScenarioProblem(
                ("applications", i, "server"),
                f"server {app.server!r} needs {' and '.join(missing)} to price this "
                "application's tokens"))
    return problems


def _check_clouds(clouds: list[CloudSpec]) -> list[ScenarioProblem]:
    problems = _duplicates("clouds", [c.name for c in clouds])
    for i, c in enumerate(clouds):
        if c.server_capital_cost_per_month_usd is not None:
            problems += [ScenarioProblem(
                ("clouds", i, key),
                "give either server_capital_cost_per_month_usd or capital_cost_usd and "
                "useful_life_years, not both")
                for key in model.CAPITAL_INPUTS if getattr(c, key) is not None]
            continue
        missing = model.missing_capital_inputs(_cloud(c))
        if missing:
            problems.append(ScenarioProblem(("clouds", i), model.capital_cost_message(missing)))
    return problems


def cross_check(spec: ScenarioSpec) -> list[ScenarioProblem]:
    """Problems pydantic cannot see: names, references and inputs of derived figures."""
    if not any(getattr(spec, s) for s in SECTIONS):
        return [ScenarioProblem((), f"the scenario is empty; give at least one of "
                                    f"{', '.join(SECTIONS)}")]
    return (_check_servers(spec.servers) + _check_applications(spec)
            + _check_clouds(spec.clouds)
            + _duplicates("accelerators", [a.name for a in spec.accelerators])
            + _duplicates("fleets", [f.name for f in spec.fleets]))


def _server(s: ServerSpec) -> Server:
    return Server(**s.model_dump())


def _cloud(c: CloudSpec) -> Cloud:
    return Cloud(**c.model_dump())


def _scenario(spec: ScenarioSpec, source: str) -> Scenario:
    return Scenario(
        source=source,
        servers=tuple(_server(s) for s in spec.servers),
        applications=tuple(Application(**a.model_dump()) for a in spec.applications),
        clouds=tuple(_cloud(c) for c in spec.clouds),
        accelerators=tuple(Accelerator(**a.model_dump()) for a in spec.accelerators),
        fleets=tuple(Fleet(**f.model_dump()) for f in spec.fleets),
    )


def parse_scenario(text: str, source: str = "<scenario>") -> Scenario:
    """Parse and validate scenario YAML text; ``ScenarioError`` lists every problem."""
    try:
        data, marks = load_with_positions(text)
    except yaml.YAMLError as exc:
        raise ScenarioError(source, [yaml_problem(exc)]) from exc
    if not isinstance(data, dict):
        raise ScenarioError(source, [ScenarioProblem(
            (), f"expected a mapping with one or more of {', '.join(SECTIONS)}", (1, 1))])
    try:
        spec = ScenarioSpec.model_validate(data)
    except pydantic.ValidationError as exc:
        problems = _pydantic_problems(exc)
    else:
        problems = cross_check(spec)
    if problems:
        raise ScenarioError(source, positioned(problems, marks))
    return _scenario(spec, source)


def parse_server(data: Mapping[str, Any], source: str = "<server>", *,
                 name: str = "server") -> Server:
    """Validate one ``servers`` item given as a mapping (e.g. a price catalog's ``server:``
    block); ``name`` is used when the mapping has none. ``ScenarioError`` lists every problem,
    with paths inside the mapping."""
    try:
        spec = ScenarioSpec.model_validate({"servers": [{"name": name, **data}]})
    except pydantic.ValidationError as exc:
        problems = _pydantic_problems(exc)
    else:
        problems = _check_servers(spec.servers)
    if problems:
        raise ScenarioError(source, [ScenarioProblem(p.path[2:], p.message) for p in problems])
    return _server(spec.servers[0])


def load_scenario(path: str | Path) -> Scenario:
    """Load and validate a scenario YAML file."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ScenarioError(str(file), [ScenarioProblem((), "file not found")]) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(str(file), [ScenarioProblem((), f"cannot read the file: {exc}")]
                            ) from exc
    return parse_scenario(text, str(file))


def compute(scenario: Scenario) -> EconomicsReport:
    """Every figure of every item of a validated scenario."""
    servers = {s.name: s for s in scenario.servers}
    return EconomicsReport(
        servers=[model.server_economics(s) for s in scenario.servers],
        applications=[model.application_economics(a, servers[a.server])
                      for a in scenario.applications],
        clouds=[model.cloud_economics(c) for c in scenario.clouds],
        accelerators=[model.accelerator_economics(a) for a in scenario.accelerators],
        fleets=[model.fleet_economics(f) for f in scenario.fleets],
    )
