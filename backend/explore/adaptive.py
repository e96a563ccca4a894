"""Data for Adaptive compute: compute-optimal allocation by difficulty vs a uniform budget at the same total
(oracle and predicted bins), the live adaptive strategy's runs, and the think / no-think routing front."""
from __future__ import annotations

import numpy as np
import pandas as pd

from backend.analysis import data
from backend.analysis.allocation import allocation_curve
from backend.analysis.curves import budget_curves, budget_grid
from backend.analysis.routing import mixture_at, routing_front
from backend.explore import store
from backend.explore.common import all_final_models, bins, final_models
from backend.explore.derived import memo, points


@memo
def allocation(model: str, bin_kind: str, perfect_verifier: bool = False, n_budgets: int = 10) -> pd.DataFrame:
    """Per budget: the best per-bin choice of the model's own deployable strategies vs its best uniform strategy,
    gain CI (in-sample, as in Snell et al.'s oracle-bin analysis). ``perfect_verifier`` admits upper bounds (oracle
    selection, the exact step checker): the curve is then an upper bound (its ``upper_bound`` column says so)."""
    pts = points()
    keep = (pts.meta["model"] == model) & ~pts.meta["strategy"].isin(["adaptive", "route"])
    sel = pts.rows(keep.to_numpy())
    b = bins(bin_kind, model)
    if b is None:
        raise ValueError("allocation needs difficulty bins: choose band, oracle or predicted")
    grid = budget_grid(sel if perfect_verifier else sel.deployable(), n_budgets)
    return allocation_curve(sel, b, grid, upper_bounds=perfect_verifier, n_boot=500)


@memo
def adaptive_runs(model: str) -> pd.DataFrame:
    """The adaptive strategy's own runs (adaptive vs uniform allocation at equal total samples), with CIs."""
    pts = points()
    m = pts.meta
    sel = pts.rows(((m["model"] == model) & (m["strategy"] == "adaptive")).to_numpy())
    return budget_curves(sel) if len(sel.meta) else pd.DataFrame()


@memo
def routing(direct: str, cot: str) -> dict:
    """Accuracy vs mean FLOPs per query as the direct model's confidence threshold sweeps (Pareto points), and the
    baseline a router must beat: the best mix of the two plain policies at each FLOPs level (a straight line)."""
    r = data.load_routing(store(), direct, cot)
    if r.empty:
        raise ValueError(f"no prompts with greedy answers from both {direct} and {cot}")
    conf = np.exp(r["confidence"].to_numpy())  # probability of the direct model's own greedy answer
    args = (r["direct_correct"], r["direct_flops"], r["cot_correct"], r["cot_flops"])
    front = routing_front(args[0], args[1], args[2], args[3], conf, n_boot=1000)
    grid = np.linspace(min(front["flops"].min(), r["direct_flops"].mean()), r["cot_flops"].mean(), 25)
    mix = pd.DataFrame([{"flops": float(f), "acc": float(mixture_at(float(f), *args)[0].mean()),
                         "share_cot": mixture_at(float(f), *args)[1]} for f in grid])
    return {"front": front, "mix": mix}


def route_pairs() -> list[tuple[str, str]]:
    """(direct, CoT) model pairs that both have greedy runs."""
    directs, cots = final_models("direct"), all_final_models("cot")
    return [(d, c) for d in directs for c in cots]
