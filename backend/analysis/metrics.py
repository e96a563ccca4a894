"""Classifier metrics for verifiers: AUROC (exact, ties counted half) and accuracy at a threshold."""
from __future__ import annotations

import numpy as np


def auroc(labels, scores) -> float:
    """P(score of a random positive > score of a random negative), ties counted 1/2 (Mann-Whitney U / (n+ n-))."""
    y = np.asarray(labels, dtype=bool)
    s = np.asarray(scores, dtype=float)
    if y.shape != s.shape or y.ndim != 1:
        raise ValueError("labels and scores must be 1-D and of equal length")
    pos, neg = int(y.sum()), int((~y).sum())
    if pos == 0 or neg == 0:
        raise ValueError("AUROC needs at least one positive and one negative label")
    order = s.argsort(kind="mergesort")
    ranks = np.empty(len(s))
    sorted_s = s[order]
    # average ranks over ties
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_s)) + 1]
    ends = np.r_[starts[1:], len(s)]
    for a, b in zip(starts, ends):
        ranks[order[a:b]] = (a + b + 1) / 2
    return float((ranks[y].sum() - pos * (pos + 1) / 2) / (pos * neg))


def accuracy_at(labels, scores, threshold: float = 0.5) -> float:
    y = np.asarray(labels, dtype=bool)
    s = np.asarray(scores, dtype=float)
    if y.shape != s.shape or not len(y):
        raise ValueError("labels and scores must be non-empty and of equal length")
    return float(((s >= threshold) == y).mean())


def within_group_auroc(labels, scores, groups) -> tuple[float, int]:
    """Mean over groups (prompts) of the AUROC inside each group, and how many groups had both labels. A pooled
    AUROC can be high just by ranking easy prompts above hard ones; best-of-N only sees the ranking inside a prompt."""
    y = np.asarray(labels, dtype=bool)
    s = np.asarray(scores, dtype=float)
    g = np.asarray(groups)
    if not (y.shape == s.shape == g.shape) or y.ndim != 1:
        raise ValueError("labels, scores and groups must be 1-D and of equal length")
    order = np.argsort(g, kind="stable")  # one pass over the groups instead of a mask per group
    starts = np.flatnonzero(np.r_[True, g[order][1:] != g[order][:-1]])
    parts = [order[a:b] for a, b in zip(starts, np.r_[starts[1:], len(g)])]
    values = [auroc(y[i], s[i]) for i in parts if 0 < y[i].sum() < len(i)]
    if not values:
        raise ValueError("no group has both a positive and a negative label")
    return float(np.mean(values)), len(values)
