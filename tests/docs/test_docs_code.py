"""Code in the docs runs, so it cannot rot: every ```python block of docs/ and the README runs
offline in a temporary folder, files the pages show are written there, and shell blocks marked
`<!-- docs-test: run -->` (the quick start's) run too; blocks that need a server or the network
are marked `<!-- docs-test: skip: REASON -->` and reported skipped with that reason. See
tests/docs/fences.py for the rules."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .fences import Block, FenceError, blocks

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
BIN = Path(sys.executable).parent


def _pages() -> dict[Path, list[Block]]:
    pages = [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]
    return {page.relative_to(ROOT): blocks(page.relative_to(ROOT), page.read_text())
            for page in pages}


PAGES = _pages()
RUNNABLE = [page for page, found in PAGES.items()
            if any(b.action in {"python", "shell"} for b in found)]
SKIPPED = [b for found in PAGES.values() for b in found if b.action == "skip"]


def _env(folder: Path) -> dict[str, str]:
    """Offline: no provider keys, no database but the folder's own, the venv's tools first."""
    env = {k: v for k, v in os.environ.items()
           if not k.endswith("_API_KEY") and k not in {"AGENTPLANE_DB", "OPENAI_BASE_URL",
                                                        "OTEL_EXPORTER_OTLP_ENDPOINT"}}
    env.update(AGENTPLANE_HOME=str(folder / ".agentplane"), COLUMNS="100",
               PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}")
    return env


def run_page(found: list[Block], folder: Path) -> list[str]:
    """Run a page's blocks in order in ``folder``; one message per block that failed."""
    failures: list[str] = []
    for n, block in enumerate(found):
        if block.action == "file" and block.title is not None:
            target = folder / block.title
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(block.code)
            continue
        if block.action == "python":
            script = folder / f"_docs_block_{n}.py"
            script.write_text(block.code)
            argv = [sys.executable, str(script)]
        elif block.action == "shell":
            argv = ["bash", "-euo", "pipefail", "-c", block.code]
        else:
            continue
        done = subprocess.run(argv, cwd=folder, env=_env(folder), capture_output=True,
                              text=True, timeout=240, check=False)
        if done.returncode != 0:
            failures.append(f"{block.where} ({block.lang}) exited {done.returncode}:\n"
                            f"{done.stdout[-2000:]}{done.stderr[-3000:]}")
    return failures


@pytest.mark.parametrize("page", RUNNABLE, ids=str)
def test_the_code_of_the_page_runs(page: Path, tmp_path: Path) -> None:
    failures = run_page(PAGES[page], tmp_path)
    assert not failures, "\n\n".join(failures)


@pytest.mark.parametrize("block", SKIPPED, ids=lambda b: b.where)
def test_blocks_marked_skip_say_why(block: Block) -> None:
    assert block.reason
    pytest.skip(f"{block.where}: {block.reason}")


def test_every_python_block_is_run_or_skipped_with_a_reason() -> None:
    python = [b for found in PAGES.values() for b in found if b.lang == "python"]
    assert python, "no python block found: the docs reader is broken"
    assert all(b.action in {"python", "file", "skip"} for b in python)


def test_the_quick_start_runs_python_and_shell() -> None:
    actions = [b.action for b in PAGES[Path("docs/quickstart.md")]]
    assert "shell" in actions and "file" in actions


def test_a_failing_block_fails_the_page_naming_where(tmp_path: Path) -> None:
    page = Path("docs/broken.md")
    text = ("# Broken\n\n```yaml title=\"data.yaml\"\nanswer: 42\n```\n\n"
            "```python\nimport yaml\n"
            "assert yaml.safe_load(open('data.yaml'))['answer'] == 42\n```\n\n"
            "<!-- docs-test: skip: needs a server -->\n```python\nraise SystemExit(3)\n```\n\n"
            "=== \"Python\"\n\n    ```python\n    raise SystemExit(7)\n    ```\n\n"
            "<!-- docs-test: run -->\n```sh\nfalse\n```\n\n```sh\nfalse\n```\n")
    found = blocks(page, text)
    assert [b.action for b in found] == ["file", "python", "skip", "python", "shell", "show"]
    failures = run_page(found, tmp_path)
    assert len(failures) == 2
    assert failures[0].startswith("docs/broken.md:19 (python) exited 7")
    assert failures[1].startswith("docs/broken.md:24 (sh) exited 1")


def test_an_unclosed_fence_or_a_skip_without_reason_is_an_error() -> None:
    with pytest.raises(FenceError, match=r"docs/x.md:3: the code block is never closed"):
        blocks(Path("docs/x.md"), "# X\n\n```python\nprint(1)\n")
    with pytest.raises(FenceError, match="needs a reason"):
        blocks(Path("docs/x.md"), "<!-- docs-test: skip -->\n```python\npass\n```\n")
