"""Data for Reasoning vs not: CoT against direct-answer models at every sample count (the ceiling no k lifts), and
iso-accuracy over training FLOPs × inference FLOPs from the zoo's training checkpoints."""
from __future__ import annotations

import numpy as np
import pandas as pd

from backend.analysis import data, selection
from backend.analysis.curves import budget_curves
from backend.explore import store
from backend.explore.common import all_final_models, bins, final_models, zoo_models
from backend.explore.derived import memo, points


def _main_pool_points(meta: pd.DataFrame) -> pd.Series:
    return np.isclose(meta["temperature"], selection.MAIN_TEMPERATURE)


@memo
def ceiling(models: tuple[str, ...], bin_kind: str = "all", bin_label=None) -> pd.DataFrame:
    """pass@k (coverage: an upper bound) and maj@k (deployable) curves of main-temperature pools for CoT and direct
    models, with CIs."""
    pts = points()
    m = pts.meta
    keep = m["model"].isin(models) & m["strategy"].isin(["pass@k", "maj@k"]) & _main_pool_points(m)
    sel = pts.rows(keep.to_numpy())
    if sel.meta.empty:
        return pd.DataFrame()
    b = bins(bin_kind, models[0])
    return budget_curves(sel, b, bin_label if b is not None else None)


def reasoning_models() -> list[str]:
    """Final CoT and direct-answer models (selection.final_models), smallest first."""
    return final_models(None)


@memo
def iso_grid(family: str, strategy: str = "maj@k") -> pd.DataFrame:
    """Accuracy of a CoT family's members (a final model and its training checkpoints: training FLOPs) at every
    inference budget of their main-temperature pools: long format (model, training_flops, inference_flops, k, acc)
    for a contour plot, on the sample counts every member's pool reaches."""
    have = set(zoo_models()["name"])
    members = selection.family_members(data.model_table(store()), family)
    members = members[members["name"].isin(have)]
    pts = points()
    m = pts.meta
    per = {name: m[(m["model"] == name) & (m["strategy"] == strategy) & _main_pool_points(m)]
           for name in members["name"]}
    shared = min((int(s["k"].max()) for s in per.values() if len(s)), default=0)
    rows = []
    for name, train in zip(members["name"], members["training_flops"]):
        sel = per[name]
        for i, k in zip(sel.index, sel["k"]):
            if k <= shared:  # compare every member on the same sample counts
                rows.append({"model": name, "training_flops": float(train), "k": int(k),
                             "inference_flops": float(np.nanmean(pts.flops[i])),
                             "acc": float(np.nanmean(pts.acc[i]))})
    return pd.DataFrame(rows)


def families() -> list[str]:
    """Final CoT models with at least one training checkpoint in the cache (a training-compute axis)."""
    t = zoo_models()
    have = set(t["name"])
    return [f for f in all_final_models("cot") if len(selection.family_members(t, f)["name"].isin(have)) >= 2]


def iso_matrix(grid: pd.DataFrame) -> dict:
    """iso_grid as a regular grid: members (least trained first) × sample counts k (powers of two every member has),
    with accuracy and inference FLOPs per cell, and each member's training FLOPs; for a heatmap and contour lines."""
    g = grid[grid["k"].isin([k for k in sorted(set(grid["k"])) if k & (k - 1) == 0])]
    acc = g.pivot_table(index="training_flops", columns="k", values="acc").dropna(axis=1)
    fl = g.pivot_table(index="training_flops", columns="k", values="inference_flops").reindex_like(acc)
    names = g.drop_duplicates("training_flops").set_index("training_flops")["model"]
    return {"ks": [int(k) for k in acc.columns], "members": [names[t] for t in acc.index],
            "training_flops": [float(t) for t in acc.index], "acc": acc.to_numpy().tolist(),
            "inference_flops": fl.to_numpy().tolist()}
