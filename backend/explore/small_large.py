"""Data for Small vs large: who wins at matched FLOPs per difficulty bin, the exchange rate, and total compute
over a deployment's lifetime (pretraining + queries × inference)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from backend.analysis import data, selection
from backend.analysis.curves import budget_grid
from backend.analysis.curves import winner_map as _winner_map
from backend.analysis.exchange import exchange_table, small_vs_large_lifetime
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


def winner_grid(wm: pd.DataFrame, models: list[str], bin_order: list) -> dict:
    """The winner map as heatmap matrices (rows = bins in ``bin_order``, columns = budgets): the winner's index in
    ``models`` (NaN where nothing fits), its "model / strategy k" label and its accuracy."""
    wm = wm.dropna(subset=["model"])
    wm = wm.assign(label=[f"{m}<br>{s}<br>k={int(k)}" for m, s, k in zip(wm["model"], wm["strategy"], wm["k"])],
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
