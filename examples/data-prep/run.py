"""The data-preparation agent, offline: profile a CSV, approve or refuse each proposed cleaning
step, read the report, then roll the run back and get the original file back byte for byte.

    python examples/data-prep/run.py [--db data-prep.db] [--work data-prep-work]

1. ``data/customers.csv`` (stray spaces, three date formats, country names next to ISO codes, a
   duplicate row, customers without an e-mail) is copied into the work folder.
2. The agent profiles it and proposes one step per issue; each ``apply_step`` waits for a
   person. The reviewer approves four and refuses dropping the customers without an e-mail
   ("we keep them: they order by phone").
3. The agent compares the result with the original and reports what changed and what it left.
4. ``agentplane runs rollback`` (here ``engine.rollback``) undoes the applied steps newest first
   with ``revert_step``; the file is the original again (SHA-256 compared).

The script exits 1 if a step the reviewer refused was applied, or the rollback does not give
the original back. Afterwards ``AGENTPLANE_DB=sqlite:///data-prep.db agentplane serve`` shows
the run, its approvals and the rollback in the console.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import shutil
import sys
from pathlib import Path

from data_prep import flow, prep_model

from agentplane import Runtime
from agentplane.testing import FunctionModel

HERE = Path(__file__).resolve().parent
REFUSE = {"drop_rows_missing": "we keep customers without an e-mail: they order by phone"}


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def main(db_path: Path, work: Path) -> int:
    for stale in (db_path, Path(f"{db_path}-wal"), Path(f"{db_path}-shm")):
        stale.unlink(missing_ok=True)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    os.environ["DATA_PREP_DIR"] = str(work)
    data = work / "customers.csv"
    shutil.copyfile(HERE / "data" / "customers.csv", data)
    original = sha(data)
    async with Runtime(f"sqlite:///{db_path}", model=FunctionModel(prep_model),
                       actor="user:reviewer") as rt:
        result = await rt.run(flow, "Prepare customers.csv for the churn analysis.")
        applied: list[str] = []
        while result.status == "waiting":
            for approval in result.waiting:
                args = approval.data.get("arguments") or {}
                step = str(args.get("step"))
                what = f"{step}" + (f"({args['column']})" if args.get("column") else "")
                if step in REFUSE:
                    print(f"  reviewer refuses {what}: {REFUSE[step]}")
                    result = await rt.deny(approval.id, reason=REFUSE[step])
                else:
                    print(f"  reviewer approves {what}")
                    applied.append(step)
                    result = await rt.approve(approval.id, reason="looks right")
        if result.status != "completed":
            print(f"run {result.run_id} ended {result.status}: {result.error}", file=sys.stderr)
            return 1
        print(f"\n== Report of run {result.run_id}\n{result.output}\n")
        print(data.read_text(encoding="utf-8"))
        rows = data.read_text(encoding="utf-8").splitlines()
        if not any(",," in row for row in rows):
            print("a refused step was applied: rows without an e-mail are gone", file=sys.stderr)
            return 1
        report = await rt.engine.rollback(result.run_id, actor="user:reviewer")
        for entry in report:
            print(f"  rollback {entry['tool']} at {entry['step_key']}: {entry['outcome']}")
    if sha(data) != original:
        print("the rollback did not restore the original file", file=sys.stderr)
        return 1
    print(f"\n{len(applied)} steps applied and rolled back; {data.name} is the original again "
          f"(SHA-256 {original[:12]}…). Journal: sqlite:///{db_path}")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, default=Path("data-prep.db"),
                        help="SQLite file for the journal (replaced; default: %(default)s)")
    parser.add_argument("--work", type=Path, default=Path("data-prep-work"),
                        help="work folder for the data (replaced; default: %(default)s)")
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.db, args.work)))
