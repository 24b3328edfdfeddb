"""What knowledge and memory add to a run: the context packet and the tool choice.

Runs one scripted agent (one model call, no tools) many times on a SQLite journal, twice in the
same process: without context settings (the baseline), then with ``knowledge`` (lexical, k=5,
1500 tokens) and ``memory: {recall: [factual, experiential]}`` on a knowledge base and a few
hundred memories. The difference per run is what retrieving, recalling, shaping, rendering,
journaling one ``context.packet`` and tracing its items for provenance costs.

The knowledge base: ``--corpus docs`` (default) is the retrieval benchmark's English corpus
(this project's docs, ``bench/data/kb/en``), asked its English questions in turn;
``--corpus synthetic`` is ``--chunks`` chunks of Zipf-distributed synthetic words with domain
words mixed in densely (a query's terms hit many chunks: a harder case than prose).

Tool relevance: one choice among a 100-tool catalogue (BM25 over names and descriptions, the
tool list's statistics cached), against the baseline of building the same 100 tool
definitions a model call is sent anyway.

Run: .venv/bin/python bench/context_cost.py [--chunks N] [--runs N]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import timeit
from pathlib import Path
from typing import Any

from _common import Figure, Stopwatch, print_figures, scratch
from _kbcorpus import ENGLISH, load_questions
from agentplane.journal import SQLiteJournal
from agentplane.knowledge.store import KnowledgeBase
from agentplane.memory.store import MemoryStore
from agentplane.models.base import ToolDefinition
from agentplane.runtime import Runtime, workflow_from_dict
from agentplane.runtime.tool_choice import choose

HERE = Path(__file__).resolve().parent
DOMAIN = ["invoice", "refund", "order", "customer", "shipment", "parcel", "account", "payment",
          "supplier", "contract", "warranty", "return", "damage", "delivery", "address",
          "policy", "approval", "limit", "manager", "ledger", "card", "bank", "transfer"]
VOCABULARY = [f"w{n}" for n in range(8000)]
"""Words of the synthetic text, drawn by a Zipf law (as words of real text are), with the
domain words among them: a query's terms are as selective as in prose."""
QUESTION = "Is a refund of a damaged parcel paid back to the card, and who approves it?"


ZIPF = list(itertools.accumulate(1 / rank for rank in range(1, len(VOCABULARY) + 1)))


def _sentence(rng: random.Random) -> str:
    words = rng.choices(VOCABULARY, cum_weights=ZIPF, k=rng.randint(8, 16))
    words = [rng.choice(DOMAIN) if rng.random() < 0.1 else w for w in words]
    return " ".join(words).capitalize() + "."


def _fill(store: SQLiteJournal, corpus: str, chunks: int) -> list[str]:
    """Fill the knowledge base and memory; returns the questions to ask."""
    rng = random.Random(7)
    kb = KnowledgeBase(store.database)
    questions = [QUESTION]
    if corpus == "docs":
        for path in sorted(ENGLISH.glob("*.md")):
            kb.add("acme", path.name, path.read_text(encoding="utf-8"))
        questions = [q.question for q in load_questions() if q.language == "en"]
    else:
        per_doc = 10
        for d in range(max(1, chunks // per_doc)):
            body = "\n\n".join(f"## Part {p}\n\n" + " ".join(_sentence(rng) for _ in range(6))
                               for p in range(per_doc))
            kb.add("acme", f"doc-{d}.md", f"# Document {d}\n\n{body}")
    memories = MemoryStore(store.database)
    for n in range(300):
        memories.remember_fact("acme", f"C-{n % 50}", f"fact{n}", _sentence(rng),
                               source="crm", trust="trusted", created_by="bench")
    return questions


def _flow(context: bool) -> Any:
    agent: dict[str, Any] = {"name": "desk", "script": [{"content": "ok"}]}
    if context:
        agent |= {"knowledge": {"modes": ["lexical"]},
                  "memory": {"recall": ["factual", "experiential"], "subject": "$.customer"}}
    return workflow_from_dict({"name": f"ctx-{context}", "agents": [agent],
                               "steps": [{"agent": "desk"}]}, HERE)


async def _runs(store: SQLiteJournal, context: bool, runs: int, questions: list[str]
                ) -> float:
    """Seconds per run of the one-call workflow."""
    runtime = Runtime(store)
    flow = _flow(context)
    await runtime.run(flow, {"customer": "C-7", "q": QUESTION}, tenant="acme")  # warm up
    with Stopwatch() as watch:
        for n in range(runs):
            asked = {"customer": "C-7", "q": questions[n % len(questions)]}
            await runtime.run(flow, asked, tenant="acme")
    await runtime.aclose()
    return watch.seconds / runs


def _tool_choice() -> tuple[float, float]:
    things = ["invoice", "customer", "order", "shipment", "ticket", "refund", "payment",
              "product", "supplier", "employee"]
    actions = ["get", "list", "create", "update", "delete", "search", "export", "archive",
               "approve", "tag"]
    specs = [(f"{t}_{a}", f"{a.capitalize()} {t}s of an account, by id or free text.")
             for t in things for a in actions]

    def definitions() -> list[ToolDefinition]:
        return [ToolDefinition(n, d, {"type": "object", "properties": {}}) for n, d in specs]

    tools = definitions()
    n = 2000
    chosen = timeit.timeit(lambda: choose(tools, ["order_get"], QUESTION, 8), number=n) / n
    built = timeit.timeit(definitions, number=n) / n
    return chosen, built


def run(corpus: str, chunks: int, runs: int) -> list[Figure]:
    with scratch() as folder:
        store = SQLiteJournal(folder / "journal.db")
        questions = _fill(store, corpus, chunks)
        size = sum(d.chunks for d in KnowledgeBase(store.database).documents("acme"))
        plain = asyncio.run(_runs(store, False, runs, questions))
        with_context = asyncio.run(_runs(store, True, runs, questions))
        asyncio.run(store.close())
    chosen, built = _tool_choice()
    return [
        Figure("context", f"run with a context packet ({corpus}, {size} chunks)",
               with_context * 1000,
               "ms", plain * 1000, "baseline: the same run without context settings"),
        Figure("context", "context packet, added per agent invocation",
               (with_context - plain) * 1000, "ms"),
        Figure("context", "tool choice among 100 tools", chosen * 1e6, "us", built * 1e6,
               "baseline: building the 100 tool definitions"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--corpus", choices=["docs", "synthetic"], default="docs")
    parser.add_argument("--chunks", type=int, default=10_000,
                        help="chunks of the synthetic corpus")
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    print_figures(run(args.corpus, args.chunks, args.runs))


if __name__ == "__main__":
    main()
