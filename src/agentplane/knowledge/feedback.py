"""Pseudo-relevance feedback: a question expanded with the words of its best passages.

A question and the passage that answers it often say the same thing in different words
("undo the writes" / "rollback", 上线 / 面世). Lexical search cannot match those words, but the
passages it ranks first for the rest of the question usually share vocabulary with the
answer. Relevance-model feedback (RM3: Lavrenko & Croft, 2001; Abdul-Jaleel et al., 2004)
reads the first pass's best ``docs`` passages, weighs each of their terms by how much of the
passage it is and how well the passage matched — ``Σ_d P(t|d) · P(d|q)`` — and searches again
with the question's own terms plus the ``terms`` best of those, the question keeping the share
``original`` of the weight. Nothing is learnt or listed per word: the expansion comes from the
tenant's own passages, at query time, and the index is unchanged.

Terms found in more than ``max_share`` of the tenant's items (words of every passage) and
terms of the question itself are never added. Each candidate's relevance-model weight is
multiplied by its BM25 idf, so a term that marks the feedback passages apart from the rest of
the corpus is preferred to one all passages share.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from agentplane.errors import ConfigError

from .lexical import LexicalIndex, idf
from .text import tokens


@dataclass(frozen=True, slots=True)
class Feedback:
    """How a question is expanded (the defaults were chosen on half of the labelled question
    set and checked on the other half: docs/retrieval.md)."""

    docs: int = 3
    """The first pass's best passages read for expansion terms."""
    terms: int = 10
    """Expansion terms added to the question."""
    original: float = 0.6
    """The share of the expanded query's weight the question's own terms keep."""
    max_share: float = 0.1
    """A term found in more than this share of the tenant's items is never added."""

    def __post_init__(self) -> None:
        if self.docs < 1 or self.terms < 0 or not 0 < self.original <= 1 or \
                not 0 < self.max_share <= 1:
            raise ConfigError(
                f"feedback settings out of range: docs ({self.docs}) ≥ 1, terms "
                f"({self.terms}) ≥ 0, original ({self.original}) in (0, 1], max_share "
                f"({self.max_share}) in (0, 1]")


def expand(index: LexicalIndex, tenant: str, query: str, ranked: Sequence[tuple[str, float]],
           feedback: Feedback) -> dict[str, float]:
    """``query``'s terms (weight 1 each) and the expansion terms drawn from ``ranked`` (the
    first pass: item ids and BM25 scores, best first), weighted so that the expansion holds
    ``1 - original`` of the total. Only the question's terms when nothing can be added."""
    own = dict.fromkeys(tokens(query), 1.0)
    top = [(item, score) for item, score in ranked[:feedback.docs] if score > 0]
    if not own or not top or feedback.terms == 0 or feedback.original >= 1:
        return own
    found = index.item_terms(tenant, [item for item, _ in top])
    total = sum(score for _, score in top)
    model: dict[str, float] = {}
    for item, score in top:
        if item not in found:
            continue
        _, terms = found[item]
        share = score / total / max(len(terms), 1)  # P(d|q) · P(t|d), each term once
        for term in terms:
            if term not in own:
                model[term] = model.get(term, 0.0) + share
    if not model:
        return own
    items, df = index.stats(tenant, model)
    limit = feedback.max_share * items
    weighted = {t: w * idf(items, df[t]) for t, w in model.items() if 0 < df.get(t, 0) <= limit}
    chosen = sorted(weighted, key=lambda t: (-weighted[t], t))[:feedback.terms]
    mass = sum(weighted[t] for t in chosen)
    if not mass:
        return own
    # The question's terms hold `original` of the weight (1 each), the expansion the rest.
    scale = (1 - feedback.original) / feedback.original * len(own) / mass
    return {**own, **{t: weighted[t] * scale for t in chosen}}
