"""Data for Adaptive compute: compute-optimal allocation by difficulty vs a uniform budget at the same total
(oracle and predicted bins), the live adaptive strategy's runs, and the think / no-think routing front."""
from __future__ import annotations

import numpy as np
import pandas as pd

from backend.analysis import data
from backend.analysis import frontier as F
from backend.explore import store
from backend.explore.common import bins, final_models
from backend.explore.derived import memo, points


@memo
def allocation(model: str, bin_kind: str, perfect_verifier: bool = False, n_budgets: int = 10) -> pd.DataFrame:
    """Per budget: the best per-bin choice of the model's own strategies vs its best uniform strategy, gain CI.
    ``perfect_verifier`` admits strategies driven by the exact step checker (an upper bound, not deployable)."""
    pts = points()
    keep = (pts.meta["model"] == model) & ~pts.meta["oracle"].to_numpy(dtype=bool) \
        & ~pts.meta["strategy"].isin(["adaptive"])
    if not perfect_verifier:
        keep &= ~pts.meta["verifier"].isin(["steps"])
    sel = pts.rows(keep.to_numpy())
    b = bins(bin_kind, model)
    if b is None:
        raise ValueError("allocation needs difficulty bins: choose band, oracle or predicted")
    return F.allocation_curve(sel, b, F.budget_grid(sel, n_budgets), n_boot=500)


@memo
def adaptive_runs(model: str) -> pd.DataFrame:
    """The adaptive strategy's own runs (adaptive vs uniform allocation at equal total samples), with CIs."""
    pts = points()
    m = pts.meta
    sel = pts.rows(((m["model"] == model) & (m["strategy"] == "adaptive")).to_numpy())
    if sel.meta.empty:
        return pd.DataFrame()
    out = F.budget_curves(sel)
    out["allocation"] = ["uniform" if "allocation=uniform" in s else "adaptive" for s in out["setting"]]
    return out


@memo
def routing(direct: str, cot: str) -> pd.DataFrame:
    """Accuracy vs mean FLOPs per query as the direct model's confidence threshold sweeps (Pareto points)."""
    r = data.load_routing(store(), direct, cot)
    if r.empty:
        raise ValueError(f"no prompts with greedy answers from both {direct} and {cot}")
    conf = np.exp(r["confidence"].to_numpy())  # probability of the direct model's own greedy answer
    return F.routing_front(r["direct_correct"], r["direct_flops"], r["cot_correct"], r["cot_flops"], conf, n_boot=1000)


def route_pairs() -> list[tuple[str, str]]:
    """(direct, CoT) model pairs that both have greedy runs."""
    directs, cots = final_models("direct"), final_models("cot")
    return [(d, c) for d in directs for c in cots]
