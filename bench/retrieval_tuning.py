"""Settings of two general techniques against paraphrase, chosen on one half of the labelled
questions and reported on the other half and on all, with lexical + graph (the configuration
the goal, recall@5 ≥ 0.9, is stated for):

- ``chars`` — lexical search's candidates ranked again by the Chinese character unigrams and
  bigrams they share with the question (``agentplane.knowledge.chars``): the pool of
  candidates and the list's weight in rank fusion;
- ``feedback`` — pseudo-relevance feedback, RM3-style (``agentplane.knowledge.feedback``):
  passages read, terms added, the question's share of the weight.

The questions are split by their number within each language: odd ones (zh-01, zh-03, …,
en-01, …) are the tuning half, even ones the held-out half. For each technique, the setting
with the best recall@5 on the tuning half — among equals the cheaper (the smaller ``chars``
pool: each candidate's text is scanned per query), then the better MRR@5 — is reported on all
three; the baseline
of each figure is the same knowledge base and graph without the technique (``chars`` weight 0,
no feedback). The knowledge base and graph are those of ``bench/retrieval_quality.py``.

Run: .venv/bin/python bench/retrieval_tuning.py [--seeds DIR] [--all]
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
from agentplane.knowledge.retrieve import CHAR_POOL, WEIGHTS, Retriever
from agentplane.storage import open_database
from retrieval_quality import Built, K, build, evaluate

MODES = ("lexical", "graph")
CHAR_POOLS = (20, 30, 50, 100)
CHAR_WEIGHTS = (0.25, 0.5, 0.75, 1.0)
FEEDBACK_DOCS = (2, 3, 5, 8)
FEEDBACK_TERMS = (5, 10, 20)
FEEDBACK_ORIGINAL = (0.5, 0.6, 0.7, 0.8)

Split = dict[str, list[Question]]


def halves(questions: Sequence[Question]) -> Split:
    """The tuning half (odd numbers within each language), the held-out half, and all."""
    tune = [q for q in questions if int(q.id.rsplit("-", 1)[1]) % 2 == 1]
    held = [q for q in questions if q not in tune]
    return {"tune": tune, "held-out": held, "all": list(questions)}


def scores(retriever: Retriever, split: Split) -> dict[str, Scores]:
    outcomes = evaluate(retriever, split["all"], MODES)
    ranks = {o.question.id: o.rank for o in outcomes}
    return {name: corpus.score((ranks[q.id] for q in group), K) for name, group in split.items()}


def settings(built: Built) -> dict[str, dict[str, Retriever]]:
    """Per technique: its baseline ("off") and each setting of its grid, as retrievers."""
    off_chars = {"chars": 0.0}
    chars = {"off": Retriever(built.kb, built.graph, weights=off_chars)}
    for pool, weight in itertools.product(CHAR_POOLS, CHAR_WEIGHTS):
        chars[f"pool={pool} weight={weight}"] = Retriever(
            built.kb, built.graph, weights={"chars": weight}, char_pool=pool)
    feedback = {"off": Retriever(built.kb, built.graph, weights=off_chars)}
    for docs, terms, original in itertools.product(FEEDBACK_DOCS, FEEDBACK_TERMS,
                                                   FEEDBACK_ORIGINAL):
        feedback[f"docs={docs} terms={terms} original={original}"] = Retriever(
            built.kb, built.graph, weights=off_chars,
            feedback=Feedback(docs=docs, terms=terms, original=original))
    return {"chars": chars, "feedback": feedback}


def run(seeds: str | None = None, *, show_all: bool = False) -> list[Figure]:
    files = corpus.load_corpus(corpus.seeds_dir(seeds))
    split = halves(corpus.load_questions())
    results: dict[str, dict[str, dict[str, Scores]]] = {}
    with scratch() as folder:
        db = open_database(str(folder / "kb.db"))
        try:
            built = build(db, files)
            for technique, grid in settings(built).items():
                results[technique] = {}
                for name, retriever in grid.items():
                    results[technique][name] = scores(retriever, split)
                    if show_all:
                        print(f"{technique:<9} {_line(name, results[technique][name])}")
        finally:
            db.close()
    print(f"{len(split['tune'])} tuning / {len(split['held-out'])} held-out questions; "
          f"lexical + graph; defaults: chars pool={CHAR_POOL} weight={WEIGHTS['chars']}, "
          f"feedback off")
    figures = []
    for technique, by_setting in results.items():
        plain = by_setting.pop("off")
        best = max(by_setting, key=lambda s: (by_setting[s]["tune"].recall, -_cost(s),
                                              by_setting[s]["tune"].mrr))
        print(f"{technique:<9} off: {_line('', plain)}")
        print(f"{technique:<9} chosen on the tuning half: {_line(best, by_setting[best])}")
        for half in ("tune", "held-out", "all"):
            got, base = by_setting[best][half], plain[half]
            figures.append(Figure("kb_tuning", f"recall@5 {technique} ({best}) {half}",
                                  got.recall, "ratio", base.recall))
            figures.append(Figure("kb_tuning", f"MRR@5 {technique} ({best}) {half}",
                                  got.mrr, "ratio", base.mrr))
    return figures


def _cost(setting: str) -> int:
    """What a setting costs per query, for choosing among equals: the ``chars`` pool."""
    fields = dict(part.split("=") for part in setting.split())
    return int(fields.get("pool", 0))


def _line(name: str, by: dict[str, Scores]) -> str:
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
