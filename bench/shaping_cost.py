"""Context shaping's cost per model call, by how many candidates it is given.

Before each model call that uses retrieved context, the runtime shapes the candidates (passages
and memories) into a packet, renders it for the model and journals its JSON form. This measures
that whole step — ``shape`` + ``render_packet`` + ``packet_json`` — on seeded synthetic
candidates, mixed Chinese and English, a fifth of them near-duplicates of another, a tenth
conflicting facts and a tenth stale, with a 2,000-token budget. Near-duplicate detection
compares pairs, so the cost grows with the square of the candidates; the figures show where
that starts to matter.

Baseline, measured in the same run: segmenting the same candidates' text once
(``text.tokens``), the floor any shaping that compares words must pay.

Run: .venv/bin/python bench/shaping_cost.py [--sizes 5,20,50,100] [--calls 200]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Figure, print_figures, timed_ms
from agentplane.knowledge.shaping import packet_json, render_packet, shape
from agentplane.knowledge.text import tokens
from agentplane.knowledge.types import ContextItem

NOW = "2026-06-01T00:00:00Z"
ENGLISH = ["invoice", "supplier", "approval", "payment", "contract", "refund", "customer",
           "account", "policy", "manager", "threshold", "quarter", "report", "risk", "review",
           "audit", "delivery", "steel", "copper", "order", "budget"]
CHINESE = ["供应商", "发票", "审批", "付款", "合同", "客户", "账户", "制度", "经理", "金额",
           "季度", "报告", "风险", "审计", "交付", "订单", "预算"]


def sentence(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return " ".join(rng.choice(ENGLISH) for _ in range(rng.randint(12, 40))) + "."
    return "".join(rng.choice(CHINESE) for _ in range(rng.randint(10, 30))) + "。"


def candidates(n: int, rng: random.Random) -> list[ContextItem]:
    items: list[ContextItem] = []
    for i in range(n):
        roll = rng.random()
        text = sentence(rng)
        fields: dict[str, str | None] = {}
        if roll < 0.2 and items:  # a near-duplicate: another item's text, one word added
            text = rng.choice(items).text + " also"
        elif roll < 0.3:
            fields = {"subject": f"supplier-{i % 3}", "relation": "iban",
                      "value": f"DE{rng.randint(10, 99)}"}
        elif roll < 0.4:
            fields = {"valid_until": "2026-01-01"}
        items.append(ContextItem(
            id=f"kb:{i}", kind="chunk", text=text, source=f"doc-{i % 7}.md",
            trust="untrusted" if rng.random() < 0.2 else "trusted", score=rng.random(),
            time=f"2026-0{rng.randint(1, 5)}-01", **fields))
    return items


def per_call_ms(call: Callable[[Sequence[ContextItem]], object],
                sets: Sequence[Sequence[ContextItem]]) -> list[float]:
    return timed_ms(call, sets, warm=5)


def step(items: Sequence[ContextItem]) -> object:
    packet = shape("which supplier invoices need approval 发票审批", items, budget_tokens=2000,
                   now=NOW)
    return render_packet(packet), packet_json(packet)


def floor(items: Sequence[ContextItem]) -> object:
    return [tokens(i.text) for i in items]


def main() -> None:
    parser = argparse.ArgumentParser(description="context shaping cost per model call")
    parser.add_argument("--sizes", default="5,20,50,100")
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()
    rng = random.Random(16)
    figures: list[Figure] = []
    for size in (int(s) for s in args.sizes.split(",")):
        sets = [candidates(size, rng) for _ in range(args.calls)]
        shaped = per_call_ms(step, sets)
        base = per_call_ms(floor, sets)
        figures.append(Figure("shaping", f"shape+render+json, {size} candidates, mean",
                              statistics.mean(shaped), "ms", statistics.mean(base)))
        figures.append(Figure("shaping", f"shape+render+json, {size} candidates, p99",
                              sorted(shaped)[int(0.99 * (len(shaped) - 1))], "ms",
                              sorted(base)[int(0.99 * (len(base) - 1))]))
    print_figures(figures)


if __name__ == "__main__":
    main()
