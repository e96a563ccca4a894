"""Data for Small vs large: who wins at matched FLOPs per difficulty bin, the exchange rate, and total compute
over a deployment's lifetime (pretraining + queries × inference)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from backend.analysis import data, selection
from backend.analysis.curves import budget_grid, select_bin
from backend.analysis.curves import winner_map as _winner_map
from backend.analysis.exchange import exchange_rate, exchange_table, small_vs_large_lifetime
from backend.explore import store
from backend.explore.common import bins
from backend.explore.derived import memo, points

QUERY_GRID = list(np.logspace(0, 12, 49))  # lifetime query volumes: 1 to 10^12, four points a decade
METHODS = {"maj@k": ("maj@k", None), "best-of-k": ("best-of-k", "learned")}  # deployable ways to spend samples


@memo
def winner_map(models: tuple[str, ...], strategies: tuple[str, ...], bin_kind: str, ref_model: str,
               n_budgets: int = 12) -> pd.DataFrame:
    """Best model and deployable strategy per difficulty bin × per-query FLOPs budget, with the runner-up's margin
    CI (upper bounds never compete: backend.analysis.curves.winner_map)."""
    pts = points()
    keep = pts.meta["model"].isin(models)
    if strategies:
        keep &= pts.meta["strategy"].isin(strategies)
    pts = pts.rows(keep.to_numpy())
    b = bins(bin_kind, ref_model)
    if b is None:
        b = pd.Series(pd.Categorical(["all"] * len(pts.prompt_keys)), index=pts.prompt_keys)
    return _winner_map(pts, b, budget_grid(pts.deployable(), n_budgets), n_boot=500)


def winner_summary(wm: pd.DataFrame, models: list[str]) -> dict:
    """What the winner map says, for its caption: per bin, the winner at the smallest and the largest budget where
    something fits, and how many cells each model wins (a winner whose margin CI excludes 0 counts as clear)."""
    wm = wm.dropna(subset=["model"])
    per_bin = {}
    for b, g in wm.groupby("bin", sort=False, observed=True):
        g = g.sort_values("budget")
        per_bin[str(b)] = {"cheapest": g["model"].iloc[0], "dearest": g["model"].iloc[-1],
                           "dearest_strategy": g["strategy"].iloc[-1], "dearest_k": int(g["k"].iloc[-1])}
    clear = wm["margin_lo"].fillna(0) > 0
    return {"per_bin": per_bin, "cells": {m: int((wm["model"] == m).sum()) for m in models},
            "clear": {m: int(((wm["model"] == m) & clear).sum()) for m in models}, "n_cells": len(wm)}


def winner_grid(wm: pd.DataFrame, models: list[str], bin_order: list, describe=str) -> dict:
    """The winner map as heatmap matrices (rows = bins in ``bin_order``, columns = budgets): the winner's index in
    ``models`` (NaN where nothing fits), its "model / strategy k" label (``describe`` names a strategy for display)
    and its accuracy."""
    wm = wm.dropna(subset=["model"])
    wm = wm.assign(label=[f"{m}<br>{describe(s)} k={int(k)}" for m, s, k in zip(wm["model"], wm["strategy"], wm["k"])],
                   index=wm["model"].map({m: i for i, m in enumerate(models)}).astype(float))
    rows = [b for b in bin_order if b in set(wm["bin"])]

    def grid(col: str) -> pd.DataFrame:
        return wm.pivot_table(index="bin", columns="budget", values=col, aggfunc="first", observed=False).reindex(rows)

    index = grid("index")
    return {"bins": [str(b) for b in index.index], "budgets": list(index.columns), "model_index": index.to_numpy(),
            "label": grid("label").fillna("nothing fits").to_numpy(), "acc": grid("acc").to_numpy(),
            "table": wm.drop(columns=["label", "index"])}


def cheaper_at(life: pd.DataFrame, queries: float) -> str:
    """The deployment with the lower total FLOPs at the query volume nearest ``queries`` (log scale)."""
    near = life.iloc[(np.abs(np.log10(life["queries"]) - np.log10(queries))).argsort()[:2]]
    return str(near.sort_values("total_flops").iloc[0]["model"])


@memo
def exchange(small: str, large: str, method: str, bin_kind: str) -> pd.DataFrame:
    """How many samples of ``small`` (a deployable method of METHODS, main-temperature pool) match one greedy answer
    of ``large`` (or never), overall and per bin."""
    strategy, verifier = METHODS[method]
    return exchange_table(points(), small, large, bins(bin_kind, small), method=strategy, verifier=verifier,
                          temperature=selection.MAIN_TEMPERATURE, n_boot=1000)


def lifetime(small: str, large: str, queries: list[float], method: str = "maj@k") -> pd.DataFrame:
    """Total FLOPs (training + queries × per-query inference) of the large model's greedy answer and of the small
    model at its matched-accuracy budget, over query volumes (ValueError when the small model never matches)."""
    strategy, verifier = METHODS[method]
    return small_vs_large_lifetime(points(), data.model_table(store()), small, large, queries, method=strategy,
                                   verifier=verifier, temperature=selection.MAIN_TEMPERATURE, n_boot=200)


def matched_ratio(small: str, large: str, inference_tokens: float) -> dict:
    """Snell et al. §7: the inference compute a model M× larger buys the small one over a lifetime."""
    from backend.analysis.compute import matched_inference_ratio

    models = data.model_table(store()).set_index("name")
    m = models.loc[large, "params"] / models.loc[small, "params"]
    d_pre = float(models.loc[small, "training_tokens"])
    return {"M": float(m), "ratio": matched_inference_ratio(m, d_pre, inference_tokens),
            "pretrain_tokens": d_pre, "inference_tokens": inference_tokens}


@memo
def exchange_summary(small: str, large: str, bin_kind: str = "band") -> pd.DataFrame:
    """Per bin ("all" first): the large model's greedy accuracy, the small model's best deployable way to match it
    (the method of METHODS that matches with the fewest samples, else the one with the highest ceiling: its k or
    None, CI, ceiling, reason) and the upper bound: the fewest samples at which coverage (pass@k, an oracle picking)
    reaches it (None when even all samples do not)."""
    tables = []
    for method in METHODS:
        try:
            tables.append(exchange(small, large, method, bin_kind).assign(method=method))
        except ValueError:
            continue
    if not tables:
        raise ValueError(f"{small} has no deployable pool strategy to match {large} with")
    t = pd.concat(tables, ignore_index=True)
    t["_k"] = [np.inf if k is None or k != k else float(k) for k in t["k"]]
    best = t.sort_values(["_k", "ceiling"], ascending=[True, False]).drop_duplicates("bin")
    best = best.set_index("bin").reindex(pd.unique(t["bin"])).reset_index().drop(columns="_k")
    pts, b = points(), bins(bin_kind, small)
    cov_k = []
    for label, target in zip(best["bin"], best["target_acc"]):
        sub = select_bin(pts, b, None if label == "all" else label)
        cov = selection.series(sub.meta, small, "pass@k", temperature=selection.MAIN_TEMPERATURE)
        acc = np.nanmean(sub.acc[cov.index.to_numpy()], axis=1)
        hit = np.flatnonzero(acc >= target - 1e-12)
        cov_k.append(int(cov["k"].iloc[hit[0]]) if len(hit) else None)
    return best.assign(coverage_k=cov_k)


@memo
def matching_pairs(models: tuple[str, ...]) -> list[tuple[str, str]]:
    """(small, large) pairs of these models, smaller first, where some deployable method of METHODS matches the
    large one's greedy answer on all prompts (the point estimate: whether k exists needs no bootstrap)."""
    out = []
    for i, small in enumerate(models):
        for large in models[i + 1:]:
            for strategy, verifier in METHODS.values():
                try:
                    r = exchange_rate(points(), small, large, method=strategy, verifier=verifier,
                                      temperature=selection.MAIN_TEMPERATURE, n_boot=1)
                except ValueError:
                    continue
                if not r["never"]:
                    out.append((small, large))
                    break
    return out


def exchange_view(ex: pd.DataFrame, small: str, large: str, describe) -> pd.DataFrame:
    """exchange_summary as a table to read: words, formatted numbers, "never" with its reason, no empty cells."""
    from backend.explore import fmt

    def match(r) -> str:
        if fmt.missing(r["k"]):
            return "never"
        hi = "more than the pool holds" if fmt.missing(r["k_hi"]) else int(r["k_hi"])
        return f"{int(r['k'])} (95% CI {int(r['k_lo'])} to {hi})"

    def why(r) -> str:
        if r["reason"] == "reached":
            return f"{fmt.ratio(r['flops_ratio'])} the FLOPs of {large}"
        if r["reason"] == "plateau":
            return (f"selection: it stops at {fmt.pct(r['ceiling'])} although some sample is right on "
                    f"{fmt.pct(r['coverage'])}")
        return f"coverage: even all {int(r['max_k'])} samples hold a right answer on only {fmt.pct(r['coverage'])}"

    return pd.DataFrame({
        "prompts": [f"{b} ({int(n)})" for b, n in zip(ex["bin"], ex["n_prompts"])],
        f"{large}: one greedy answer": [fmt.pct(a) for a in ex["target_acc"]],
        f"{small}: best deployable strategy": [describe(*METHODS[m]) for m in ex["method"]],
        "samples to match": [match(r) for _, r in ex.iterrows()],
        "cost at the match, or why never": [why(r) for _, r in ex.iterrows()],
        "upper bound: samples for coverage to match": ["never" if fmt.missing(k) else str(int(k))
                                                        for k in ex["coverage_k"]],
    })


def winner_table(wm: pd.DataFrame, describe) -> pd.DataFrame:
    """The winner map's cells as a table to read (budgets formatted, margins in points, "—" where there is no
    runner-up)."""
    from backend.explore import fmt

    return pd.DataFrame({
        "bin": wm["bin"].astype(str), "budget (FLOPs per prompt)": [fmt.flops(b) for b in wm["budget"]],
        "winner": wm["model"], "strategy": [describe(s, v if isinstance(v, str) else "")
                                            for s, v in zip(wm["strategy"], wm["verifier"])],
        "k": [str(int(k)) for k in wm["k"]], "accuracy (95% CI)": [f"{fmt.pct(a)} ({fmt.pct(lo)} to {fmt.pct(hi)})"
                                                                   for a, lo, hi in zip(wm["acc"], wm["lo"], wm["hi"])],
        "runner-up": [m if isinstance(m, str) else fmt.MISSING for m in wm["runner_up_model"]],
        "margin": [fmt.ci_points(m, lo, hi) for m, lo, hi in zip(wm["margin"], wm["margin_lo"], wm["margin_hi"])]})
