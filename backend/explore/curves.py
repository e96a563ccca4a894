"""Data for Budget curves and the Home headline: accuracy vs budget (samples, generated tokens or FLOPs per prompt)
with 95% bootstrap CIs over prompts, per model × strategy, optionally within a difficulty bin."""
from __future__ import annotations

import pandas as pd

from backend.analysis import frontier as F
from backend.explore.common import STRATEGY_LABELS, bins, final_models
from backend.explore.derived import points

UNITS = {"samples": "samples", "tokens": "tokens", "flops": "flops"}


def curves(models: list[str], strategies: list[str], bin_kind: str = "all", bin_label=None,
           ref_model: str | None = None, verifier: str | None = "learned") -> pd.DataFrame:
    """Tidy budget points with CI: one row per (model, strategy, setting, k); a ``series`` column names each line.

    Verifier-selected pool strategies (best-of-N, weighted) are kept for ``verifier`` only, so lines do not double."""
    if not models or not strategies:
        return pd.DataFrame()
    pts = points()
    meta = pts.meta
    keep = meta["model"].isin(models) & meta["strategy"].isin(strategies)
    if verifier:
        pool_sel = meta["strategy"].isin(["best-of-k", "weighted-maj@k"])
        keep &= ~pool_sel | (meta["verifier"] == verifier)
    sel = pts.rows(keep.to_numpy())
    if sel.meta.empty:
        return pd.DataFrame()
    b = bins(bin_kind, ref_model or models[0])
    out = F.budget_curves(sel, b, bin_label if b is not None else None)
    out["series"] = [series_name(r) for r in out.itertuples()]
    return out


def series_name(r) -> str:
    """A line's legend label: model · strategy · the settings that distinguish it."""
    setting = str(r.setting or "")
    for drop in ("verifier=learned", "width=4"):
        setting = setting.replace(drop, "")
    setting = ", ".join(x.strip() for x in setting.split(",") if x.strip())
    label = STRATEGY_LABELS.get(r.strategy, r.strategy)
    return f"{r.model} · {label}" + (f" ({setting})" if setting else "")


def headline() -> dict:
    """Home's chart: the smallest CoT model's majority vote and best-of-N against every larger CoT model's greedy
    answer, in FLOPs per prompt — and the exchange rate to the next size up."""
    finals = final_models("cot")
    if len(finals) < 2:
        return {"curves": pd.DataFrame(), "greedy": pd.DataFrame(), "exchange": None, "small": None, "large": None}
    small, large = finals[0], finals[1]
    pts = points()
    c = curves([small], ["maj@k", "best-of-k"])
    c = c[c["setting"].str.startswith("T=0.8")]
    g = curves(finals, ["greedy"])
    try:
        ex = F.exchange_rate(pts, small, large, method="maj@k")
    except ValueError:
        ex = None
    return {"curves": c, "greedy": g, "exchange": ex, "small": small, "large": large}
