"""Start-up time of the commands people call most, whole process, against ``python -c pass``.

Each figure is the median wall time of a fresh process (interpreter start, imports, the
command's work, exit) over N rounds; the rounds interleave the commands, so a burst of noise on
this shared machine lands on all of them alike. The baseline is ``python -c pass`` with the same
interpreter, measured in the same rounds. Beside it, the median CPU time of the process (user +
system, ``getrusage`` of the child), which a busy machine inflates far less than wall time.
Module counts (``len(sys.modules)`` at exit) show what a command loads, whatever the machine's
speed.

The processes run with bytecode caching on, whatever ``PYTHONDONTWRITEBYTECODE`` says here: an
installed package has its bytecode (installers compile it), so a person's ``agentplane`` does
not compile its modules at each start; the untimed first round writes the caches.

The journal is small: two demo runs, one completed and one waiting for an approval.

Run: .venv/bin/python bench/startup.py [--rounds N] [--before-src DIR]

``--before-src DIR`` times another source tree in the same rounds (DIR holds its ``agentplane``
package, e.g. ``git archive OLD src | tar -x -C /tmp/old`` then ``/tmp/old/src``), and adds
"after / before" figures: a before-and-after comparison under the same load.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from _common import Figure, print_figures, scratch

DEMO = Path(__file__).parent.parent / "src" / "agentplane" / "demo" / "workflows"

# Runs a command in this interpreter and writes how many modules were loaded to the file named
# by $STARTUP_MODULES, at exit (after the command's own output and exit code).
COUNTING = ("import atexit, os, sys\n"
            "atexit.register(lambda: open(os.environ['STARTUP_MODULES'], 'w')"
            ".write(str(len(sys.modules))))\n")
CLI = COUNTING + "sys.argv = ['agentplane', *sys.argv[1:]]\nfrom agentplane.cli import main\nmain()"


@dataclass(frozen=True)
class Probe:
    """One process to time: a name, its command line, and the goal it has (if any)."""

    name: str
    argv: list[str]
    counted: list[str]
    """The same work, run so that it reports its module count."""
    goal: str = ""


def _cli_script() -> list[str]:
    """The installed ``agentplane`` console script (what a person runs)."""
    script = Path(sys.executable).with_name("agentplane")
    if not script.exists():
        raise SystemExit(f"no agentplane script next to {sys.executable}: install the package")
    return [str(script)]


def _journal(folder: Path, env: dict[str, str]) -> tuple[str, str]:
    """A small journal: one completed run, one waiting for an approval. Returns (url, run id)."""
    url = f"sqlite:///{folder / 'journal.db'}"
    done = subprocess.run(
        [*_cli_script(), "run", str(DEMO / "refund-desk.yaml"), "--input",
         json.dumps("Refund order A1"), "--db", url, "--json"],
        capture_output=True, text=True, env=env, check=True)
    subprocess.run(
        [*_cli_script(), "run", str(DEMO / "payment-approval.yaml"), "--input",
         json.dumps("Pay ACME's invoice INV-2041 of 1200 EUR"), "--db", url, "--json"],
        capture_output=True, text=True, env=env, check=True)
    run_id = str(json.loads(done.stdout)["id"])
    return url, run_id


def _probes(url: str, run_id: str) -> list[Probe]:
    py = sys.executable

    def cli(name: str, args: list[str], goal: str = "") -> Probe:
        return Probe(name, [*_cli_script(), *args], [py, "-c", CLI, *args], goal)

    def code(name: str, statement: str, goal: str = "") -> Probe:
        return Probe(name, [py, "-c", statement], [py, "-c", COUNTING + statement], goal)

    return [
        code("python -c pass", "pass"),
        code("import agentplane", "import agentplane", "< 0.15 s"),
        code("import agentplane.runtime", "import agentplane.runtime"),
        cli("agentplane --help", ["--help"], "≤ 0.15 s"),
        cli("agentplane runs list", ["runs", "list", "--db", url], "≤ 0.25 s"),
        cli("agentplane runs show RUN", ["runs", "show", run_id, "--db", url]),
        cli("agentplane approvals list", ["approvals", "list", "--db", url]),
    ]


def _children_cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def _time(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall time and CPU time (user + system) of one process running ``argv``."""
    cpu = _children_cpu()
    start = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                   check=True)
    return time.perf_counter() - start, _children_cpu() - cpu


def _modules(probe: Probe, env: dict[str, str], folder: Path) -> int:
    out = folder / "modules.txt"
    subprocess.run(probe.counted, stdout=subprocess.DEVNULL, env={**env, "STARTUP_MODULES":
                   str(out)}, check=True)
    return int(out.read_text())


def run(rounds: int = 11, before_src: Path | None = None) -> list[Figure]:
    with scratch() as folder:
        env = {**os.environ, "AGENTPLANE_HOME": str(folder), "COLUMNS": "120"}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        url, run_id = _journal(folder, env)
        probes = _probes(url, run_id)
        trees = {"": env}
        if before_src is not None:
            trees["before: "] = {**env, "PYTHONPATH": str(before_src)}
        times: dict[str, list[float]] = {t + p.name: [] for t in trees for p in probes}
        cpus: dict[str, list[float]] = {t + p.name: [] for t in trees for p in probes}
        for tree_env in trees.values():  # warm the file cache and bytecode, untimed
            for p in probes:
                _time(p.argv, tree_env)
        for _ in range(rounds):
            for p in probes:
                for tree, tree_env in trees.items():
                    wall, cpu = _time(p.argv, tree_env)
                    times[tree + p.name].append(wall)
                    cpus[tree + p.name].append(cpu)
        modules = {tree + p.name: _modules(p, tree_env, folder)
                   for tree, tree_env in trees.items() for p in probes}
    median = {name: statistics.median(values) for name, values in times.items()}
    cpu_median = {name: statistics.median(values) for name, values in cpus.items()}
    figures: list[Figure] = []
    for tree in trees:
        floor = median[tree + "python -c pass"]
        for p in probes[1:]:
            name = tree + p.name
            figures.append(Figure("startup", f"{name} (median of {rounds})", median[name], "s",
                                  floor, "" if tree else p.goal))
            figures.append(Figure("startup", f"{name}: CPU", cpu_median[name], "s",
                                  cpu_median[tree + "python -c pass"]))
            figures.append(Figure("startup", f"{name}: modules loaded", modules[name],
                                  "modules", modules[tree + "python -c pass"]))
    if before_src is not None:
        for p in probes[1:]:
            figures.append(Figure("startup", f"{p.name}: after / before", median[p.name], "s",
                                  median["before: " + p.name]))
            figures.append(Figure("startup", f"{p.name}: CPU after / before", cpu_median[p.name],
                                  "s", cpu_median["before: " + p.name]))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=11)
    parser.add_argument("--before-src", type=Path, default=None,
                        help="Another tree's src folder, timed in the same rounds.")
    args = parser.parse_args()
    print_figures(run(args.rounds, args.before_src))


if __name__ == "__main__":
    main()
