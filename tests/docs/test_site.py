"""The docs site builds with `mkdocs build --strict` (a broken link, a missing nav page or a
docstring mkdocstrings cannot read fails), offline, and its generated pages say what the code
says: the CLI reference lists every command of the Typer app, the API reference the public
classes."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer.main

from agentplane.cli import app

ROOT = Path(__file__).resolve().parents[2]


def _commands(prefix: str, group: object) -> list[str]:
    names: list[str] = []
    commands = getattr(group, "commands", {})
    for name, command in commands.items():
        names.append(f"{prefix} {name}")
        names += _commands(f"{prefix} {name}", command)
    return names


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    probe = subprocess.run([sys.executable, "-c", "import mkdocs, material, mkdocstrings"],
                           capture_output=True, check=False)
    if probe.returncode != 0:
        reason = "the docs extra is not installed: pip install -e '.[docs]'"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "DISABLE_MKDOCS_2_WARNING": "true"}
    build = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict",
                            "--site-dir", str(out)], cwd=ROOT, env=env, capture_output=True,
                           text=True, check=False, timeout=600)
    assert build.returncode == 0, build.stdout + build.stderr
    return out


def test_the_cli_reference_lists_every_command(site: Path) -> None:
    page = (site / "reference" / "cli-commands" / "index.html").read_text()
    commands = _commands("agentplane", typer.main.get_command(app))
    assert len(commands) > 20
    missing = [name for name in commands if f"<code>{name}</code>" not in page]
    assert not missing, f"CLI reference lacks {missing}"


def test_the_api_reference_documents_the_public_classes(site: Path) -> None:
    runtime = (site / "reference" / "api" / "runtime" / "index.html").read_text()
    assert 'id="agentplane.runtime.Runtime"' in runtime
    tools = (site / "reference" / "api" / "tools" / "index.html").read_text()
    assert 'id="agentplane.tools.ToolContext"' in tools
    top = (site / "reference" / "api" / "agentplane" / "index.html").read_text()
    for name in ("Agent", "Workflow", "tool", "Runtime", "RunResult"):
        assert f'id="agentplane.api.{name}"' in top, name
    testing = (site / "reference" / "api" / "testing" / "index.html").read_text()
    assert 'id="agentplane.testing.FunctionModel"' in testing


def test_the_site_loads_nothing_from_the_network(site: Path) -> None:
    pages = list(site.rglob("*.html"))
    assert len(pages) > 30
    for page in pages:
        text = page.read_text()
        assert "fonts.googleapis.com" not in text, page
        assert "fonts.gstatic.com" not in text, page


def test_the_readme_links_point_at_pages_that_exist() -> None:
    readme = (ROOT / "README.md").read_text()
    links = [link.split("#", 1)[0] for link in re.findall(r"\]\(([^)\s]+)\)", readme)
             if "://" not in link and not link.startswith("#")]
    assert len(links) > 20
    missing = [link for link in links if not (ROOT / link).exists()]
    assert not missing, f"README links to files that do not exist: {missing}"


def test_the_command_line_page_names_every_command() -> None:
    page = (ROOT / "docs" / "reference" / "cli.md").read_text()
    top = [name.split()[1] for name in _commands("agentplane", typer.main.get_command(app))
           if len(name.split()) == 2]
    missing = [name for name in top if f"`agentplane {name}" not in page]
    assert not missing, f"docs/reference/cli.md does not name {missing}"
