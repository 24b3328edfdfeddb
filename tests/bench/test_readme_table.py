"""The README's performance table is written whole from one benchmark run's results."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import readme_table
from _common import Figure, save

FIGURES = [
    Figure("growth", "time per step: LangGraph ÷ Agentplane", 7.5, "×", goal="≥ 10"),
    Figure("step_cost", "durable model step vs same-bytes floor", 120.0, "µs/step", 60.0,
           "ratio ≤ 1.5"),
    Figure("api_load", "not a hot-path figure", 1.0, "ms"),
    Figure("startup", "agentplane --help | piped", 0.101, "s", 0.011, "≤ 0.15 s"),
]


def test_the_table_lists_the_hot_path_figures_in_order_with_their_baselines(tmp_path: Path
                                                                            ) -> None:
    save(FIGURES, tmp_path / "results.json")
    lines = readme_table.rows(readme_table.load(tmp_path / "results.json"))
    assert [line.split("|")[1].strip() for line in lines] == ["`step_cost`", "`growth`",
                                                              "`startup`"]
    assert lines[0] == ("| `step_cost` | durable model step vs same-bytes floor | 120.0 µs/step"
                        " | 60.0 | 2.00× | ratio ≤ 1.5 |")
    assert "--help \\| piped" in lines[2]  # a bar in a name does not break the row


def test_the_table_replaces_what_was_between_the_markers_and_nothing_else(tmp_path: Path
                                                                         ) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"# Title\n\nbefore\n{readme_table.START}\nold table\n"
                      f"{readme_table.END}\nafter\n")
    save(FIGURES, tmp_path / "results.json")
    args = ["--results", str(tmp_path / "results.json"), "--readme", str(readme)]
    assert readme_table.main(args) == 0
    first = readme.read_text()
    assert first.startswith("# Title\n\nbefore\n") and first.endswith("\nafter\n")
    assert "old table" not in first
    assert "| `step_cost` | durable model step" in first
    assert readme_table.main(args) == 0
    assert readme.read_text() == first  # written again from the same run: the same text


def test_a_readme_without_markers_or_missing_results_is_refused_with_what_to_do(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("# no table here\n")
    save(FIGURES, tmp_path / "results.json")
    assert readme_table.main(["--results", str(tmp_path / "results.json"),
                              "--readme", str(readme)]) == 1
    assert "no performance table markers" in capsys.readouterr().err
    assert readme.read_text() == "# no table here\n"  # left as it was
    assert readme_table.main(["--results", str(tmp_path / "none.json"),
                              "--readme", str(readme)]) == 1
    assert "run `make bench` first" in capsys.readouterr().err
    (tmp_path / "bad.json").write_text(json.dumps({"not": "a list"}))
    with pytest.raises(readme_table.TableError, match="not a list of figures"):
        readme_table.load(tmp_path / "bad.json")
    with pytest.raises(readme_table.TableError, match="no figure of the hot-path benches"):
        readme_table.table([], when=datetime(2026, 12, 3, tzinfo=UTC), machine="m")


def test_the_readme_has_the_markers() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert readme.index(readme_table.START) < readme.index(readme_table.END)
