"""The wheel people install works on its own: built with `python -m build` (sdist first, then the
wheel from the sdist, so the sdist holds what a rebuild needs), installed into a fresh venv with
no editable install and no source tree on the path, then driven as a user would: `--help`, a
workflow run, the offline demo, the console's pages and static files over loopback HTTP, and the
typing marker. A file left out of the package (the price catalog, a template, a demo workflow)
fails one of these.

Offline: the wheel is installed with `--no-deps --no-index`, and its dependencies come from the
development venv's site-packages, appended to the fresh venv's path by a `.pth` line. Python does
not read the `.pth` files inside a directory added that way, so the development venv's editable
hook is not loaded and `agentplane` can only be the installed wheel (which the tests assert).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import time
import venv
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.server.live import free_port

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
PACKAGE_DATA = [  # files outside Python modules that the package cannot work without
    "agentplane/py.typed",
    "agentplane/metering/prices.json",
    "agentplane/server/console/templates/base.html",
    "agentplane/server/console/templates/login.html",
    "agentplane/server/console/static/console.css",
    "agentplane/server/console/static/console.js",
    "agentplane/demo/workflows/refund-desk.yaml",
    "agentplane/demo/workflows/injected-mail.yaml",
    "agentplane/demo/triggers/nightly-digest.yaml",
    "agentplane/demo/personal/care-desk.yaml",
]


@dataclass(frozen=True)
class Installed:
    """A fresh venv with the wheel installed: its interpreter, `agentplane` script and root."""

    root: Path
    python: Path
    agentplane: Path
    env: dict[str, str]

    def run(self, *args: str | Path, cwd: Path,
            timeout: float = 240) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(a) for a in args], cwd=cwd, env=self.env, text=True,
                              capture_output=True, timeout=timeout, check=False)


def _require_build_tools() -> None:
    missing = [name for name in ("build", "hatchling") if not _importable(name)]
    if missing:
        reason = (f"{', '.join(missing)} not installed in this venv: "
                  "pip install -e '.[docs]' (or pip install build hatchling)")
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)


def _importable(name: str) -> bool:
    probe = subprocess.run([sys.executable, "-c", f"import {name}"], capture_output=True,
                           check=False)
    return probe.returncode == 0


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sdist and the wheel, built from the source tree by `python -m build` (offline)."""
    _require_build_tools()
    out = tmp_path_factory.mktemp("dist")
    build = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir",
                            str(out), str(ROOT)], capture_output=True, text=True, check=False,
                           timeout=300)
    assert build.returncode == 0, build.stdout + build.stderr
    return out


def _one(directory: Path, pattern: str) -> Path:
    found = sorted(directory.glob(pattern))
    assert len(found) == 1, f"expected one {pattern} in {directory}, found {found}"
    return found[0]


@pytest.fixture(scope="module")
def installed(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """The wheel in a fresh venv, dependencies borrowed from the development venv."""
    root = tmp_path_factory.mktemp("fresh") / "venv"
    venv.EnvBuilder(with_pip=False, symlinks=True).create(root)
    python = root / "bin" / "python"
    wheel = _one(dist, "agentplane-*.whl")
    pip = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install",
                          "--no-deps", "--no-index", "--no-compile", "-q", str(wheel)],
                         capture_output=True, text=True, check=False, timeout=300)
    assert pip.returncode == 0, pip.stdout + pip.stderr
    fresh_site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True).stdout.strip()
    dev_site = sysconfig.get_paths()["purelib"]
    Path(fresh_site, "agentplane_test_deps.pth").write_text(dev_site + "\n")
    env = {k: v for k, v in os.environ.items()
           if k not in {"PYTHONPATH", "AGENTPLANE_DB", "VIRTUAL_ENV", "PYTHONHOME"}}
    env["AGENTPLANE_HOME"] = str(root.parent / "home")
    env["PATH"] = f"{root / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return Installed(root=root, python=python, agentplane=root / "bin" / "agentplane", env=env)


def test_the_wheel_carries_every_source_file_and_the_package_data(dist: Path) -> None:
    wheel_names = set(zipfile.ZipFile(_one(dist, "agentplane-*.whl")).namelist())
    missing = [name for name in PACKAGE_DATA if name not in wheel_names]
    assert not missing, f"the wheel lacks {missing}"
    tracked = subprocess.run(["git", "ls-files", "src/agentplane"], cwd=ROOT, text=True,
                             capture_output=True, check=False)
    if tracked.returncode == 0:  # a git checkout: every tracked file of the package ships
        expected = {line.removeprefix("src/") for line in tracked.stdout.splitlines()}
        assert not sorted(expected - wheel_names), "tracked files left out of the wheel"
    assert not [n for n in wheel_names if "__pycache__" in n or n.endswith(".pyc")]


def test_the_sdist_holds_what_a_rebuild_needs(dist: Path) -> None:
    with tarfile.open(_one(dist, "agentplane-*.tar.gz")) as sdist:
        names = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    needed = ["pyproject.toml", "README.md", "src/agentplane/__init__.py",
              "src/agentplane/cli/app.py"] + [f"src/{name}" for name in PACKAGE_DATA]
    missing = [name for name in needed if name not in names]
    assert not missing, f"the sdist lacks {missing}"
    assert not [n for n in names if n.startswith((".venv/", "site/")) or n.endswith(".db")]


def test_agentplane_is_imported_from_the_fresh_venv(installed: Installed, tmp_path: Path) -> None:
    probe = installed.run(installed.python, "-c",
                          "import json, agentplane, agentplane.cli; "
                          "print(json.dumps([agentplane.__file__, agentplane.cli.__file__]))",
                          cwd=tmp_path)
    assert probe.returncode == 0, probe.stderr
    for path in json.loads(probe.stdout):
        assert Path(path).is_relative_to(installed.root), f"{path} is not the installed wheel"


def test_help_lists_the_commands(installed: Installed, tmp_path: Path) -> None:
    result = installed.run(installed.agentplane, "--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    for command in ("run", "resume", "demo", "serve", "approvals", "audit"):
        assert command in result.stdout


def test_a_workflow_runs_and_its_journal_verifies(installed: Installed, tmp_path: Path) -> None:
    shutil.copytree(ROOT / "examples" / "refund-desk", tmp_path / "refund-desk")
    db = f"sqlite:///{tmp_path / 'runs.db'}"
    run = installed.run(installed.agentplane, "run", "refund-desk/workflow.yaml", "--input",
                        '"Refund order A1"', "--run-id", "r1", "--db", db, cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    shown = installed.run(installed.agentplane, "runs", "show", "r1", "--json", "--db", db,
                          cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    record = json.loads(shown.stdout)
    assert record["status"] == "completed"
    assert record["output"] == "Refunded 20 on order A1."
    audit = installed.run(installed.agentplane, "audit", "verify", "--db", db, cwd=tmp_path)
    assert audit.returncode == 0, audit.stdout + audit.stderr


SNIPPET = """
import asyncio, json
from agentplane import Agent, Runtime, Workflow, tool
from agentplane.testing import Reply, call, tool_calls
from agentplane.tools import ToolContext


@tool(effect="read")
def lookup_order(order_id: str) -> dict:
    \"\"\"Look an order up.\"\"\"
    return {"order_id": order_id, "total": 35.0}


@tool(effect="write", idempotent=True, compensate="cancel_refund")
def issue_refund(order_id: str, amount: float, *, context: ToolContext) -> dict:
    \"\"\"Refund part of an order.\"\"\"
    return {"refund_id": context.idempotency_key[-8:], "amount": amount}


@tool(effect="write", idempotent=True)
def cancel_refund(refund_id: str) -> dict:
    \"\"\"Reverse a refund.\"\"\"
    return {"refund_id": refund_id, "status": "cancelled"}


clerk = Agent("clerk", model="scripted:gpt-4o-mini", instructions="You handle refunds.",
              tools=[lookup_order, issue_refund],
              script=[Reply(tool_calls=[call("lookup_order", order_id="A1")]),
                      Reply(tool_calls=[call("issue_refund", order_id="A1", amount=20)]),
                      "Refunded 20 on order A1."])
flow = Workflow("refund-desk", steps=[clerk])
careful = Workflow("careful-desk", steps=[clerk], autonomy="in_the_loop")


async def approve_one() -> list[str]:
    async with Runtime(db="sqlite:///careful.db") as rt:
        waiting = await rt.run(careful, "Refund order A1")
        done = await rt.approve(waiting.waiting[0].id, reason="checked")
        return [waiting.status, done.status, done.output]


if __name__ == "__main__":
    result = flow.run_sync("Refund order A1", db="sqlite:///desk.db")
    print(json.dumps({"status": result.status, "output": result.output,
                      "run_id": result.run_id, "cost": result.cost,
                      "model_calls": result.usage.model_calls,
                      "tools": [c.tool for c in tool_calls(result)],
                      "approval": asyncio.run(approve_one()), "twin": flow.to_yaml()}))
"""


def test_the_python_api_runs_from_the_wheel(installed: Installed, tmp_path: Path) -> None:
    (tmp_path / "desk.py").write_text(SNIPPET)
    done = installed.run(installed.python, "desk.py", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    said = json.loads(done.stdout.splitlines()[-1])
    assert said["status"] == "completed"
    assert said["output"] == "Refunded 20 on order A1."
    assert said["model_calls"] == 3 and said["cost"] > 0  # priced from the bundled catalog
    assert said["tools"] == ["lookup_order", "issue_refund"]
    assert said["approval"] == ["waiting", "completed", "Refunded 20 on order A1."]
    assert "python: desk:issue_refund" in said["twin"]  # a script's tools are found by file


def test_the_offline_demo_runs_every_demo_workflow(installed: Installed, tmp_path: Path) -> None:
    demo = installed.run(installed.agentplane, "demo", "--no-serve", cwd=tmp_path)
    assert demo.returncode == 0, demo.stdout + demo.stderr
    listed = installed.run(installed.agentplane, "runs", "list", "--json", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    workflows = {run["workflow"] for run in json.loads(listed.stdout)}
    shipped = {name.rsplit("/", 1)[1].removesuffix(".yaml") for name in PACKAGE_DATA
               if name.startswith("agentplane/demo/workflows/")}
    assert shipped <= workflows, f"demo runs {workflows}, expected at least {shipped}"
    assert len(workflows) >= 8


@pytest.fixture
def served(installed: Installed, tmp_path: Path) -> Iterator[str]:
    """`agentplane serve` from the fresh venv on a loopback port; yields its base URL."""
    port = free_port()
    log_path = tmp_path / "serve.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen([str(installed.agentplane), "serve", "--port", str(port), "--db",
                                 f"sqlite:///{tmp_path / 'serve.db'}"],
                                cwd=tmp_path, env=installed.env, stdout=log,
                                stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):  # a bound on the wait, not a timing assertion
            if proc.poll() is not None:
                pytest.fail(f"serve exited {proc.returncode}: {log_path.read_text()}")
            try:
                if httpx.get(f"{base}/api/v1/health", timeout=2).status_code in (200, 503):
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)


def test_the_console_pages_and_static_files_are_served(served: str) -> None:
    login = httpx.get(f"{served}/login", timeout=10)
    assert login.status_code == 200, login.text
    assert "<form" in login.text and "console.css" in login.text
    for asset in ("console.css", "console.js"):
        response = httpx.get(f"{served}/console/static/{asset}", timeout=10)
        assert response.status_code == 200, asset
        assert len(response.content) > 100, asset
