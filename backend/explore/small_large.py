"""Data for Small vs large: who wins at matched FLOPs per difficulty bin, the exchange rate, and total compute
over a deployment's lifetime (pretraining + queries × inference)."""
from __future__ import annotations

import pandas as pd

from backend.analysis import data
from backend.analysis import frontier as F
from backend.explore import store
from backend.explore.common import bins
from backend.explore.derived import memo, points

METHODS = {"maj@k": "majority vote", "best-of-k": "best-of-N (learned verifier)"}


def _zoo_points(strategies: list[str] | None, models: list[str]):
    pts = points()
    keep = pts.meta["model"].isin(models)
    if strategies:
        keep &= pts.meta["strategy"].isin(strategies)
    keep &= ~pts.meta["verifier"].isin(["steps"])  # a perfect checker is not a deployable model
    return pts.rows(keep.to_numpy())


@memo
def winner_map(models: tuple[str, ...], strategies: tuple[str, ...], bin_kind: str, ref_model: str,
               n_budgets: int = 12) -> pd.DataFrame:
    """Best model and strategy per difficulty bin × per-query FLOPs budget, with the runner-up's margin CI."""
    pts = _zoo_points(list(strategies) or None, list(models))
    b = bins(bin_kind, ref_model)
    if b is None:
        b = pd.Series(pd.Categorical(["all"] * len(pts.prompt_keys)), index=pts.prompt_keys)
    budgets = F.budget_grid(pts.rows(~pts.meta["oracle"].to_numpy(dtype=bool)), n_budgets)
    return F.winner_map(pts, b, budgets, n_boot=500)


@memo
def exchange(small: str, large: str, method: str, bin_kind: str) -> pd.DataFrame:
    """How many samples of ``small`` match one greedy answer of ``large`` (or never), overall and per bin."""
    setting = None
    if method == "best-of-k":
        meta = points().meta
        s = meta[(meta["model"] == small) & (meta["strategy"] == "best-of-k") & (meta["verifier"] == "learned")]
        if s.empty:
            raise ValueError(f"{small} has no best-of-N points with the learned verifier")
        top = s.groupby("setting")["k"].max()
        setting = sorted(top.index[top == top.max()])[0]
    return F.exchange_table(points(), small, large, bins(bin_kind, small), method=method, setting=setting,
                            n_boot=1000)


def lifetime(small: str, large: str, queries: list[float], method: str = "maj@k") -> pd.DataFrame:
    """Total FLOPs (training + queries × per-query inference) of the large model's greedy answer and of the small
    model at its matched-accuracy budget, over query volumes (ValueError when the small model never matches)."""
    setting = exchange(small, large, method, "all").iloc[0]["setting"]
    return F.small_vs_large_lifetime(points(), data.model_table(store()), small, large, queries, method=method,
                                     setting=setting, n_boot=200)


def matched_ratio(small: str, large: str, inference_tokens: float) -> dict:
    """Snell et al. §7: the inference compute a model M× larger buys the small one over a lifetime."""
    from backend.analysis.compute import matched_inference_ratio

    models = data.model_table(store()).set_index("name")
    m = models.loc[large, "params"] / models.loc[small, "params"]
    d_pre = float(models.loc[small, "training_tokens"])
    return {"M": float(m), "ratio": matched_inference_ratio(m, d_pre, inference_tokens),
            "pretrain_tokens": d_pre, "inference_tokens": inference_tokens}
