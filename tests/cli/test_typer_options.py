"""Options converted by the CLI itself (cli/_typer.py: plain values without pydantic) give
what typer's own conversion gives: the same values and the same refusals, word for word."""

from __future__ import annotations

import json
from typing import Annotated, Any

import pytest
import typer
from typer import core
from typer.testing import CliRunner

from agentplane.cli import _typer

app = typer.Typer()


@app.command()
def options(
    name: Annotated[str | None, typer.Option()] = None,
    limit: Annotated[int, typer.Option(min=1)] = 50,
    top: Annotated[int | None, typer.Option(max=100)] = None,
    clamped: Annotated[int, typer.Option(min=0, max=10, clamp=True)] = 5,
    count: int = 0,
    tag: Annotated[list[str] | None, typer.Option()] = None,
    flag: bool = False,
    yes: Annotated[bool, typer.Option("--yes/--no")] = True,
    ratio: float = 0.5,
) -> None:
    """Prints what it was given, with the types."""
    given = {"name": name, "limit": limit, "top": top, "clamped": clamped, "count": count,
             "tag": tag, "flag": flag, "yes": yes, "ratio": ratio}
    print(json.dumps({k: [v, type(v).__name__] for k, v in given.items()}))


ARGVS = [
    [], ["--name", "x"], ["--name", ""], ["--name", "ünï cödé"], ["--name", "-"],
    ["--limit", "1"], ["--limit", "007"], ["--limit", "0"], ["--limit", "-3"], ["--limit", " 5"],
    ["--limit", "5 "], ["--limit", "1_000"], ["--limit", "+3"], ["--limit", "１２"],
    ["--limit", ""], ["--limit", "abc"], ["--limit", "2.0"], ["--limit", "9" * 30],
    ["--limit", "9" * 18], ["--top", "100"], ["--top", "101"], ["--top", "-100"],
    ["--clamped", "3"], ["--clamped", "11"], ["--clamped", "-1"], ["--count", "-7"],
    ["--count", "0x10"], ["--tag", "a"], ["--tag", "a", "--tag", "b"], ["--tag", ""],
    ["--flag"], ["--no"], ["--yes"], ["--ratio", "2"], ["--limit"], ["--name"],
]


def _outcomes(monkeypatch: pytest.MonkeyPatch, build: Any) -> list[tuple[int, str]]:
    monkeypatch.setattr(core, "build_runtime_param", build)
    runner = CliRunner()
    outcomes = []
    for argv in ARGVS:
        result = runner.invoke(app, argv)
        outcomes.append((result.exit_code, result.output))
    return outcomes


def test_plain_conversion_gives_what_typers_gives(monkeypatch: pytest.MonkeyPatch) -> None:
    ours = _outcomes(monkeypatch, _typer.build_runtime_param)
    theirs = _outcomes(monkeypatch, _typer._typers_own)
    assert ours == theirs
    assert sum(code == 0 for code, _ in ours) > 15
    assert sum(code == 2 for code, _ in ours) >= 8  # refusals compared too


def test_plain_values_are_converted_without_typers_adapter(
        monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[Any] = []
    own = _typer._typers_own

    def counted(descriptor: Any) -> Any:
        built.append(descriptor.annotation)
        return own(descriptor)

    monkeypatch.setattr(_typer, "_typers_own", counted)
    monkeypatch.setattr(core, "build_runtime_param", _typer.build_runtime_param)
    result = CliRunner().invoke(app, ["--name", "x", "--limit", "7", "--tag", "a", "--flag"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["limit"] == [7, "int"]
    assert built == [float]  # only the float option went to typer's adapter
    refused = CliRunner().invoke(app, ["--limit", "0"])
    assert refused.exit_code == 2
    assert "greater than or equal to 1" in refused.output
    assert built[-1] is int
