"""Accuracy at matched compute from budget points: budget curves with CIs, the best point within a FLOPs budget
(frontier), the budget grid and the winner map. Accuracies are prompt means; 95% CIs are percentile bootstraps over
prompts (paired where two things are compared). Comparisons rank deployable points only: an upper bound (oracle
selection, a gold-reading verifier) is a reference line, never a winner.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from backend.analysis import estimators as E
from backend.analysis.difficulty import check_bin
from backend.analysis.points import Points

__all__ = ["CURVE_COLUMNS", "select_bin", "summarise", "budget_curves", "frontier", "budget_grid", "winner_map",
           "check_budget", "bin_labels"]

TOL = 1e-9  # relative slack when comparing FLOPs with a budget
CURVE_COLUMNS = ["model", "strategy", "temperature", "verifier", "k", "deployable", "width", "mode", "allocation",
                 "direct", "threshold", "samples", "tokens", "flops", "acc", "lo", "hi", "n_prompts", "mc_se", "row"]


def bin_labels(bins: pd.Series) -> list:
    """The bins' labels in order (categories of an ordered categorical, else sorted)."""
    return list(bins.cat.categories) if isinstance(bins.dtype, pd.CategoricalDtype) else sorted(bins.unique())


def select_bin(points: Points, bins: pd.Series | None, bin) -> Points:
    """The points restricted to the prompts of one difficulty bin (all prompts when bin is None)."""
    if bin is None:
        return points
    if bins is None:
        raise ValueError("a bin was given without bins; pass bins from backend.analysis.difficulty.")
    keys = np.intersect1d(check_bin(bins, bin).astype(object), points.prompt_keys)
    if len(keys) == 0:
        raise ValueError(f"bin {bin!r} holds none of these points' prompts.")
    return points.columns(keys)


def summarise(points: Points, n_boot: int = 2000, seed: int = 0, level: float = 0.95, *, only=None,
              ci: bool = True) -> pd.DataFrame:
    """Meta plus prompt means of samples, tokens, flops and acc, its bootstrap CI, n_prompts and ``row`` (the point's
    position in ``points``), one row per point measured on at least one prompt; ``only`` (bool per point) keeps
    some points (e.g. the deployable ones) without renumbering rows; ``ci=False`` leaves lo / hi NaN (for a caller
    that only ranks points: the bootstrap is most of the cost)."""
    if only is not None:
        mask = np.asarray(only, dtype=bool)
        s = summarise(points.rows(mask), n_boot, seed, level, ci=ci)
        s["row"] = np.flatnonzero(mask)[s["row"].to_numpy(dtype=int)]
        return s
    ok = ~np.isnan(points.acc)
    cnt = ok.sum(axis=1)
    out = points.meta.copy()
    with np.errstate(invalid="ignore", divide="ignore"):
        for name in ("samples", "tokens", "flops", "acc"):
            out[name] = np.where(ok, getattr(points, name), 0.0).sum(axis=1) / cnt
    out["lo"], out["hi"] = np.nan, np.nan
    if len(out) and ci:
        masks, inv = np.unique(ok, axis=0, return_inverse=True)
        inv = np.asarray(inv).ravel()
        for g, mask in enumerate(masks):
            rows = np.flatnonzero(inv == g)
            if mask.any():
                _, lo, hi = E.bootstrap_curve_ci(points.acc[np.ix_(rows, mask)], n_boot=n_boot, seed=seed, level=level)
                out.loc[rows, "lo"], out.loc[rows, "hi"] = lo, hi
    out["n_prompts"] = cnt
    out["row"] = np.arange(len(out))
    return out[cnt > 0].reset_index(drop=True)


def budget_curves(points: Points, bins: pd.Series | None = None, bin=None, *, n_boot: int = 2000, seed: int = 0,
                  level: float = 0.95) -> pd.DataFrame:
    """Accuracy vs budget, one row per point: samples, generated tokens and FLOPs per query (prompt means), acc with
    its bootstrap CI over prompts, n_prompts and whether the point is deployable (else an upper bound to draw as a
    reference); optionally restricted to one difficulty bin."""
    s = summarise(select_bin(points, bins, bin), n_boot, seed, level)[CURVE_COLUMNS]
    return s.sort_values(["model", "strategy", "temperature", "verifier", "k"]).reset_index(drop=True)


def rank(s: pd.DataFrame) -> pd.DataFrame:
    """Summary rows best first (ties: fewer FLOPs, then a fixed order)."""
    return s.sort_values(["acc", "flops", "model", "strategy", "row"], ascending=[False, True, True, True, True])


def best_within(s: pd.DataFrame, budget: float, ranked: bool = False) -> pd.DataFrame:
    """Summary rows within a per-query FLOPs budget, best first (``ranked``: ``s`` is already in rank order)."""
    fit = s[s["flops"] <= budget * (1 + TOL)]
    return fit if ranked else rank(fit)


def check_budget(budget) -> float:
    if isinstance(budget, bool) or not isinstance(budget, (int, float, np.number)) or not budget > 0 \
            or not np.isfinite(budget):
        raise ValueError(f"the per-query FLOPs budget must be a positive number, got {budget!r}.")
    return float(budget)


def frontier(points: Points, budget: float, bins: pd.Series | None = None, bin=None, *, upper_bounds: bool = False,
             n_boot: int = 2000, seed: int = 0, level: float = 0.95) -> pd.DataFrame:
    """Per model × strategy, the best accuracy any of its points reaches within a per-query FLOPs budget, and which
    point gets it (ties: fewer FLOPs). Deployable points only unless upper_bounds (then each row says which it is).
    Models or strategies with nothing affordable are left out. The best point is picked on the prompts it is scored
    on: for a verdict, pick it cross-fitted (backend.analysis.crossfit)."""
    budget = check_budget(budget)
    pts = select_bin(points, bins, bin)
    s = summarise(pts, n_boot, seed, level, only=None if upper_bounds else pts.meta["deployable"])
    best = best_within(s, budget).groupby(["model", "strategy"], sort=False).head(1)
    out = best[CURVE_COLUMNS].sort_values(["model", "strategy"]).reset_index(drop=True)
    out.insert(0, "budget", budget)
    return out


def budget_grid(points: Points, n: int = 10) -> np.ndarray:
    """n per-query FLOPs budgets, log-spaced from the cheapest to the dearest point (mean over all prompts)."""
    f = np.nanmean(np.where(np.isnan(points.acc), np.nan, points.flops), axis=1) if len(points.meta) else []
    f = np.asarray(f)[np.asarray(f) > 0]
    if len(f) == 0:
        raise ValueError("no point has a positive FLOPs cost, so there is no budget axis.")
    return np.geomspace(f.min(), f.max(), n) if f.max() > f.min() else np.array([f.min()])


WINNER_COLUMNS = ["bin", "budget", "model", "strategy", "temperature", "verifier", "k", "width", "mode", "samples",
                  "tokens", "flops", "acc", "lo", "hi", "n_prompts", "runner_up_model", "runner_up_strategy",
                  "runner_up_acc", "margin", "margin_lo", "margin_hi"]


def winner_map(points: Points, bins: pd.Series, budgets: Sequence[float] | None = None, *, n_boot: int = 2000,
               seed: int = 0, level: float = 0.95) -> pd.DataFrame:
    """For every difficulty bin × per-query FLOPs budget: the best DEPLOYABLE model and strategy (acc, CI), the best
    point of any OTHER model (runner-up) and the paired bootstrap CI of the winner's margin over it. No point fits →
    model NaN. Upper bounds (oracle selection, gold-reading verifiers) never compete."""
    if not isinstance(bins, pd.Series):
        raise ValueError("bins must be a pandas Series indexed by prompt_key (from backend.analysis.difficulty).")
    budgets = budget_grid(points.deployable()) if budgets is None else np.asarray([check_budget(b) for b in budgets])
    rows = []
    for label in bin_labels(bins):
        keys = np.intersect1d(check_bin(bins, label).astype(object), points.prompt_keys)
        if len(keys) == 0:
            continue
        sub = points.columns(keys)
        s = rank(summarise(sub, n_boot, seed, level, only=sub.meta["deployable"]))
        margins: dict[bytes, list] = {}  # prompts both answered -> [(row, winner − runner-up per prompt)]
        for b in budgets:
            best = best_within(s, b, ranked=True)
            row = {"bin": label, "budget": float(b)}
            if best.empty:
                rows.append({**row, "model": None, "n_prompts": len(keys)})
                continue
            w = best.iloc[0]
            row.update({c: w[c] for c in WINNER_COLUMNS[2:16]})
            other = best[best["model"] != w["model"]]
            if not other.empty:
                r = other.iloc[0]
                a, c = sub.acc[int(w["row"])], sub.acc[int(r["row"])]
                both = ~np.isnan(a) & ~np.isnan(c)
                margins.setdefault(both.tobytes(), []).append((row, (a - c)[both]))
                row.update(runner_up_model=r["model"], runner_up_strategy=r["strategy"], runner_up_acc=r["acc"])
            rows.append(row)
        for group in margins.values():  # one paired bootstrap per prompt set: the same draws as one call per margin
            d, dlo, dhi = E.bootstrap_curve_ci(np.stack([v for _, v in group]), n_boot=n_boot, seed=seed, level=level)
            for (row, _), *m in zip(group, d, dlo, dhi):
                row.update(margin=float(m[0]), margin_lo=float(m[1]), margin_hi=float(m[2]))
    return pd.DataFrame(rows, columns=WINNER_COLUMNS)
