"""Data for Reasoning vs not: CoT against direct-answer models at every sample count (the ceiling no k lifts), and
iso-accuracy over training FLOPs × inference FLOPs from the zoo's training checkpoints."""
from __future__ import annotations

import numpy as np
import pandas as pd

from backend.analysis import data
from backend.explore import store
from backend.explore.common import bins, zoo_models
from backend.explore.derived import memo, points
from backend.analysis import frontier as F


@memo
def ceiling(models: tuple[str, ...], bin_kind: str = "all", bin_label=None) -> pd.DataFrame:
    """pass@k and maj@k curves (main temperature pools) for CoT and direct models, with CIs."""
    pts = points()
    m = pts.meta
    keep = m["model"].isin(models) & m["strategy"].isin(["pass@k", "maj@k"]) & m["setting"].eq("T=0.8")
    sel = pts.rows(keep.to_numpy())
    if sel.meta.empty:
        return pd.DataFrame()
    b = bins(bin_kind, models[0])
    return F.budget_curves(sel, b, bin_label if b is not None else None)


@memo
def iso_grid(family: str, strategy: str = "maj@k") -> pd.DataFrame:
    """Accuracy of a CoT family's checkpoints (training FLOPs) at every inference budget of their pools: long format
    (training_flops, inference_flops, k, acc) for a contour plot; checkpoints share the n=32 pool size."""
    cards = data.model_table(store())
    members = cards[(cards["family"] == family) & cards["name"].isin(zoo_models()["name"])]
    pts = points()
    m = pts.meta
    rows = []
    for name, train in zip(members["name"], members["training_flops"]):
        sel = m[(m["model"] == name) & (m["strategy"] == strategy) & (m["setting"] == "T=0.8")]
        for i, k in zip(sel.index, sel["k"]):
            if k > 32:
                continue  # compare every checkpoint on the same sample counts
            rows.append({"model": name, "training_flops": float(train), "k": int(k),
                         "inference_flops": float(np.nanmean(pts.flops[i])), "acc": float(np.nanmean(pts.acc[i]))})
    return pd.DataFrame(rows)


def families() -> list[str]:
    """CoT families with at least two training checkpoints in the cache."""
    t = zoo_models()
    t = t[t["fmt"] == "cot"]
    counts = t.groupby("family").size()
    return [f for f in counts.index if counts[f] >= 2]
