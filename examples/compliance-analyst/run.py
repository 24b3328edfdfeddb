"""The compliance analyst, offline: the rules go into the knowledge base, the analyst reviews a
supplier's contract, and every finding's quotes and citation are checked.

    python examples/compliance-analyst/run.py [--db compliance-analyst.db] [DOCUMENT]

1. ``rules/`` (procurement rules in English and Chinese) are added to the tenant's knowledge
   base (as ``agentplane kb add examples/compliance-analyst/rules/*.md`` would).
2. The analyst reads ``documents/acme-cloud-services.md`` (untrusted: the supplier wrote it);
   per-turn retrieval brings the rules that speak about its clauses; it answers one finding per
   rule: the verdict, the clause quoted, the rule quoted and cited by ``[kb:…]``.
3. Each finding is checked: the cited passage was in the context packet journaled for the call;
   the rule quote is in that passage's text (read back from the knowledge base by id); the
   clause quote is in the document. The script exits 1 if one is not.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from analyst import analyst_model, findings, flow, problems

from agentplane import Runtime
from agentplane.journal import EventType
from agentplane.knowledge.store import KnowledgeBase
from agentplane.testing import FunctionModel

HERE = Path(__file__).resolve().parent
TENANT = "default"


async def main(db_path: Path, document: str) -> int:
    for stale in (db_path, Path(f"{db_path}-wal"), Path(f"{db_path}-shm")):
        stale.unlink(missing_ok=True)
    text = (HERE / "documents" / document).read_text(encoding="utf-8")
    async with Runtime(f"sqlite:///{db_path}", model=FunctionModel(analyst_model)) as rt:
        kb = KnowledgeBase(rt.store.database)
        for path in sorted((HERE / "rules").glob("*.md")):
            added = kb.add_file(TENANT, path, source=f"rules/{path.name}", owner="compliance")
            print(f"rules/{path.name}: {added.document.chunks} chunks")
        result = await rt.run(flow, f"Review {document} against our procurement rules.",
                              tenant=TENANT)
        if result.status != "completed":
            print(f"run {result.run_id} ended {result.status}: {result.error}", file=sys.stderr)
            return 1
        shown = {str(i["id"]) for e in result.events if e.type == EventType.CONTEXT_PACKET
                 for i in e.data["packet"]["items"]}
        found = findings(str(result.output))
        print(f"\n== Findings of run {result.run_id}\n{result.output}\n")
        texts = {c.id: c.text for c in kb.chunks(TENANT, [f["id"] for f in found])}
    wrong = problems(found, shown, texts, text)
    if not found or wrong:
        print("\n".join(wrong) or "no findings", file=sys.stderr)
        return 1
    print(f"{len(found)} findings; every quote is exact and every cited passage was in the "
          f"journaled context packet. Journal: sqlite:///{db_path}")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, default=Path("compliance-analyst.db"),
                        help="SQLite file for the journal (replaced; default: %(default)s)")
    parser.add_argument("document", nargs="?", default="acme-cloud-services.md",
                        help="a document of documents/ (default: %(default)s)")
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.db, args.document)))
