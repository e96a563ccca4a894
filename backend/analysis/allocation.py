"""Compute-optimal allocation by difficulty (Snell et al. 2024): per difficulty bin the point that maximises total
accuracy under a mean per-query FLOPs budget (an exact multiple-choice knapsack), against the best UNIFORM point.
Candidates are deployable points unless ``upper_bounds`` admits the rest (the result is then an upper bound too).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from backend.analysis import estimators as E
from backend.analysis.crossfit import folds as make_folds
from backend.analysis.curves import TOL, bin_labels, budget_grid, check_budget
from backend.analysis.points import Points

__all__ = ["allocate", "crossfit_allocation", "allocation_curve"]

_CHOICE = ["model", "strategy", "temperature", "verifier", "k", "width", "mode"]


def _bin_table(points: Points, bins: pd.Series, upper_bounds: bool):
    """Candidate points and, per bin, prompt counts and mean acc / flops of every candidate on common prompts."""
    if not isinstance(bins, pd.Series):
        raise ValueError("bins must be a pandas Series indexed by prompt_key (from backend.analysis.difficulty).")
    pts = points if upper_bounds else points.deployable()
    if len(pts.meta) == 0:
        raise ValueError("no candidate points to allocate between.")
    labels = bins.reindex(pts.prompt_keys)
    keep = labels.notna().to_numpy() & np.all(~np.isnan(pts.acc), axis=0)
    if not keep.any():
        raise ValueError("no prompt is binned and answered by every candidate point; narrow the candidates.")
    pts = pts.columns(pts.prompt_keys[keep])
    lab = labels.to_numpy()[keep]
    names = [b for b in bin_labels(bins) if np.any(lab == b)]
    members = [np.flatnonzero(lab == b) for b in names]
    acc = np.stack([pts.acc[:, m].mean(axis=1) for m in members])  # [bins, points]
    flops = np.stack([pts.flops[:, m].mean(axis=1) for m in members])
    return pts, names, members, acc, flops


def _knapsack(acc: np.ndarray, flops: np.ndarray, sizes: np.ndarray, capacity: float) -> list[int] | None:
    """Exact multiple-choice knapsack: one option per bin maximising Σ size·acc under Σ size·flops ≤ capacity,
    by merging Pareto fronts bin by bin (ties: cheaper). None when even the cheapest options do not fit."""
    cost, value, trail = np.zeros(1), np.zeros(1), [np.zeros((1, 0), dtype=int)]
    for b in range(len(sizes)):
        c = (cost[:, None] + sizes[b] * flops[b][None, :]).ravel()
        v = (value[:, None] + sizes[b] * acc[b][None, :]).ravel()
        parent = np.repeat(np.arange(len(cost)), flops.shape[1])
        choice = np.tile(np.arange(flops.shape[1]), len(cost))
        ok = c <= capacity * (1 + TOL)
        if not ok.any():
            return None
        c, v, parent, choice = c[ok], v[ok], parent[ok], choice[ok]
        order = np.lexsort((-v, c))
        c, v, parent, choice = c[order], v[order], parent[order], choice[order]
        front = v > np.maximum.accumulate(np.r_[-np.inf, v[:-1]])  # strictly better than everything cheaper
        cost, value = c[front], v[front]
        trail = [np.c_[trail[-1][parent[front]], choice[front]]]
    return list(trail[-1][int(np.argmax(value))])


def _fit(acc, flops, sizes, budget) -> tuple[list[int], int] | None:
    """(per-bin choice, uniform choice) under the budget, or None when nothing fits."""
    total = sizes.sum()
    pick = _knapsack(acc, flops, sizes, budget * total)
    u_cost, u_acc = (sizes @ flops) / total, (sizes @ acc) / total
    fits = np.flatnonzero(u_cost <= budget * (1 + TOL))
    if pick is None or len(fits) == 0:
        return None
    return pick, int(fits[np.lexsort((u_cost[fits], -u_acc[fits]))[0]])


def allocate(points: Points, bins: pd.Series, budget: float, *, upper_bounds: bool = False, n_boot: int = 2000,
             seed: int = 0, level: float = 0.95) -> dict:
    """Compute-optimal allocation: per difficulty bin, the point (model / strategy / run parameters / k) that
    maximises total accuracy with mean per-query FLOPs ≤ budget, against the best UNIFORM point (the same for every
    prompt) under the same budget, with a paired bootstrap CI on the gain and a bootstrap CI on each accuracy.

    The uniform choice is itself a feasible allocation, so the gain is ≥ 0 on these prompts; both are chosen and
    scored on the same prompts (in-sample, as in Snell et al.'s oracle-bin analysis): crossfit_allocation scores them
    out of sample. Prompts: binned and answered by every candidate point. ValueError when nothing fits the budget.
    """
    budget = check_budget(budget)
    pts, names, members, acc, flops = _bin_table(points, bins, upper_bounds)
    sizes = np.array([len(m) for m in members], dtype=float)
    fit = _fit(acc, flops, sizes, budget)
    if fit is None:
        cheapest = ((sizes @ flops) / sizes.sum()).min()
        raise ValueError(f"no allocation fits {budget:.3g} FLOPs per query; the cheapest point costs {cheapest:.3g}.")
    pick, u = fit
    alloc_i = np.empty(len(pts.prompt_keys))
    alloc_f = np.empty(len(pts.prompt_keys))
    for b, m in enumerate(members):
        alloc_i[m] = pts.acc[pick[b], m]
        alloc_f[m] = pts.flops[pick[b], m]
    # one resampling of prompts for all three: each accuracy and their paired difference
    (_, _, d), (a_lo, u_lo, lo), (a_hi, u_hi, hi) = E.bootstrap_curve_ci(
        np.stack([alloc_i, pts.acc[u], alloc_i - pts.acc[u]]), n_boot=n_boot, seed=seed, level=level)
    meta = pts.meta
    per_bin = pd.DataFrame({"bin": names, "n_prompts": sizes.astype(int),
                            **{c: [meta[c].iloc[pick[b]] for b in range(len(names))] for c in _CHOICE},
                            "flops": [flops[b, pick[b]] for b in range(len(names))],
                            "acc": [acc[b, pick[b]] for b in range(len(names))]})
    uni = meta.iloc[u]
    return {"budget": budget, "upper_bound": bool(upper_bounds and not pts.meta["deployable"].all()),
            "alloc_acc": float(alloc_i.mean()), "alloc_lo": float(a_lo), "alloc_hi": float(a_hi),
            "alloc_flops": float(alloc_f.mean()), "uniform_acc": float(pts.acc[u].mean()), "uniform_lo": float(u_lo),
            "uniform_hi": float(u_hi), "uniform_flops": float(pts.flops[u].mean()),
            **{f"uniform_{c}": uni[c] for c in _CHOICE}, "gain": float(d), "gain_lo": float(lo), "gain_hi": float(hi),
            "n_prompts": int(sizes.sum()), "per_bin": per_bin}


def crossfit_allocation(points: Points, bins: pd.Series, budget: float, *, n_folds: int = 2,
                        upper_bounds: bool = False, n_boot: int = 2000, seed: int = 0, level: float = 0.95) -> dict:
    """allocate()'s gain over uniform scored out of sample: prompts are split into folds (stratified by bin, seeded);
    the allocation and the uniform point are chosen on the other folds and scored on each fold, so the in-sample
    optimism of picking per-bin winners is removed and the gain can come out negative. Paired bootstrap CI."""
    budget = check_budget(budget)
    pts, names, members, _, _ = _bin_table(points, bins, upper_bounds)
    label = np.empty(len(pts.prompt_keys), dtype=object)
    for b, m in zip(names, members):
        label[m] = b
    fold = make_folds(len(label), label, k=n_folds, seed=seed)
    alloc_i, uni_i = np.empty(len(label)), np.empty(len(label))
    alloc_f, uni_f = np.empty(len(label)), np.empty(len(label))
    for f in range(n_folds):
        train, test = fold != f, np.flatnonzero(fold == f)
        tb = [b for b in names if np.any(label[train] == b)]
        acc = np.stack([pts.acc[:, train & (label == b)].mean(axis=1) for b in tb])
        flops = np.stack([pts.flops[:, train & (label == b)].mean(axis=1) for b in tb])
        sizes = np.array([np.sum(train & (label == b)) for b in tb], dtype=float)
        fit = _fit(acc, flops, sizes, budget)
        if fit is None:
            raise ValueError(f"no allocation fits {budget:.3g} FLOPs per query on a training fold.")
        pick, u = fit
        choice = dict(zip(tb, pick))
        rows = np.array([choice.get(b, u) for b in label[test]])  # a bin unseen in training gets the uniform point
        alloc_i[test], alloc_f[test] = pts.acc[rows, test], pts.flops[rows, test]
        uni_i[test], uni_f[test] = pts.acc[u, test], pts.flops[u, test]
    d, lo, hi = E.paired_bootstrap_ci(alloc_i, uni_i, n_boot=n_boot, seed=seed, level=level)
    return {"budget": budget, "folds": n_folds, "alloc_acc": float(alloc_i.mean()), "alloc_flops": float(alloc_f.mean()),
            "uniform_acc": float(uni_i.mean()), "uniform_flops": float(uni_f.mean()), "gain": d, "gain_lo": lo,
            "gain_hi": hi, "n_prompts": len(label), "alloc": alloc_i, "uniform": uni_i, "bins": label}


def allocation_curve(points: Points, bins: pd.Series, budgets: Sequence[float] | None = None, *,
                     upper_bounds: bool = False, n_boot: int = 2000, seed: int = 0,
                     level: float = 0.95) -> pd.DataFrame:
    """allocate() over a budget grid (default: budget_grid of the candidates), one row per affordable budget; the
    per-bin choice is kept as typed columns in ``per_bin`` rows (bin, model, strategy, temperature, verifier, k)."""
    pts = points if upper_bounds else points.deployable()
    budgets = budget_grid(pts) if budgets is None else [check_budget(b) for b in budgets]
    rows = []
    for b in budgets:
        try:
            r = allocate(pts, bins, float(b), upper_bounds=True, n_boot=n_boot, seed=seed, level=level)
        except ValueError as e:
            if "no allocation fits" in str(e):
                continue
            raise
        r["upper_bound"] = bool(upper_bounds and not pts.meta["deployable"].all())
        rows.append(r)
    return pd.DataFrame(rows)
