"""The ``agentplane`` CLI in a fresh interpreter that can hide installed packages (as if an
extra were not installed) and report which modules a command loaded."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

from .harness import Cli, Result

OPTIONAL = ("mcp", "a2a", "fastapi", "starlette", "uvicorn", "jinja2", "multipart", "pygal",
            "prometheus_client", "opentelemetry", "psycopg", "psycopg_pool", "google.protobuf",
            "numpy", "imapclient")
"""Top-level packages that come only with an extra (pyproject.toml), never with the core."""

# Refuses to import the packages named in BLOCKED (and their submodules), as a missing
# installation does; then records the loaded modules at exit when MODULES_OUT names a file.
_PREAMBLE = """
import atexit, importlib.abc, json, sys
BLOCKED = {blocked!r}
class Missing(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if any(name == b or name.startswith(b + ".") for b in BLOCKED):
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None
sys.meta_path.insert(0, Missing())
if {modules_out!r}:
    atexit.register(lambda: open({modules_out!r}, "w").write(json.dumps(sorted(sys.modules))))
"""

_CLI = "sys.argv = ['agentplane', *sys.argv[1:]]\nfrom agentplane.cli import main\nmain()\n"


def run_python(cli: Cli, program: str, *args: str | Path, block: Iterable[str] = (),
               modules_out: Path | None = None, env: dict[str, str] | None = None) -> Result:
    """Run the Python ``program`` in ``cli``'s environment (plus ``env``), with the packages in
    ``block`` missing."""
    preamble = _PREAMBLE.format(blocked=tuple(block),
                                modules_out=str(modules_out) if modules_out else "")
    return subprocess.run([sys.executable, "-c", preamble + program, *(str(a) for a in args)],
                          env={**cli.env(), **(env or {})}, cwd=cli.home, capture_output=True,
                          text=True, timeout=120, check=False)


def start_isolated(cli: Cli, *args: str | Path, block: Iterable[str] = ()
                   ) -> subprocess.Popen[str]:
    """Start ``agentplane ARGS`` (a server, say) with the packages in ``block`` missing; the
    caller stops it."""
    program = _PREAMBLE.format(blocked=tuple(block), modules_out="") + _CLI
    return subprocess.Popen([sys.executable, "-c", program, *(str(a) for a in args)],
                            env=cli.env(), cwd=cli.home, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def run_isolated(cli: Cli, *args: str | Path, block: Iterable[str] = (),
                 modules_out: Path | None = None) -> Result:
    """Run ``agentplane ARGS`` as ``cli`` does, with the packages in ``block`` missing."""
    return run_python(cli, _CLI, *args, block=block, modules_out=modules_out)


def modules_of(cli: Cli, *args: str | Path) -> set[str]:
    """The modules ``agentplane ARGS`` had loaded when it exited (it must exit 0)."""
    out = cli.home / "modules.json"
    result = run_isolated(cli, *args, modules_out=out)
    assert result.returncode == 0, result.stderr
    return set(json.loads(out.read_text()))


def packages(modules: Iterable[str]) -> set[str]:
    """The top-level packages among ``modules``."""
    return {m.split(".")[0] for m in modules}


def optional_loaded(modules: Iterable[str]) -> list[str]:
    """The packages among ``modules`` that only an extra installs."""
    return sorted({p for m in modules for p in OPTIONAL if m == p or m.startswith(p + ".")})
