"""The support desk demo, offline: knowledge base, and factual, experiential and procedural
memory across two runs.

    python examples/support-desk/run.py [--db support-desk.db]

1. Setup: the desk's policies (policies/, Chinese and English) go into the tenant's knowledge
   base (as ``agentplane kb add examples/support-desk/policies/*.md`` would), and the articles
   they name into its knowledge graph (ontology.yaml, rules.yaml).
2. First case: customer C-1042's kettle arrived damaged (680 CNY). The support agent remembers
   that the customer writes Chinese (factual), asks for the refund, a supervisor approves it
   (over 500 CNY); the run's summary (experiential) and its tool sequence (a procedural skill,
   pending) are written when it ends. The compliance analyst cites the rule it retrieved.
3. A team lead promotes the skill (``agentplane memory skills promote``).
4. Second case, same customer: the support agent recalls the preferred language and the past
   case and cites them; the compliance analyst cites the rule text and the promoted procedure.
5. Every id an agent cited is checked against the context packet journaled for its model call
   ("why did the agent know this"); the script exits 1 if one is not.

The journal is a fresh SQLite file (``--db``, default ``support-desk.db`` here): afterwards
``AGENTPLANE_DB=sqlite:///support-desk.db agentplane serve`` shows the runs, their context
packets, the Knowledge and the Memory pages in the console.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from support_desk import CITED, desk_model, flow

from agentplane import Runtime
from agentplane.journal import EventType
from agentplane.knowledge.extract import load_rules
from agentplane.knowledge.graph import KnowledgeGraph
from agentplane.knowledge.ontology import load_ontology
from agentplane.knowledge.store import KnowledgeBase
from agentplane.memory.skills import Skills
from agentplane.memory.store import MemoryStore
from agentplane.testing import FunctionModel

HERE = Path(__file__).resolve().parent
TENANT = "default"
CASES = [
    {"customer_id": "C-1042", "order": "A-77", "amount_cny": 680,
     "message": "我买的旅行水壶到货时已经摔坏了，请给我退款。"},
    {"customer_id": "C-1042", "order": "A-91", "amount_cny": 620,
     "message": "又一个订单坏了：台灯的灯罩碎了，请退款。"},
]


@dataclass
class Case:
    """One finished run: what each agent answered and cited, and what its packets held."""

    run_id: str
    answers: dict[str, str]
    cited: dict[str, list[str]]
    packets: dict[str, set[str]]

    def uncited(self) -> list[tuple[str, str]]:
        """(agent, id) of every citation that is not in that agent's journaled packets."""
        return [(agent, i) for agent, ids in self.cited.items() for i in ids
                if i not in self.packets.get(agent, set())]


async def ingest(db: Any) -> list[str]:
    """The policies into the knowledge base, and the articles they name into its graph (as
    ``agentplane kb add`` and ``agentplane kb graph extract`` would)."""
    kb = KnowledgeBase(db)
    added = []
    chunks = []
    for path in sorted((HERE / "policies").glob("*.md")):
        result = kb.add_file(TENANT, path, source=f"policies/{path.name}", owner="compliance")
        added.append(f"{path.name}: {result.document.chunks} chunks")
        chunks += kb.document_chunks(TENANT, result.document.id)
    ontology = load_ontology(HERE / "ontology.yaml")
    graph = KnowledgeGraph(db, ontology)
    report = await graph.aextract(TENANT, chunks, load_rules(HERE / "rules.yaml", ontology))
    graph.save_ontology(TENANT, "ontology.yaml")
    names = sorted({e.name for e in report.entities})
    added.append(f"graph: {', '.join(names)} (each with the chunks that name it)")
    return added


def case_of(run_id: str, events: Any) -> Case:
    answers: dict[str, str] = {}
    packets: dict[str, set[str]] = {}
    for e in events:
        if e.type == EventType.CONTEXT_PACKET:
            ids = {str(i["id"]) for i in e.data["packet"]["items"]}
            packets.setdefault(str(e.data["agent"]), set()).update(ids)
        elif e.type == EventType.AGENT_COMPLETED:
            answers[str(e.data.get("agent"))] = str(e.data.get("output") or "")
    cited = {agent: CITED.findall(text) for agent, text in answers.items()}
    return Case(run_id, answers, cited, packets)


async def run_case(runtime: Runtime, case: dict[str, Any]) -> Case:
    result = await runtime.run(flow, case, tenant=TENANT)
    while result.status == "waiting":  # a supervisor approves refunds above 500 CNY
        for approval in result.waiting:
            print(f"  supervisor approves {approval.data.get('tool')} "
                  f"({approval.data.get('reason')})")
            result = await runtime.approve(
                approval.id, reason="damage photo checked; over 500 CNY (article 3)")
    if result.status != "completed":
        raise SystemExit(f"run {result.run_id} ended {result.status}: {result.error}")
    return case_of(result.run_id, result.events)


def show(title: str, case: Case) -> None:
    print(f"\n== {title}: run {case.run_id}")
    for agent, text in case.answers.items():
        print(f"-- {agent} (cited {', '.join(case.cited[agent]) or 'nothing'})")
        print(text)


async def main(db_path: Path) -> int:
    for stale in (db_path, Path(f"{db_path}-wal"), Path(f"{db_path}-shm")):
        stale.unlink(missing_ok=True)  # a fresh journal for every demo
    url = f"sqlite:///{db_path}"
    async with Runtime(url, model=FunctionModel(desk_model), actor="user:supervisor") as rt:
        print("Knowledge base:", "; ".join(await ingest(rt.store.database)))
        first = await run_case(rt, CASES[0])
        show("First case", first)
        skills = Skills(MemoryStore(rt.store.database))
        for skill in skills.list(TENANT, status="pending"):
            skills.promote(TENANT, skill.id, by="user:team-lead",
                           reason="the refund procedure support followed is the one to keep")
            print(f"\nPromoted skill {skill.id}: {' → '.join(s.tool for s in skill.steps)}")
        second = await run_case(rt, CASES[1])
        show("Second case", second)
        kinds = {m.kind for m in MemoryStore(rt.store.database).list(TENANT)}
        print(f"\nMemory kinds kept: {', '.join(sorted(kinds))}")
    wrong = first.uncited() + second.uncited()
    if wrong:
        print(f"cited but not in the journaled packet: {wrong}", file=sys.stderr)
        return 1
    print(f"Every cited id is in its agent's journaled context packet. Journal: {url}")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, default=Path("support-desk.db"),
                        help="SQLite file for the journal (replaced; default: %(default)s)")
    sys.exit(asyncio.run(main(parser.parse_args().db)))
