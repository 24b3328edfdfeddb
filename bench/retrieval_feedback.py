"""Pseudo-relevance feedback's settings, chosen on one half of the labelled questions and
reported on the other half and on all (``agentplane.knowledge.feedback``).

The questions are split by their number within each language: odd ones (zh-01, zh-03, …,
en-01, …) are the tuning half, even ones the held-out half. Every setting of the grid is run
with lexical + graph (the configuration the goal is stated for) on the same knowledge base and
graph as ``bench/retrieval_quality.py``; the setting with the best recall@5 (then MRR@5) on the
tuning half is the one reported, with ``Feedback()``'s defaults beside it. No feedback (plain
BM25, the retriever's default) is the baseline of each figure.

Run: .venv/bin/python bench/retrieval_feedback.py [--seeds DIR] [--all]
     (--all prints every setting's scores, not only the chosen one)
"""

from __future__ import annotations

import argparse
import itertools
import sys
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import _kbcorpus as corpus
from _common import Figure, print_figures, scratch
from _kbcorpus import Question, Scores
from agentplane.knowledge.feedback import Feedback
from agentplane.knowledge.retrieve import Retriever
from agentplane.storage import open_database
from retrieval_quality import K, build, evaluate

MODES = ("lexical", "graph")
DOCS = (2, 3, 5, 8)
TERMS = (5, 10, 20)
ORIGINAL = (0.5, 0.6, 0.7, 0.8)


def halves(questions: Sequence[Question]) -> dict[str, list[Question]]:
    """The tuning half (odd numbers within each language), the held-out half, and all."""
    tune = [q for q in questions if int(q.id.rsplit("-", 1)[1]) % 2 == 1]
    held = [q for q in questions if q not in tune]
    return {"tune": tune, "held-out": held, "all": list(questions)}


def scores(retriever: Retriever, split: dict[str, list[Question]]) -> dict[str, Scores]:
    ranks = {q.id: o.rank for q, o in zip(split["all"], evaluate(retriever, split["all"], MODES),
                                           strict=True)}
    return {name: corpus.score((ranks[q.id] for q in group), K) for name, group in split.items()}


def run(seeds: str | None = None, *, show_all: bool = False) -> list[Figure]:
    files = corpus.load_corpus(corpus.seeds_dir(seeds))
    split = halves(corpus.load_questions())
    with scratch() as folder:
        db = open_database(str(folder / "kb.db"))
        try:
            built = build(db, files)
            plain = scores(Retriever(built.kb, built.graph, feedback=None), split)
            results: dict[Feedback, dict[str, Scores]] = {}
            for docs, terms, original in itertools.product(DOCS, TERMS, ORIGINAL):
                setting = Feedback(docs=docs, terms=terms, original=original)
                results[setting] = scores(Retriever(built.kb, built.graph, feedback=setting),
                                          split)
                if show_all:
                    print(_line(setting, results[setting]))
        finally:
            db.close()
    best = max(results, key=lambda f: (results[f]["tune"].recall, results[f]["tune"].mrr))
    default = Feedback()
    print(f"{len(split['tune'])} tuning / {len(split['held-out'])} held-out questions; "
          f"lexical + graph")
    print(f"no feedback:       {_line(None, plain)}")
    print(f"chosen on tuning:  {_line(best, results[best])}")
    if default in results:
        print(f"Feedback() default: {_line(default, results[default])}")
    figures = []
    for label, setting in (("chosen", best), ("default", default)):
        if setting not in results:
            continue
        for half in ("tune", "held-out", "all"):
            got, base = results[setting][half], plain[half]
            figures.append(Figure("kb_feedback", f"recall@5 lexical+graph {label} {half}",
                                  got.recall, "ratio", base.recall))
            figures.append(Figure("kb_feedback", f"MRR@5 lexical+graph {label} {half}",
                                  got.mrr, "ratio", base.mrr))
    return figures


def _line(setting: Feedback | None, by: dict[str, Scores]) -> str:
    name = ("off" if setting is None else
            f"docs={setting.docs} terms={setting.terms} original={setting.original}")
    return name + "  " + "  ".join(f"{half} R@5 {s.recall:.3f} MRR {s.mrr:.3f}"
                                   for half, s in by.items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", help="the reference documents' folder")
    parser.add_argument("--all", action="store_true", dest="show_all",
                        help="print every setting's scores")
    args = parser.parse_args()
    print_figures(run(args.seeds, show_all=args.show_all))


if __name__ == "__main__":
    main()
