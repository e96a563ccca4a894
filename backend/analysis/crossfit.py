"""Picking a best point without scoring it on the prompts it was picked on: split the prompts into folds (stratified,
seeded), choose on the other folds, score on each; every prompt is scored by a choice made without it. Whatever
picks a "best" setting for a verdict (claims, allocation) goes through here."""
from __future__ import annotations

import numpy as np

__all__ = ["folds", "crossfit_pick"]


def folds(n_prompts: int, strata=None, *, k: int = 2, seed: int = 0) -> np.ndarray:
    """A fold label 0..k−1 per prompt: within each stratum (e.g. difficulty band) prompts are shuffled (seeded) and
    dealt round-robin, so every fold holds a share of every stratum."""
    if n_prompts < k:
        raise ValueError(f"cross-fitting over {k} folds needs at least {k} prompts, got {n_prompts}.")
    labels = np.zeros(n_prompts, dtype=object) if strata is None else np.asarray(strata, dtype=object)
    if len(labels) != n_prompts:
        raise ValueError(f"strata has {len(labels)} entries for {n_prompts} prompts.")
    rng = np.random.default_rng(seed)
    out = np.empty(n_prompts, dtype=int)
    start = 0
    for s in sorted(set(labels), key=str):
        idx = rng.permutation(np.flatnonzero(labels == s))
        out[idx] = (np.arange(len(idx)) + start) % k
        start += len(idx)  # the next stratum starts where this one stopped, so fold sizes stay balanced
    return out


def crossfit_pick(acc: np.ndarray, fold: np.ndarray, *, maximise: bool = True) -> tuple[np.ndarray, dict]:
    """Per prompt, the accuracy of the candidate chosen on the OTHER folds: acc [candidates, prompts] (no NaN),
    fold from folds(). Ties go to the lower candidate index (order candidates cheapest first). Returns (values
    [prompts], {fold: chosen candidate index}); maximise=False picks the lowest mean instead."""
    a = np.asarray(acc, dtype=float)
    if a.ndim != 2 or a.shape[0] == 0 or a.shape[1] != len(fold):
        raise ValueError(f"acc must be [candidates, prompts] over the {len(fold)} prompts of fold, got {a.shape}.")
    if np.isnan(a).any():
        raise ValueError("acc must have no NaN: restrict to prompts every candidate answered.")
    values = np.empty(a.shape[1])
    picks = {}
    for f in np.unique(fold):
        fit = fold != f
        if not fit.any():
            raise ValueError("cross-fitting needs at least two non-empty folds.")
        means = a[:, fit].mean(axis=1)
        pick = int(np.argmax(means) if maximise else np.argmin(means))
        values[fold == f] = a[pick, fold == f]
        picks[int(f)] = pick
    return values, picks
