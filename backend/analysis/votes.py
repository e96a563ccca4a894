"""Votes over a set of answers: the one majority vote (plain or weighted) and the one answer histogram that
strategies, estimators' callers, pages and claims use. Unparseable answers (None) never vote; in a histogram they
are one bar, NONE."""
from __future__ import annotations

from collections import Counter
from typing import Iterable, Sequence

__all__ = ["NONE", "majority", "weighted_majority", "answer_counts"]

NONE = "(none)"  # the histogram's label for "no parseable answer"


def weighted_majority(answers: Sequence[str | None], weights: Iterable[float]) -> str | None:
    """The answer with the largest total weight; ties go to the answer seen first, so the result does not depend on
    hashing or set order. None when no answer is parseable."""
    total: dict[str, float] = {}
    for a, w in zip(answers, weights):
        if a is not None:
            total[a] = total.get(a, 0.0) + float(w)
    return max(total, key=total.__getitem__) if total else None  # max keeps the first of equal keys


def majority(answers: Sequence[str | None]) -> str | None:
    """Most frequent parseable answer (self-consistency); ties go to the answer seen first."""
    return weighted_majority(answers, [1.0] * len(answers))


def answer_counts(answers: Iterable[str | None]) -> Counter:
    """How many samples gave each answer, unparseable ones counted as NONE; most common first, ties in first-seen
    order."""
    c = Counter(NONE if a is None else a for a in answers)
    return Counter(dict(c.most_common()))
